/**
 * `chat connect` driven by programs: `--json` (every stdout line a JSON
 * object that follows the schema, commands as JSON or typed lines, file
 * offers answered with commands), the README's bot example, and a script's
 * text output (in the order of its commands, errors on stderr, exit status).
 * A real server, real `chat connect` processes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { schemaProblem } from "../../src/client/json_output.ts";
import {
  startTestServer,
  testKeys,
  type TestServer,
} from "../_helpers/chat.ts";
import {
  ChatProcess,
  hasPty,
  listeningPort,
  mainArgs,
  makeKeys,
  onPty,
  serveProcess,
  shellQuote,
} from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

interface Room {
  dir: string;
  server: TestServer;
  pub: string;
  connect(user: string, ...extra: string[]): ChatProcess;
  [Symbol.asyncDispose](): Promise<void>;
}

async function room(): Promise<Room> {
  const dir = await Deno.makeTempDir({ prefix: "chat-scripting-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const server = await startTestServer();
  const processes: ChatProcess[] = [];
  return {
    dir,
    server,
    pub,
    connect(user, ...extra) {
      const chat = new ChatProcess(
        [
          "connect",
          `127.0.0.1:${server.port}`,
          "--pub",
          pub,
          "--user",
          user,
          "--downloads",
          join(dir, `${user}-downloads`),
          "--no-open",
          ...extra,
        ],
        { env: { XDG_CONFIG_HOME: join(dir, `${user}-config`) } },
      );
      processes.push(chat);
      return chat;
    },
    async [Symbol.asyncDispose]() {
      for (const chat of processes) chat.kill("SIGKILL");
      await Promise.all(processes.map((chat) => chat.finish()));
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Every stdout line, parsed; fails on a line that is not a schema-valid event. */
function events(chat: ChatProcess): Record<string, unknown>[] {
  return chat.stdout.split("\n").filter((line) => line !== "").map((line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      assert.fail(`not JSON: ${line}\nstdout:\n${chat.stdout}`);
    }
    assert.equal(schemaProblem(value), null, line);
    return value as Record<string, unknown>;
  });
}

Deno.test("chat connect --json: only schema-valid JSON lines, messages with kind, group, time and id, replies tagged re in command order, exit 1 after a failed command", async () => {
  await using r = await room();
  await Deno.writeTextFile(join(r.dir, "a.txt"), "abc");
  const bot = r.connect("bot", "--json");
  await bot.write('{"cmd":"create","group":"haha","id":"c"}\n');
  await bot.waitFor(/"type":"ok","re":"c"/);
  const jojo = r.connect("jojo", "--accept-files", "all");
  await jojo.waitFor(/SUCCESS: Username registered\./);
  await bot.waitFor(/"type":"presence","name":"jojo","online":true/);
  await jojo.write("/join haha\n/group haha hi bot\n");
  await bot.waitFor(/"type":"message","kind":"group"/);
  await bot.write(
    [
      "/msg jojo typed like a person",
      '{"cmd":"msg","to":"nobody","text":"x"}',
      // Before the file, which may still be under way later (it goes on).
      '{"cmd":"transfers","id":"t"}',
      `{"cmd":"file","to":"jojo","path":${
        JSON.stringify(join(r.dir, "a.txt"))
      }}`,
      '{"cmd":"history","target":"haha","id":"h"}',
      '{"cmd":"bogus"}',
      '{"cmd":"list","id":7}',
      '{"cmd":"quit"}',
      "",
    ].join("\n"),
  );
  const status = await bot.finish();
  assert.equal(status.code, 1, bot.stdout + bot.stderr);
  const all = events(bot);

  const message = all.find((e) => e.type === "message" && !e.history)!;
  assert.equal(message.kind, "group");
  assert.equal(message.group, "haha");
  assert.equal(message.from, "jojo");
  assert.equal(message.text, "hi bot");
  assert.match(
    String(message.time),
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
  );
  assert.ok(Math.abs(Date.parse(String(message.time)) - Date.now()) < 60_000);
  assert.equal(typeof message.id, "number");
  assert.equal(typeof message.seq, "number");

  // Each command's events, tagged with its id or its line number, come
  // before the next command's, but for a file's: it goes on while the next
  // commands run, its events in their order, and its result comes before
  // the client leaves.
  const answers = all.filter((e) => "re" in e && e.re !== null).map((e) =>
    `${e.re} ${e.type}${e.type === "error" ? ` ${e.code}` : ""}`
  );
  assert.deepEqual(answers.filter((answer) => !answer.startsWith("5 ")), [
    "c ok",
    "2 sent",
    "3 error no_such_user",
    "t notice",
    "h ok",
    "7 error usage",
    "7 users",
  ]);
  assert.deepEqual(answers.filter((answer) => answer.startsWith("5 ")), [
    "5 file_offering",
    "5 file_sent",
  ]);
  assert.ok(answers.indexOf("5 file_offering") > answers.indexOf("t notice"));
  // A command the client answers itself names it too.
  assert.deepEqual(all.find((e) => e.re === "t"), {
    type: "notice",
    re: "t",
    text: "No file transfers.",
  });
  const sent = all.find((e) => e.type === "file_sent")!;
  assert.equal(sent.ok, true);
  assert.deepEqual(sent.results, [{ name: "jojo", ok: true, reason: "" }]);
  // History messages come before the history reply, marked as such.
  const history = all.findIndex((e) => e.history === true);
  assert.ok(history !== -1 && history < all.findIndex((e) => e.re === "h"));
  await jojo.write("/quit\n");
  assert.equal((await jojo.finish()).code, 0, jojo.stderr);
});

