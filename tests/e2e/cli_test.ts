/** `main.ts keygen`, `serve` and `connect` as real processes, driven through stdin. */

import assert from "node:assert/strict";
import {
  ChatProcess,
  hasPty,
  listeningPort,
  mainArgs,
  onPty,
  serveProcess,
  shellQuote,
} from "../_helpers/process.ts";

async function keygen(dir: string, ...extra: string[]): Promise<ChatProcess> {
  const process = new ChatProcess([
    "keygen",
    "--bits",
    "2048",
    "--out",
    dir,
    ...extra,
  ]);
  await process.finish();
  return process;
}

Deno.test("chat keygen writes a 0600 private key, a public key and prints the fingerprint; refuses to overwrite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await keygen(dir);
    assert.equal((await first.child.status).code, 0, first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`Private key saved to ${dir}/private.pem`),
    );
    assert.match(
      first.stdout,
      new RegExp(`Public key saved to ${dir}/public.pem`),
    );
    assert.match(first.stdout, /Fingerprint: SHA256:[A-Za-z0-9+/]{43}\n/);
    assert.equal((await Deno.stat(`${dir}/private.pem`)).mode! & 0o777, 0o600);
    const before = await Deno.readTextFile(`${dir}/private.pem`);
    assert.match(before, /^-----BEGIN PRIVATE KEY-----\n/);

    const again = await keygen(dir);
    assert.equal((await again.child.status).code, 1);
    assert.equal(
      again.stderr,
      `chat: ${dir}/private.pem and ${dir}/public.pem already exist (chat serve uses them as they are); use --force to replace them\n`,
    );
    assert.equal(
      await Deno.readTextFile(`${dir}/private.pem`),
      before,
      "not overwritten",
    );

    const forced = await keygen(dir, "--force");
    assert.equal((await forced.child.status).code, 0, forced.stderr);
    assert.notEqual(await Deno.readTextFile(`${dir}/private.pem`), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// `--private DIR/public.pem` alone puts the public key beside it, at the
// same path: with --force the private key was replaced by the public one
// after 'Private key saved to'; without, 'Refusing to overwrite existing'
// a file that was not there before.
Deno.test("chat keygen refuses a --private path that is where the public key goes, and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (
      const extra of [
        ["--private", `${dir}/public.pem`],
        ["--private", `${dir}/public.pem`, "--force"],
        ["--private", `${dir}/k.pem`, "--public", `${dir}/./k.pem`],
      ]
    ) {
      const process = new ChatProcess(["keygen", "--bits", "2048", ...extra]);
      await process.finish();
      assert.equal((await process.child.status).code, 1, process.stdout);
      assert.equal(process.stdout, "");
      assert.match(
        process.stderr,
        /^chat: The private and the public key would both be written to .*; give the public key its own path with --public PATH\n$/,
      );
      assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `chat keygen --public-from ...args` run to its end. */
async function publicFrom(...args: string[]): Promise<ChatProcess> {
  const process = new ChatProcess(["keygen", "--public-from", ...args]);
  await process.finish();
  return process;
}

/** The one line a failed command printed: `chat: ...`, nothing on stdout. */
async function oneErrorLine(process: ChatProcess): Promise<string> {
  assert.equal((await process.child.status).code, 1, process.stdout);
  assert.equal(process.stdout, "");
  const lines = process.stderr.trim().split("\n");
  assert.equal(lines.length, 1, process.stderr);
  assert.match(lines[0]!, /^chat: /);
  return lines[0]!;
}

Deno.test({
  name:
    "chat keygen on a terminal, its stdout piped to a program already gone, keeps the existing keys and exits 0 without a word",
  ignore: !(await hasPty()),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await keygen(dir);
      const before = await Deno.readTextFile(`${dir}/private.pem`);
      const chat = [
        Deno.execPath(),
        ...mainArgs(["keygen", "--bits", "2048", "--out", dir]),
      ].map(shellQuote).join(" ");
      // The reader closes its end and says so; keygen starts only at the
      // line typed after that, so its question meets a pipe nobody reads.
      const child = onPty(
        `{ read -r _; ${chat}; echo "keygen exited $?" >&2; } | { exec 0<&-; echo "reader gone"; }`,
      );
      const input = child.stdin.getWriter();
      const decoder = new TextDecoder();
      let screen = "";
      let typed = false;
      for await (const chunk of child.stdout) {
        screen += decoder.decode(chunk, { stream: true });
        if (!typed && screen.includes("reader gone")) {
          typed = true;
          await input.write(new TextEncoder().encode("\r"));
        }
        if (/keygen exited \d+/.test(screen)) break;
      }
      await input.close().catch(() => {});
      await child.status;
      assert.match(screen, /keygen exited 0/);
      assert.doesNotMatch(screen, /EPIPE|Broken pipe|Uncaught/);
      assert.equal(await Deno.readTextFile(`${dir}/private.pem`), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "chat keygen on a terminal where keys exist says which and what a yes replaces before asking, and keeps them at no",
  ignore: !(await hasPty()),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await keygen(dir);
      const before = await Deno.readTextFile(`${dir}/private.pem`);
      const chat = [
        Deno.execPath(),
        ...mainArgs(["keygen", "--bits", "2048", "--out", dir]),
      ].map(shellQuote).join(" ");
      const child = onPty(`${chat}; echo "keygen exited $?"`);
      const input = child.stdin.getWriter();
      const decoder = new TextDecoder();
      let screen = "";
      let typed = false;
      for await (const chunk of child.stdout) {
        screen += decoder.decode(chunk, { stream: true });
        if (!typed && screen.includes("(yes/no):")) {
          typed = true;
          await input.write(new TextEncoder().encode("no\r"));
        }
        if (/keygen exited \d+/.test(screen)) break;
      }
      await input.close().catch(() => {});
      await child.status;
      // Before: the seed's question alone, with no word of the keys a yes
      // replaces (the server's, which everyone's public.pem must match).
      const asked = screen.slice(0, screen.indexOf("Do you want"));
      assert.match(
        asked.replace(/\s+/g, " "),
        new RegExp(
          `${dir}/private\\.pem and ${dir}/public\\.pem already exist \\(chat serve uses them as they are\\)\\. New keys replace them: everyone connecting then needs the new public\\.pem`,
        ),
      );
      assert.match(
        screen,
        /Do you want to create new key pairs\? \(yes\/no\):/,
      );
      assert.match(screen, /Keeping the existing keys\./);
      assert.match(screen, /keygen exited 0/);
      assert.equal(await Deno.readTextFile(`${dir}/private.pem`), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("chat keygen --public-from writes beside a private key alone the public.pem chat keygen wrote for it, with serve's fingerprint line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const made = await keygen(`${dir}/made`);
    const [, printed] = made.stdout.match(/Fingerprint: (SHA256:\S+)/)!;
    const original = await Deno.readTextFile(`${dir}/made/public.pem`);
    // Only the private key copied to another machine.
    await Deno.mkdir(`${dir}/laptop`);
    await Deno.copyFile(`${dir}/made/private.pem`, `${dir}/laptop/private.pem`);
    await Deno.chmod(`${dir}/laptop/private.pem`, 0o600);

    const derived = await publicFrom(`${dir}/laptop/private.pem`);
    assert.equal((await derived.child.status).code, 0, derived.stderr);
    assert.equal(
      derived.stdout,
      `Public key of ${dir}/laptop/private.pem saved to ${dir}/laptop/public.pem\n` +
        `Server key fingerprint: ${printed}\n`,
    );
    assert.equal(derived.stderr, "");
    assert.equal(
      await Deno.readTextFile(`${dir}/laptop/public.pem`),
      original,
    );
    assert.equal(
      (await Deno.stat(`${dir}/laptop/public.pem`)).mode! & 0o777,
      0o644,
    );

    // Again: nothing to do, and it says so.
    const again = await publicFrom(`${dir}/laptop/private.pem`);
    assert.equal((await again.child.status).code, 0, again.stderr);
    assert.match(
      again.stdout,
      /laptop\/public\.pem already holds the public key of .*laptop\/private\.pem; left as it is\n/,
    );

    // --out names the folder, --public the file.
    const out = await publicFrom(
      `${dir}/laptop/private.pem`,
      "--out",
      `${dir}/out`,
    );
    assert.equal((await out.child.status).code, 0, out.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/out/public.pem`), original);
    const named = await publicFrom(
      `${dir}/laptop/private.pem`,
      "--public",
      `${dir}/give-this.pem`,
    );
    assert.equal((await named.child.status).code, 0, named.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/give-this.pem`), original);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat keygen --public-from replaces another key's public.pem only with --force, and a private key never", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await keygen(`${dir}/a`);
    await keygen(`${dir}/b`);
    const mine = await Deno.readTextFile(`${dir}/a/public.pem`);
    const other = await Deno.readTextFile(`${dir}/b/public.pem`);
    const privateB = await Deno.readTextFile(`${dir}/b/private.pem`);

    const refused = await publicFrom(
      `${dir}/a/private.pem`,
      "--public",
      `${dir}/b/public.pem`,
    );
    assert.match(
      await oneErrorLine(refused),
      /^chat: Refusing to overwrite '.*\/b\/public\.pem': it holds another key \(SHA256:\S+\) \(use --force to replace it\)$/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/b/public.pem`), other);

    const forced = await publicFrom(
      `${dir}/a/private.pem`,
      "--public",
      `${dir}/b/public.pem`,
      "--force",
    );
    assert.equal((await forced.child.status).code, 0, forced.stderr);
    assert.match(
      forced.stdout,
      /saved to .*\/b\/public\.pem, replacing what it held\n/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/b/public.pem`), mine);

    const onPrivate = await publicFrom(
      `${dir}/a/private.pem`,
      "--public",
      `${dir}/b/private.pem`,
      "--force",
    );
    assert.match(
      await oneErrorLine(onPrivate),
      /it holds a private key \(give the public key another path with --public\)$/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/b/private.pem`), privateB);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat keygen --public-from says what is wrong with a file that is not a private key it can use, and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await keygen(dir);
    await Deno.writeTextFile(`${dir}/garbage.pem`, "not a key\n");
    await Deno.writeTextFile(
      `${dir}/encrypted.pem`,
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0w\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    const cases: [string, RegExp][] = [
      [
        "public.pem",
        /this is a public key, not a private key \(expected '-----BEGIN PRIVATE KEY-----'\)$/,
      ],
      [
        "garbage.pem",
        /not a PEM private key \(expected '-----BEGIN PRIVATE KEY-----'\)$/,
      ],
      [
        "encrypted.pem",
        /encrypted private keys are not supported; write an unencrypted copy with 'openssl pkey -in <file> -out <new file>'$/,
      ],
      [
        "missing.pem",
        /file not found; give the path of the existing private key$/,
      ],
    ];
    for (const [file, reason] of cases) {
      const failed = await publicFrom(
        `${dir}/${file}`,
        "--public",
        `${dir}/out/public.pem`,
      );
      const line = await oneErrorLine(failed);
      assert.ok(line.includes(`'${dir}/${file}'`), line);
      assert.match(line, reason);
    }
    assert.equal(
      await Deno.stat(`${dir}/out`).then(() => true, () => false),
      false,
      "nothing written",
    );

    // Making a new pair is another thing: its options do not mix.
    const mixed = await publicFrom(`${dir}/private.pem`, "--bits", "4096");
    assert.notEqual((await mixed.child.status).code, 0);
    assert.match(
      mixed.stderr,
      /option '--public-from <path>' cannot be used with option '--bits <bits>'/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve and chat connect: two users chat through real processes; SIGTERM shuts down cleanly", async () => {
  const dir = await Deno.makeTempDir();
  let server: ChatProcess | null = null;
  try {
    await keygen(dir);
    server = serveProcess(dir);
    const port = await listeningPort(server);
    await server.waitFor(/Server key fingerprint: SHA256:/);

    const jojo = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
    ]);
    await jojo.waitFor(/Enter your username:/);
    await jojo.write("jojo\n");
    await jojo.waitFor(/SUCCESS: Username registered\./);

    const sophia = new ChatProcess([
      "connect",
      "127.0.0.1",
      "--port",
      port,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "sophia",
    ]);
    await sophia.write(
      "Hello everyone!\n/msg jojo How are you?\n/msg nobody hi\n/bogus\n/quit\nthis is never sent\n",
    );
    const sophiaStatus = await sophia.finish();
    // Two commands failed: a script hears it from the exit status.
    assert.equal(sophiaStatus.code, 1, sophia.stdout + sophia.stderr);
    const sophiaLines = sophia.stdout.split("\n");
    for (
      const line of [
        `Connecting to ws://127.0.0.1:${port}`,
        "Handshake Finished. Start AES encrypted transmission",
        "SUCCESS: Username registered.",
        "Broadcast message sent: Hello everyone!",
        "Private message to jojo: How are you?",
      ]
    ) {
      assert.ok(
        sophiaLines.includes(line),
        `sophia should see ${JSON.stringify(line)}:\n${sophia.stdout}`,
      );
    }
    // Errors go to stderr, in the order the commands were given, local
    // ones included; nothing else does.
    const errors = sophia.stderr.split("\n").filter((line) => line !== "");
    assert.equal(errors.length, 2, sophia.stderr);
    assert.equal(errors[0], "ERROR: User 'nobody' is not online.");
    assert.match(errors[1]!, /^ERROR: Unknown command '\/bogus'/);
    assert.doesNotMatch(sophia.stdout, /ERROR/);
    const order = [
      "Broadcast message sent: Hello everyone!",
      "Private message to jojo: How are you?",
    ].map((line) => sophiaLines.indexOf(line));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), sophia.stdout);

    await jojo.waitFor(/Private message from sophia: How are you\?/);
    assert.ok(
      jojo.stdout.split("\n").includes(
        "[Broadcast from sophia]: Hello everyone!",
      ),
      jojo.stdout,
    );
    assert.doesNotMatch(jojo.stdout, /this is never sent/);
    const jojoStatus = await jojo.finish();
    assert.equal(jojoStatus.code, 0, jojo.stderr);

    server.kill("SIGTERM");
    const serverStatus = await server.finish();
    assert.equal(serverStatus.code, 0, server.stderr);
    assert.match(server.stdout, /Shutting down/);
  } finally {
    server?.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect with the wrong public key names both fingerprints and exits non-zero quickly", async () => {
  const dir = await Deno.makeTempDir();
  let server: ChatProcess | null = null;
  try {
    await keygen(`${dir}/server`);
    await keygen(`${dir}/other`);
    server = serveProcess(`${dir}/server`);
    const port = await listeningPort(server);
    const started = Date.now();
    const client = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/other/public.pem`,
      "--user",
      "eve",
    ]);
    const status = await client.finish();
    assert.notEqual(status.code, 0);
    assert.ok(Date.now() - started < 8000, "no hang");
    assert.match(
      client.stderr,
      /Server key mismatch: expected SHA256:\S+ .*presented SHA256:\S+/,
    );
    assert.doesNotMatch(client.stdout, /Handshake Finished/);
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect refuses a --user the server would refuse before it connects, in the server's words", async () => {
  const dir = await Deno.makeTempDir();
  let server: ChatProcess | null = null;
  try {
    await keygen(`${dir}/server`);
    server = serveProcess(`${dir}/server`);
    const port = await listeningPort(server);
    for (
      const [user, said] of [
        ["bad name!", /^ERROR: Invalid username 'bad name!': names are 1-32 /],
        ["", /^ERROR: Username cannot be empty\n$/],
        // Its own words name the character too, beside its code point
        // (the server's reply stays printable ASCII); one that draws
        // nothing by its code point alone.
        ["José", /, not 'é' \(U\+00E9, character 4\)\n$/],
        ["a\u200bb", /, not U\+200B \(character 2\)\n$/],
      ] as const
    ) {
      const client = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${dir}/server/public.pem`,
        "--user",
        user,
      ]);
      const status = await client.finish();
      assert.equal(status.code, 1);
      assert.match(client.stderr, said);
      // Refused before anything was tried: no connection, no handshake.
      assert.equal(client.stdout, "");
    }
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect says which keys/public.pem it pins when it finds one in the current folder", async () => {
  const dir = await Deno.makeTempDir();
  let server: ChatProcess | null = null;
  try {
    await keygen(`${dir}/keys`);
    server = serveProcess(`${dir}/keys`);
    const port = await listeningPort(server);
    const [, printed] = await server.waitFor(
      /Server key fingerprint: (SHA256:\S+)/,
    );
    const client = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--user",
      "jojo",
    ], { cwd: dir });
    await client.write("/quit\n");
    assert.equal((await client.finish()).code, 0, client.stdout);
    assert.ok(
      client.stdout.split("\n").includes(
        `Using the server key in keys/public.pem (${printed})`,
      ),
      client.stdout,
    );
    // Given with --pub, the user chose it: nothing to point out.
    const chosen = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "nana",
    ]);
    await chosen.write("/quit\n");
    assert.equal((await chosen.finish()).code, 0, chosen.stdout);
    assert.doesNotMatch(chosen.stdout, /Using the server key/);
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve with a bad key file or a busy port prints one line and exits non-zero", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.pem`, "not a key\n");
    const bad = new ChatProcess([
      "serve",
      "--key",
      `${dir}/bad.pem`,
      "--port",
      "0",
    ]);
    const badStatus = await bad.finish();
    assert.equal(badStatus.code, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /^chat: /);

    const missing = new ChatProcess([
      "serve",
      "--key",
      `${dir}/none.pem`,
      "--port",
      "0",
    ]);
    assert.equal((await missing.finish()).code, 1);
    assert.match(missing.stderr, /none\.pem/);

    await keygen(dir);
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busyPort = (listener.addr as Deno.NetAddr).port;
    const busy = serveProcess(dir, String(busyPort));
    assert.equal((await busy.finish()).code, 1);
    // A listener that answers nothing: who holds it cannot be told.
    assert.match(
      busy.stderr,
      new RegExp(
        `Port ${busyPort} is already in use \\(is a chat server already running there\\?\\); choose another with --port`,
      ),
    );

    const flag = new ChatProcess(["serve", "--port", "notaport"]);
    assert.notEqual((await flag.finish()).code, 0);
    assert.match(flag.stderr, /port/i);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect paces a script under the server's rate limit, and exits 1 when the server ends the session", async () => {
  const dir = await Deno.makeTempDir();
  let server: ChatProcess | null = null;
  try {
    await keygen(dir);
    server = serveProcess(dir, 0, "--rate", "20", "--burst", "5");
    const port = await listeningPort(server);
    const listener = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "listener",
    ]);
    await listener.waitFor(/SUCCESS: Username registered\./);
    const script = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "script",
    ]);
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i}`);
    await script.write(lines.join("\n") + "\n");
    assert.equal((await script.finish()).code, 0, script.stdout);
    assert.doesNotMatch(script.stdout, /slow down/);
    await listener.waitFor(/\[Broadcast from script\]: line 59/);
    const heard = listener.stdout.split("\n").filter((l) =>
      l.startsWith("[Broadcast from script]")
    );
    assert.deepEqual(
      heard,
      lines.map((l) => `[Broadcast from script]: ${l}`),
      "all of them, in order",
    );

    // The server goes away while a script is still sending: exit status 1.
    const late = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "late",
      "--no-reconnect",
    ]);
    await late.write(lines.join("\n") + "\n");
    await late.closeStdin();
    await listener.waitFor(/\[Broadcast from late\]: line 10/);
    server.kill("SIGTERM");
    assert.equal((await late.finish()).code, 1, late.stdout);
    await listener.finish();
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve on a port another chat server holds says so; on one a web server holds, says another program", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-port-held-" });
  await keygen(dir);
  const first = serveProcess(dir, 0, "--data", ":memory:");
  try {
    const port = await listeningPort(first);
    const second = serveProcess(dir, port, "--data", ":memory:");
    assert.equal((await second.finish()).code, 1);
    // Before, only 'already in use; choose another with --port'.
    assert.match(
      second.stderr,
      new RegExp(
        `Port ${port} is already in use by a chat server \\(another 'chat serve' is running there\\): connect to it, stop it, or choose another port with --port`,
      ),
    );
    assert.equal(second.stderr.trim().split("\n").length, 1, second.stderr);

    await using web = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("not chat"),
    );
    const other = serveProcess(dir, web.addr.port, "--data", ":memory:");
    assert.equal((await other.finish()).code, 1);
    assert.match(
      other.stderr,
      new RegExp(
        `Port ${web.addr.port} is already in use by another program; choose another with --port`,
      ),
    );
  } finally {
    first.kill("SIGTERM");
    await first.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve asks who holds its port on this machine itself, never through the HTTP proxy the environment names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-port-proxy-" });
  await keygen(dir);
  const first = serveProcess(dir, 0, "--data", ":memory:");
  // A proxy that answers every request itself, as one that cannot reach
  // the asking machine's loopback address does (502).
  const proxied: string[] = [];
  await using proxy = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      // (Deno's own check for a newer version goes through it too.)
      if (!request.url.includes("dl.deno.land")) proxied.push(request.url);
      return new Response("Bad Gateway", { status: 502 });
    },
  );
  const proxyUrl = `http://127.0.0.1:${proxy.addr.port}`;
  try {
    const port = await listeningPort(first);
    const second = new ChatProcess([
      "serve",
      "--key",
      `${dir}/private.pem`,
      "--host",
      "127.0.0.1",
      "--port",
      port,
      "--data",
      ":memory:",
    ], {
      env: {
        HTTP_PROXY: proxyUrl,
        http_proxy: proxyUrl,
        HTTPS_PROXY: proxyUrl,
        https_proxy: proxyUrl,
        ALL_PROXY: proxyUrl,
        all_proxy: proxyUrl,
      },
    });
    assert.equal((await second.finish()).code, 1);
    // Before, the question went to the proxy, whose 502 read as another
    // program holding the port.
    assert.match(
      second.stderr,
      new RegExp(`Port ${port} is already in use by a chat server`),
    );
    assert.deepEqual(proxied, []);
  } finally {
    first.kill("SIGTERM");
    await first.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
