/**
 * Files only with consent, end to end: a real server, real `chat connect`
 * processes driven through their stdin (each with its own config folder, so
 * its own identity key), and the answers a person would type.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { ANSWER_GUARD_MS } from "../../src/client/offer_prompts.ts";
import { fingerprint } from "../../src/crypto/keys.ts";
import {
  startTestServer,
  TestClient,
  testKeys,
  type TestServer,
} from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";

interface Room {
  dir: string;
  server: TestServer;
  connect(user: string, ...extra: string[]): Promise<ChatProcess>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function room(fileAnswerMs?: number): Promise<Room> {
  const dir = await Deno.makeTempDir({ prefix: "chat-consent-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const server = await startTestServer(
    fileAnswerMs === undefined ? {} : { limits: { fileAnswerMs } },
  );
  const processes: ChatProcess[] = [];
  return {
    dir,
    server,
    async connect(user, ...extra) {
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
          // Nothing opened, unless the test names an opener.
          ...(extra.includes("--open-with") ? [] : ["--no-open"]),
          ...extra,
        ],
        { env: { XDG_CONFIG_HOME: join(dir, `${user}-config`) } },
      );
      processes.push(chat);
      await chat.waitFor(/SUCCESS: Username registered\./);
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

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
      .sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/**
 * Types `line` once the question on screen has been there for longer than
 * ANSWER_GUARD_MS: an answer sooner is not taken (offer_prompts.ts). The wait
 * is the rule under test's own minimum, not a stand-in for a condition.
 */
async function answer(chat: ChatProcess, line: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ANSWER_GUARD_MS + 100));
  await chat.write(line);
}

const question = (from: string, file: string, size: string, always = true) =>
  new RegExp(
    `${from} wants to send you ${file.replace(".", "\\.")} \\(${
      size.replace(".", "\\.")
    }\\)(?: \\([^)]*: will be saved, not opened\\))?\\. Accept\\? \\[y\\]es / \\[n\\]o${
      always ? ` / always from ${from}` : ""
    }\\n`,
  );

Deno.test("chat connect --accept-files ask writes nothing before y, asks one offer at a time, and the sender hears a no", async () => {
  await using r = await room();
  const jojo = await r.connect("jojo", "--accept-files", "ask");
  const sophia = await r.connect("sophia");
  const bytes = crypto.getRandomValues(new Uint8Array(20 * 1024));
  await Deno.writeFile(join(r.dir, "big.bin"), bytes);
  await Deno.writeTextFile(join(r.dir, "notes.txt"), "notes\n");

  await sophia.write(`/file jojo ${r.dir}/big.bin\n`);
  await sophia.waitFor(/Offering big\.bin \(20\.0 KiB\) to jojo; waiting/);
  await jojo.waitFor(question("sophia", "big.bin", "20.0 KiB"));
  // A `y` at once (a chat reply typed as the question popped up) is neither
  // an answer nor chat; the question is asked again. Written as soon as the
  // question is seen: anything in between (another process starting) can
  // take longer than the 1 s on a busy machine, and then it is an answer.
  await jojo.write("y\n");
  await jojo.waitFor(
    /'y' was not taken as an answer nor sent as chat: it came less than 1 s after the question\. Answer again:\n.*big\.bin .*Accept\?/,
  );
  // A second offer waits behind the first; nothing is on disk yet. (From
  // another sender: a script's commands run one after the other.)
  const nana = await r.connect("nana");
  await nana.write(`/file jojo ${r.dir}/notes.txt\n`);
  await nana.waitFor(/Offering notes\.txt .* waiting for an answer\./);
  assert.deepEqual(await listDir(join(r.dir, "jojo-downloads")), []);
  await answer(jojo, "y\n");
  await jojo.waitFor(question("nana", "notes.txt", "6 B"));
  // Asked in turn: the second question came after the first was answered.
  assert.equal(jojo.stdout.match(/Accept\?/g)?.length, 3);
  await jojo.waitFor(/You received file big\.bin from sophia\./);
  await sophia.waitFor(/File big\.bin sent to jojo successfully\./);
  const saved = join(r.dir, "jojo-downloads", "big.bin");
  assert.deepEqual(await Deno.readFile(saved), bytes);
  assert.equal((await Deno.stat(saved)).mode! & 0o777, 0o600);
  assert.equal(
    (await Deno.stat(join(r.dir, "jojo-downloads"))).mode! & 0o777,
    0o700,
  );

  // A chat line typed while a question waits is chat, not an answer.
  await jojo.write("hello everyone\n");
  await answer(jojo, "N\n");
  await sophia.waitFor(/\[Broadcast from jojo\]: hello everyone/);
  // Sent after the early `y`, so that `y` would have arrived first.
  assert.doesNotMatch(sophia.stdout, /\[Broadcast from jojo\]: y\n/);
  await jojo.waitFor(/Declined notes\.txt \(6 B\) from nana\./);
  // A script reads its errors on stderr.
  await nana.waitForStderr(/ERROR: jojo declined notes\.txt\n/);
  assert.deepEqual(await listDir(join(r.dir, "jojo-downloads")), ["big.bin"]);
});