Deno.test("chat connect --json: a file offer is an event, taken with an accept command; an unknown offer is an error", async () => {
  await using r = await room();
  // Big enough for progress events (1 MiB and more).
  const bytes = crypto.getRandomValues(new Uint8Array(65536));
  const big = new Uint8Array(2 * 1024 * 1024);
  for (let i = 0; i < big.length; i += bytes.length) big.set(bytes, i);
  await Deno.writeFile(join(r.dir, "notes.txt"), big);
  const bot = r.connect("bot", "--json");
  await bot.waitFor(/"type":"welcome"/);
  const sophia = r.connect("sophia");
  await sophia.waitFor(/SUCCESS: Username registered\./);
  await sophia.write(`/file bot ${join(r.dir, "notes.txt")}\n`);
  const [offer] = await bot.waitFor(/\{"type":"file_offer"[^\n]*\}/);
  const parsed = JSON.parse(offer!);
  assert.equal(schemaProblem(parsed), null);
  assert.equal(parsed.from, "sophia");
  assert.equal(parsed.name, "notes.txt");
  assert.equal(parsed.size, big.length);
  assert.equal(parsed.decision, "ask");
  await bot.write(`{"cmd":"decline","xfer":${parsed.xfer + 1000}}\n`);
  await bot.waitFor(/"type":"error","re":1,"code":"no_such_offer"/);
  await bot.write(`{"cmd":"accept","xfer":${parsed.xfer}}\n`);
  const [received] = await bot.waitFor(/\{"type":"file_received"[^\n]*\}/);
  const path = JSON.parse(received!).path;
  assert.deepEqual(await Deno.readFile(path), big);
  await sophia.waitFor(/File notes\.txt sent to bot successfully\./);
  await bot.write('{"cmd":"quit"}\n');
  // The unknown offer was a failed command.
  assert.equal((await bot.finish()).code, 1);
  const progress = events(bot).filter((e) => e.type === "file_progress");
  assert.ok(progress.length >= 1, bot.stdout);
  for (const p of progress) {
    assert.equal(p.direction, "in");
    assert.equal(p.xfer, parsed.xfer);
    assert.ok(Number(p.bytes) <= big.length);
  }
  await sophia.write("/quit\n");
  assert.equal((await sophia.finish()).code, 0);
});