Deno.test("chat connect always remembers the sender's key, per server, and --accept-files trusted takes only such keys", async () => {
  await using r = await room();
  const jojo = await r.connect("jojo", "--accept-files", "ask");
  const sophia = await r.connect("sophia");
  const [, sophiaKey] = sophia.stdout.match(
    /Created your identity key (SHA256:\S+)/,
  )!;
  for (const name of ["a.txt", "b.txt", "c.txt", "d.txt"]) {
    await Deno.writeTextFile(join(r.dir, name), `${name}\n`);
  }
  await sophia.write(`/file jojo ${r.dir}/a.txt\n`);
  await jojo.waitFor(question("sophia", "a.txt", "6 B"));
  await answer(jojo, "always\n");
  await jojo.waitFor(/You received file a\.txt from sophia\./);
  const trusted = join(r.dir, "jojo-config", "chat", "trusted_senders");
  assert.ok(
    (await Deno.readTextFile(trusted)).split("\n").includes(
      `${await fingerprint(r.server.spki)} ${sophiaKey!} sophia`,
    ),
  );
  assert.equal((await Deno.stat(trusted)).mode! & 0o777, 0o600);

  // Not asked again.
  await sophia.write(`/file jojo ${r.dir}/b.txt\n`);
  await jojo.waitFor(
    /Accepting b\.txt \(6 B\) from sophia: you always accept files from this key/,
  );
  await jojo.waitFor(/You received file b\.txt from sophia\./);
  assert.equal(jojo.stdout.match(/Accept\?/g)?.length, 1);

  // Only sophia's key is trusted: nana is declined without a question.
  await jojo.write("/quit\n");
  await jojo.finish();
  const jojo2 = await r.connect("jojo", "--accept-files", "trusted");
  const nana = await r.connect("nana");
  await nana.write(`/file jojo ${r.dir}/c.txt\n`);
  await jojo2.waitFor(
    /Declined c\.txt \(6 B\) from nana: not a sender you always accept \(--accept-files trusted\)/,
  );
  await nana.waitForStderr(/ERROR: jojo declined c\.txt\n/);
  await sophia.write(`/file jojo ${r.dir}/d.txt\n`);
  await jojo2.waitFor(/You received file d\.txt from sophia\./);
  assert.doesNotMatch(jojo2.stdout, /Accept\?/);
});