Deno.test("the README's bot example answers !time in a group", async () => {
  await using r = await room();
  const example = await Deno.readTextFile(
    new URL("../../examples/time_bot.ts", import.meta.url),
  );
  const readme = await Deno.readTextFile(
    new URL("../../README.md", import.meta.url),
  );
  assert.ok(readme.includes(example), "README shows examples/time_bot.ts");
  assert.ok(example.trimEnd().split("\n").length <= 20);

  const jojo = r.connect("jojo");
  await jojo.write("/create haha\n");
  await jojo.waitFor(/Group 'haha' created/);
  const main = new URL("../../main.ts", import.meta.url).pathname;
  const bot = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--check",
      "--allow-run",
      new URL("../../examples/time_bot.ts", import.meta.url).pathname,
      Deno.execPath(),
      "run",
      "--quiet",
      "--allow-ffi",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-sys=statfs",
      main,
      "connect",
      `127.0.0.1:${r.server.port}`,
      "--pub",
      r.pub,
      "--user",
      "timebot",
      "--json",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { XDG_CONFIG_HOME: join(r.dir, "bot-config") },
  }).spawn();
  try {
    await jojo.waitFor(/timebot joined group haha/, 30_000);
    await jojo.write("/group haha !time\n");
    const [, time] = await jojo.waitFor(
      /\[Receive group haha message from timebot\]: It is (\S+)/,
    );
    assert.ok(Math.abs(Date.parse(time!) - Date.now()) < 60_000, time);
  } finally {
    bot.kill("SIGKILL");
    await bot.status;
  }
});

Deno.test("a script's output follows its commands: a file's result before a later /history, errors on stderr, exit 1", async () => {
  await using r = await room();
  await Deno.writeTextFile(join(r.dir, "a.txt"), "abc");
  const jojo = r.connect("jojo", "--accept-files", "all");
  await jojo.waitFor(/SUCCESS: Username registered\./);
  const sophia = r.connect("sophia");
  await sophia.write(
    `/file jojo ${join(r.dir, "a.txt")}\n/history\n/msg nobody hi\n/list\n`,
  );
  assert.equal((await sophia.finish()).code, 1, sophia.stdout);
  const sent = sophia.stdout.indexOf("File a.txt sent to jojo successfully.");
  const history = sophia.stdout.search(/No history for|End of history/);
  const list = sophia.stdout.indexOf("*** jojo - Last Message");
  assert.ok(sent !== -1 && sent < history && history < list, sophia.stdout);
  assert.equal(sophia.stderr, "ERROR: User 'nobody' is not online.\n");
  await jojo.write("/quit\n");
  assert.equal((await jojo.finish()).code, 0);
});

// Seen following the README: `chat connect ... --user bot < /dev/null`, to
// read what waited, printed nothing and left it unacknowledged for next time.
Deno.test("a script whose input ends at once still shows the messages that waited for it", async () => {
  await using r = await room();
  const first = r.connect("bot"); // signs in once, publishing its keys
  assert.equal((await first.finish()).code, 0, first.stderr);
  const sophia = r.connect("sophia");
  await sophia.write("/msg bot waiting for you\n");
  assert.equal((await sophia.finish()).code, 0, sophia.stderr);
  assert.match(sophia.stdout, /bot is offline; the message will be delivered/);
  const bot = r.connect("bot");
  assert.equal((await bot.finish()).code, 0, bot.stderr);
  assert.match(
    bot.stdout,
    /\n\[history [^\]]+\] Private message from sophia: waiting for you\n/,
  );
});

/**
 * `chat connect` as bot to the `chat serve` on `port` whose keys makeKeys
 * made in `dir`.
 */
function botArgs(dir: string, port: string): string[] {
  return [
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    "bot",
  ];
}

Deno.test("chat connect --json reports reconnecting as connection events, one per change, and sends a command queued meanwhile once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-scripting-" });
  const servers: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    servers.push(serveProcess(dir));
    const port = await listeningPort(servers[0]!);
    const bot = new ChatProcess([...botArgs(dir, port), "--json"], {
      env: { XDG_CONFIG_HOME: join(dir, "config") },
    });
    await bot.waitFor(/"type":"welcome"/);
    servers[0]!.kill("SIGKILL");
    await servers[0]!.finish();
    await bot.waitFor(/"type":"connection","state":"lost"/);
    await bot.write('{"cmd":"send","text":"while away","id":"w"}\n');
    // `text`: the line as it was read.
    await bot.waitFor(/"type":"queued","re":"w","text":"\{\\"cmd\\":\\"send/);
    await bot.waitFor(/"type":"connection","state":"waiting"[^\n]*"error"/);
    servers.push(serveProcess(dir, port));
    await servers[1]!.waitFor(/listening on/);
    await bot.waitFor(/"type":"connection","state":"reconnected"/, WAIT_MS);
    await bot.waitFor(/"type":"sent","re":"w"/);
    await bot.write('{"cmd":"quit"}\n');
    assert.equal((await bot.finish()).code, 0, bot.stderr);
    const all = events(bot);
    const states = all.filter((e) => e.type === "connection").map((e) =>
      e.state
    );
    assert.equal(states[0], "lost");
    assert.equal(states.at(-1), "reconnected");
    // Not one per attempt: the same failure is reported once.
    const errors = all.filter((e) => e.type === "connection" && e.error)
      .map((e) => e.error);
    assert.deepEqual(errors, [...new Set(errors)]);
    assert.equal(all.filter((e) => e.type === "sent").length, 1);
  } finally {
    for (const server of servers) {
      server.kill("SIGKILL");
      await server.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect --json keeps its notes off stdout: the key found in keys/public.pem and a new identity key are said on stderr", async () => {
  await using r = await room();
  await Deno.mkdir(join(r.dir, "keys"));
  await Deno.copyFile(r.pub, join(r.dir, "keys", "public.pem"));
  const bot = new ChatProcess(
    ["connect", `127.0.0.1:${r.server.port}`, "--user", "bot", "--json"],
    { cwd: r.dir, env: { XDG_CONFIG_HOME: join(r.dir, "fresh-config") } },
  );
  await bot.write('{"cmd":"quit"}\n');
  assert.equal((await bot.finish()).code, 0, bot.stderr);
  assert.match(bot.stderr, /Using the server key in keys\/public\.pem/);
  assert.match(bot.stderr, /Created your identity key/);
  assert.deepEqual(
    events(bot).map((e) => e.type),
    ["notice", "notice", "welcome"],
  );
});

/**
 * `chat connect` as bot in `r` (with `extra` options), its stdin, stdout and
 * stderr pipes the test's own: to close one end or the other.
 */
function pipedBot(r: Room, ...extra: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: mainArgs([
      "connect",
      `127.0.0.1:${r.server.port}`,
      "--pub",
      r.pub,
      "--user",
      "bot",
      "--no-open",
      "--downloads",
      join(r.dir, "bot-downloads"),
      ...extra,
    ]),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", XDG_CONFIG_HOME: join(r.dir, "bot-config") },
  }).spawn();
}

/** How soon a client whose stdout reader is gone has to have ended. */
const GONE_EXIT_MS = 10_000;

/**
 * Reads `stdout` until it has written `until`, then closes the pipe's read
 * end, as a reader that had what it wanted (`head -1`) does.
 */
async function readThenClose(
  stdout: ReadableStream<Uint8Array>,
  until: string,
): Promise<void> {
  const output = stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes(until)) {
    const { done, value } = await output.read();
    assert.ok(!done, `stdout ended before ${JSON.stringify(until)}:\n${text}`);
    text += decoder.decode(value, { stream: true });
  }
  await output.cancel();
}

/**
 * Asserts that `child` exits with 141 (its stdout reader gone) within
 * GONE_EXIT_MS, killed otherwise; returns what it said on stderr.
 */
async function assertLeftFor141(
  child: Deno.ChildProcess,
  stderr: Promise<string>,
): Promise<string> {
  const status = await exitWithin(child, GONE_EXIT_MS);
  if (status === null) child.kill("SIGKILL");
  const said = await stderr;
  assert.ok(
    status !== null,
    `still running ${GONE_EXIT_MS} ms after its reader left\nstderr:\n${said}`,
  );
  assert.equal(status.code, 141, said);
  return said;
}