Deno.test("chat connect declines an offer nobody answers in time, says so, and the sender hears it", async () => {
  // The client gives its user two thirds of the server's 3 s.
  await using r = await room(3000);
  const jojo = await r.connect("jojo", "--accept-files", "ask");
  const sophia = await r.connect("sophia");
  await Deno.writeTextFile(join(r.dir, "late.txt"), "late\n");
  await sophia.write(`/file jojo ${r.dir}/late.txt\n`);
  await jojo.waitFor(question("sophia", "late.txt", "5 B"));
  await jojo.waitFor(
    /No answer within 2 s: declined late\.txt \(5 B\) from sophia\./,
  );
  await sophia.waitForStderr(/ERROR: jojo did not answer about late\.txt\n/);
  // A late "y" is chat, not an answer, and brings no file.
  await jojo.write("y\n");
  await sophia.waitFor(/\[Broadcast from jojo\]: y\n/);
  assert.deepEqual(await listDir(join(r.dir, "jojo-downloads")), []);
});

Deno.test("the server counts a client that never answers (an older one) as declined and forwards it nothing", async () => {
  await using r = await room(1500);
  const client = await ChatClient.connect(r.server.url, {
    pinnedSpki: r.server.spki,
  });
  const old = new TestClient(client);
  assert.equal((await client.register("old")).t, "welcome");
  let chunks = 0;
  client.onMessage(({ message }) => {
    if (message.t === "file_chunk") chunks++;
  });
  const sophia = await r.connect("sophia");
  await Deno.writeTextFile(join(r.dir, "x.txt"), "x".repeat(1000));
  await sophia.write(`/file old ${r.dir}/x.txt\n`);
  await sophia.waitForStderr(/ERROR: old did not answer about x\.txt\n/);
  const cancel = await old.waitFor((m) => m.message.t === "file_cancel");
  assert.deepEqual(cancel.message, {
    t: "file_cancel",
    xfer: 1,
    reason: "you did not answer in time",
  });
  assert.equal(chunks, 0);
  await old.quit();
});

Deno.test("a group file goes on for those who accepted when one declines; a script declines by default", async () => {
  await using r = await room();
  const sophia = await r.connect("sophia");
  const jojo = await r.connect("jojo", "--accept-files", "ask");
  const nana = await r.connect("nana", "--accept-files", "all");
  // No --accept-files and stdin not a terminal: none.
  const bot = await r.connect("bot");
  await sophia.write("/create team\n");
  await sophia.waitFor(/Group 'team' created and joined/);
  for (const user of [jojo, nana, bot]) {
    await user.write("/join team\n");
    await user.waitFor(/SUCCESS: Joined group 'team'\./);
  }
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
  await Deno.writeFile(join(r.dir, "team.bin"), bytes);
  await sophia.write(`/groupfile team ${r.dir}/team.bin\n`);
  await jojo.waitFor(
    /sophia wants to send group team team\.bin \(293\.0 KiB\)/,
  );
  await bot.waitFor(
    /Declined team\.bin \(293\.0 KiB\) from sophia \(--accept-files none; use --accept-files ask to be asked\)/,
  );
  await answer(jojo, "n\n");
  await sophia.waitFor(/File team\.bin sent to group team: received by nana\./);
  // Told as soon as the answers are in, before the file has gone through.
  const done = sophia.stdout.indexOf("File team.bin sent to group team");
  for (const line of ["jojo declined team.bin.", "bot declined team.bin."]) {
    const at = sophia.stdout.indexOf(line);
    assert.ok(at !== -1 && at < done, sophia.stdout);
  }
  await nana.waitFor(/\[Receive team\.bin from Group team sophia\]\./);
  assert.deepEqual(
    await Deno.readFile(join(r.dir, "nana-downloads", "team.bin")),
    bytes,
  );
  assert.deepEqual(await listDir(join(r.dir, "jojo-downloads")), []);
  assert.deepEqual(await listDir(join(r.dir, "bot-downloads")), []);
});