/** `child`'s exit status, or null when it is still running after `ms`. */
async function exitWithin(
  child: Deno.ChildProcess,
  ms: number,
): Promise<Deno.CommandStatus | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      child.status,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const json of [false, true]) {
  Deno.test(
    `chat connect${
      json ? " --json" : " (a script)"
    }: once the program reading its stdout has closed it, the session ends as /quit ends it, within seconds, saying nothing, exit status 141`,
    async () => {
      await using r = await room();
      const child = pipedBot(r, ...(json ? ["--json"] : []));
      const stderr = new Response(child.stderr).text();
      const input = child.stdin.getWriter();
      try {
        // As `| head -1` does.
        await readThenClose(child.stdout, "\n");
        // What answers it cannot be written.
        await input.write(new TextEncoder().encode("/list\n"));
        const said = await assertLeftFor141(child, stderr);
        // Only the note --json puts on stderr rather than stdout.
        assert.deepEqual(
          said.split("\n").filter((line) =>
            line !== "" && !line.startsWith("Created your identity key")
          ),
          [],
        );
      } finally {
        await input.close().catch(() => {});
        try {
          child.kill("SIGKILL");
        } catch {
          // Already ended.
        }
        await child.status;
      }
    },
  );
}

Deno.test("chat connect (a script) whose stdout reader leaves while the server is away stops trying to reconnect: exit 141 within seconds, saying nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-scripting-" });
  let server: ChatProcess | null = null;
  try {
    await makeKeys(dir);
    server = serveProcess(dir);
    const port = await listeningPort(server);
    const child = new Deno.Command(Deno.execPath(), {
      args: mainArgs(botArgs(dir, port)),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", XDG_CONFIG_HOME: join(dir, "config") },
    }).spawn();
    const stderr = new Response(child.stderr).text();
    try {
      await readThenClose(child.stdout, "Username registered");
      // The server goes: the line saying so cannot be written.
      server.kill("SIGKILL");
      assert.equal(await assertLeftFor141(child, stderr), "");
    } finally {
      await child.stdin.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // Already ended.
      }
      await child.status;
    }
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect (a script): once the program reading its stderr has closed it, errors go unsaid and the commands after them still run", async () => {
  await using r = await room();
  const child = pipedBot(r);
  try {
    // Nothing is said on stderr before the first error: closed in time.
    await child.stderr.cancel();
    const stdout = new Response(child.stdout).text();
    const input = child.stdin.getWriter();
    // The error can no longer be said; the /list after it still answers.
    await input.write(
      new TextEncoder().encode("/msg nobody hi\n/list\n/quit\n"),
    );
    await input.close();
    const [status, said] = await Promise.all([child.status, stdout]);
    assert.match(said, /\*\*\* bot /);
    // The failed command.
    assert.equal(status.code, 1, said);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already ended.
    }
    await child.status;
  }
});