Deno.test("a file that grows while it is sent goes at its offered size, and the sender is told; one that shrinks stops, said", async () => {
  await using r = await room();
  const jojo = await r.connect("jojo", "--accept-files", "ask");
  const sophia = await r.connect("sophia");
  const first = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const grow = join(r.dir, "grow.bin");
  await Deno.writeFile(grow, first);
  await sophia.write(`/file jojo ${grow}\n`);
  await jojo.waitFor(question("sophia", "grow.bin", "64.0 KiB"));
  // Another program appends to it after the offer (its size and hash are
  // the contract): before, 'sent ... successfully' and nothing more.
  await Deno.writeFile(grow, new Uint8Array(64 * 1024).fill(7), {
    append: true,
  });
  await answer(jojo, "y\n");
  await jojo.waitFor(/You received file grow\.bin from sophia\./);
  await sophia.waitFor(
    /grow\.bin changed while it was being sent: jojo got the first 64\.0 KiB \(its size when offered\); it is 128\.0 KiB now\./,
  );
  assert.deepEqual(
    await Deno.readFile(join(r.dir, "jojo-downloads", "grow.bin")),
    first,
  );

  const shrink = join(r.dir, "shrink.bin");
  await Deno.writeFile(shrink, first);
  await sophia.write(`/file jojo ${shrink}\n`);
  await jojo.waitFor(question("sophia", "shrink.bin", "64.0 KiB"));
  await Deno.truncate(shrink, 10 * 1024);
  await answer(jojo, "y\n");
  await sophia.waitForStderr(
    /ERROR: Sending file shrink\.bin stopped: it got shorter while it was being sent \(64\.0 KiB when offered, 10\.0 KiB now\)/,
  );
  // Nothing padded, no wait for bytes that will never come.
  await jojo.waitUntil(
    () =>
      (jojo.stdout + jojo.stderr).match(
        /shrink\.bin.*the file got shorter while sending/,
      ),
    "jojo told why it stopped",
  );
  assert.ok(
    !(await listDir(join(r.dir, "jojo-downloads"))).includes("shrink.bin"),
  );
});

Deno.test("chat connect --accept-files ask says once that a file's name keeps it from being opened: in the question, not again once saved", async () => {
  await using r = await room();
  const opener = join(r.dir, "opener.sh");
  await Deno.writeTextFile(
    opener,
    `#!/bin/sh\nprintf '%s\\n' "$1" >> "${r.dir}/opened.log"\n`,
  );
  await Deno.chmod(opener, 0o755);
  const jojo = await r.connect(
    "jojo",
    "--accept-files",
    "ask",
    "--open-with",
    opener,
  );
  const sophia = await r.connect("sophia");
  await Deno.writeFile(join(r.dir, "big.bin"), new Uint8Array(1024));
  // An executable in disguise: only its content says so, after the answer.
  await Deno.writeFile(
    join(r.dir, "photo.jpg"),
    new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
  );
  await sophia.write(`/file jojo ${r.dir}/big.bin\n`);
  await jojo.waitFor(
    /sophia wants to send you big\.bin \(1\.0 KiB\) \(\.bin: will be saved, not opened\)\. Accept\?/,
  );
  await answer(jojo, "y\n");
  await jojo.waitFor(/Saved to [^\n]*big\.bin\n/);
  await sophia.waitFor(/File big\.bin sent to jojo successfully\./);
  await sophia.write(`/file jojo ${r.dir}/photo.jpg\n`);
  await jojo.waitFor(question("sophia", "photo.jpg", "8 B"));
  await answer(jojo, "y\n");
  await jojo.waitFor(/Not opening photo\.jpg automatically: /);
  // Leaving waits for what is being received to be done with.
  await jojo.finish();
  // Before: `Not opening big.bin automatically: chat opens only images,
  // audio, video, PDF and plain text, and .bin is not one of those.` after
  // the question had said `.bin: will be saved, not opened`.
  assert.doesNotMatch(jojo.stdout, /Not opening big\.bin/);
  assert.equal(
    await Deno.readTextFile(join(r.dir, "opened.log")).catch(() => ""),
    "",
  );
});