Deno.test({
  name:
    "chat connect on a terminal whose stdout is piped to `head -1`: once head has gone, the session ends as at the end of input, exit status 141, no stack trace",
  ignore: !(await hasPty()),
  async fn() {
    await using r = await room();
    const chat = [
      Deno.execPath(),
      ...mainArgs([
        "connect",
        `127.0.0.1:${r.server.port}`,
        "--pub",
        r.pub,
        "--user",
        "sophia",
        "--no-open",
        "--downloads",
        join(r.dir, "sophia-downloads"),
      ]),
    ].map(shellQuote).join(" ");
    // stdin and stderr the terminal (a person), stdout a pipe to head.
    const child = onPty(`{ ${chat}; echo "chat exited $?" >&2; } | head -1`, {
      XDG_CONFIG_HOME: join(r.dir, "sophia-config"),
    });
    const input = child.stdin.getWriter();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const decoder = new TextDecoder();
      let screen = "";
      let typed = false;
      const exited = (async () => {
        for await (const chunk of child.stdout) {
          screen += decoder.decode(chunk, { stream: true });
          const match = /chat exited (\d+)/.exec(screen);
          if (match !== null) return Number(match[1]);
          // head has its line: what is typed now is drawn into a pipe
          // nobody reads.
          if (!typed && screen.includes("Connecting to")) {
            typed = true;
            await input.write(new TextEncoder().encode("/list\r"));
          }
        }
        return null;
      })();
      const code = await Promise.race([
        exited,
        new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), GONE_EXIT_MS);
        }),
      ]);
      assert.equal(code, 141, screen);
      assert.doesNotMatch(screen, /Uncaught|EPIPE|\bat .*:\d+:\d+/);
    } finally {
      clearTimeout(timer);
      await input.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // Already ended.
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test("chat connect --json answers hostile input lines (nesting 200,000 deep, wrong types, lone surrogates, broken JSON) each with an error, and goes on", async () => {
  await using r = await room();
  const bot = r.connect("bot", "--json");
  await bot.waitFor(/"type":"welcome"/);
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  const hostile: [string, string][] = [
    ["deep", `{"cmd":${deep},"id":"deep"}`],
    ["deeper", `{"cmd":{"cmd":${deep}},"id":"deeper"}`],
    ["text", `{"cmd":"send","text":${deep},"id":"text"}`],
    ["proto", `{"cmd":"__proto__","id":"proto"}`],
    ["constructor", `{"cmd":"constructor","id":"constructor"}`],
    ["surrogate", `{"cmd":"msg","to":"\\ud800","text":"x","id":"surrogate"}`],
    ["infinite", `{"cmd":"accept","xfer":1e400,"id":"infinite"}`],
    ["fraction", `{"cmd":"cancel","number":-0.5,"id":"fraction"}`],
    ["huge", `{"cmd":"history","limit":1e21,"id":"huge"}`],
    ["away", `{"cmd":"away","reason":{},"id":"away"}`],
    ["null", `{"cmd":null,"id":"null"}`],
  ];
  for (const [, line] of hostile) await bot.write(`${line}\n`);
  // Not JSON, and blank or half lines: errors with the line's number.
  await bot.write('{\n{"cmd":\n\u0000\n');
  await bot.write(`{"cmd":"list","id":"after"}\n`);
  await bot.waitFor(/"type":"users","re":"after"/);
  for (const [id] of hostile) {
    assert.match(
      bot.stdout,
      new RegExp(`"type":"error","re":"${id}","code":"usage"`),
      id,
    );
  }
  assert.match(
    bot.stdout,
    /"type":"error","re":12,"code":"usage","text":"ERROR: Bad JSON/,
  );
  assert.match(
    bot.stdout,
    /"type":"error","re":13,"code":"usage","text":"ERROR: Bad JSON/,
  );
  await bot.write('{"cmd":"quit"}\n');
  assert.equal((await bot.finish()).code, 1);
  events(bot);
});

Deno.test("chat connect --json: a group file some members declined is file_sent ok false, with who declined and why", async () => {
  await using r = await room();
  await Deno.writeTextFile(join(r.dir, "a.txt"), "abc");
  const bot = r.connect("bot", "--json");
  await bot.write('{"cmd":"create","group":"haha","id":"c"}\n');
  await bot.waitFor(/"type":"ok","re":"c"/);
  const members = [
    r.connect("jojo", "--accept-files", "all"),
    r.connect("nana", "--accept-files", "none"),
  ];
  for (const member of members) {
    await member.waitFor(/SUCCESS: Username registered\./);
    await member.write("/join haha\n");
    await member.waitFor(/Joined group 'haha'/);
  }
  await bot.write(
    `{"cmd":"groupfile","group":"haha","path":${
      JSON.stringify(join(r.dir, "a.txt"))
    },"id":"f"}\n{"cmd":"quit"}\n`,
  );
  const status = await bot.finish();
  const all = events(bot);
  const sent = all.find((e) => e.type === "file_sent")!;
  assert.ok(sent !== undefined, bot.stdout + bot.stderr);
  // Before: ok true, jojo's result alone, nana's decline nowhere in it.
  assert.equal(sent.ok, false, JSON.stringify(sent));
  assert.deepEqual(sent.results, [{ name: "jojo", ok: true, reason: "" }]);
  const declined = sent.declined as { name: string; reason: string }[];
  assert.deepEqual(declined.map((d) => d.name), ["nana"]);
  assert.equal(typeof declined[0]!.reason, "string");
  assert.ok(all.some((e) => e.type === "file_declined" && e.name === "nana"));
  // A recipient who did not get it fails the command, as one person's
  // decline does.
  assert.equal(status.code, 1, bot.stdout + bot.stderr);
  for (const member of members) {
    await member.write("/quit\n");
    await member.finish();
  }
});
