import assert from "node:assert/strict";
import process from "node:process";
import { join } from "node:path";
import { KnownHosts } from "../../src/client/known_hosts.ts";
import type { FileOptions } from "../../src/client/connection_files.ts";
import { learnNames } from "../../src/client/names_seen.ts";
import { runSession, type SessionOptions } from "../../src/client/session.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import type { Terminal } from "../../src/client/terminal.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { FILE_WINDOW_BYTES } from "../../src/protocol/limits.ts";
import { announcedFrame, TamperingProxy } from "../_helpers/tampering_proxy.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { HandshakeCutProxy } from "../_helpers/handshake_cut_proxy.ts";
import {
  generateRsaKeyPair,
  importPrivateKeyPem,
} from "../../src/crypto/keys.ts";
import { testCredentials } from "../_helpers/tls.ts";
import { typist } from "../_helpers/typist.ts";
import { ANSWER_GUARD_MS } from "../../src/client/offer_prompts.ts";
import { until } from "../_helpers/bystanders.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** A terminal with a person at it, answering questions through `answer`. */
function personAt(
  answer: (prompt: string) => Promise<string | null>,
  lines: string[],
): Terminal & { printed: string[] } {
  const printed: string[] = [];
  return {
    printed,
    interactive: true,
    color: false,
    print: (line) => printed.push(line),
    printError: (line) => printed.push(line),
    question: answer,
    discardTypedAhead: () => 0,
    setPrompt: () => {},
    setStatus: () => {},
    setWaiting: () => {},
    columns: 80,
    nextLine: () => Promise.resolve(lines.shift() ?? null),
    setCompleter: () => {},
    onKeypress: () => () => {},
    onResize: () => () => {},
    setHistory: () => {},
    onTypedLine: () => {},
    onLeaveKey: () => {},
    close: () => {},
  };
}

/** What a session here says of files unless told: declined, up to 1 KiB. */
const DECLINE_FILES: Pick<FileOptions, "accept" | "maxFileBytes"> = {
  accept: "none",
  maxFileBytes: 1024,
};

/**
 * runSession's options for `session`, in `dir`: a fresh identity, and files
 * as `files` says into `dir`/downloads, trusted from no one, never opened.
 */
async function optionsIn(
  dir: string,
  session: Pick<
    SessionOptions,
    "urls" | "trust" | "user" | "terminal" | "reconnect"
  >,
  files = DECLINE_FILES,
): Promise<SessionOptions> {
  return {
    ...session,
    identity: await testIdentity(),
    files: {
      downloadsDir: join(dir, "downloads"),
      ownDownloadsDir: false,
      trusted: TrustedSenders.inMemory(),
      open: false,
      openWith: null,
      ...files,
    },
  };
}

Deno.test("runSession connects again, and signs in with the name typed, when the server gave up while the user chose a name", async () => {
  await using temp = await tempDir("chat_session_test_");
  const dir = temp.path;
  await using server = await startTestServer({
    connectionLimits: { registerTimeoutMs: 300 },
  });
  const terminal = personAt(async (prompt) => {
    if (prompt.startsWith("Enter your username")) {
      // Slow at the prompt: the server drops the connection meanwhile.
      await until(
        () => server.logs.some((l) => l.includes("no username was registered")),
        "the server to give up",
        WAIT_MS,
      );
      return "sophia";
    }
    return null;
  }, ["/quit"]);
  const code = await runSession(
    await optionsIn(dir, {
      urls: [server.url],
      trust: { kind: "pinned", spki: server.spki, path: "server.pub" },
      user: null,
      terminal,
      reconnect: false,
    }),
  );
  assert.equal(code, 0, terminal.printed.join("\n"));
  assert.ok(
    terminal.printed.includes("SUCCESS: Username registered."),
    terminal.printed.join("\n"),
  );
  assert.ok(
    terminal.printed.includes(
      "The server closed the connection while the name was asked; connecting again",
    ),
    terminal.printed.join("\n"),
  );
  assert.ok(!terminal.printed.some((l) => l.includes("Not sent")));
});

Deno.test("runSession's connection again after the name was asked says each of its waits, as the first connection does", async () => {
  await using temp = await tempDir("chat_session_test_");
  const dir = temp.path;
  await using server = await startTestServer({
    connectionLimits: { registerTimeoutMs: 300 },
  });
  // The first connection goes through; the next one, made once the name
  // is typed, is cut in its handshake once (a busy server).
  await using proxy = new HandshakeCutProxy(server.port, 0);
  const terminal = personAt(async (prompt) => {
    if (prompt.startsWith("Enter your username")) {
      await until(
        () => server.logs.some((l) => l.includes("no username was registered")),
        "the server to give up",
        WAIT_MS,
      );
      proxy.cutNext(1);
      return "sophia";
    }
    return null;
  }, ["/quit"]);
  const code = await runSession(
    await optionsIn(dir, {
      urls: [`ws://127.0.0.1:${proxy.port}`],
      trust: { kind: "pinned", spki: server.spki, path: "server.pub" },
      user: null,
      terminal,
      reconnect: false,
    }),
  );
  const said = terminal.printed.join("\n");
  assert.equal(code, 0, said);
  assert.equal(proxy.cutCount, 1, said);
  assert.ok(terminal.printed.includes("SUCCESS: Username registered."), said);
  // startConnecting (5347549) carries firstConnectPause (c0692dd): why,
  // then a line for the wait, on the connection made again too.
  assert.equal(
    terminal.printed.filter((l) => l.includes("did not let you in yet"))
      .length,
    1,
    said,
  );
  assert.equal(
    terminal.printed.filter((l) =>
      /^Trying again in \d+ s\.\.\. \(Ctrl-D to give up\)$/.test(l)
    ).length,
    1,
    said,
  );
});

Deno.test("runSession connects again, without asking again, when the server gave up while the user read the fingerprint", async () => {
  await using temp = await tempDir("chat_session_test_");
  const dir = temp.path;
  await using server = await startTestServer({
    connectionLimits: { registerTimeoutMs: 300 },
  });
  const hosts = await KnownHosts.load(join(dir, "known_hosts"));
  let asked = Infinity;
  const terminal = personAt(async (prompt) => {
    if (prompt.startsWith("Are you sure")) {
      asked = Math.min(asked, performance.now());
      // A slow reader: the server drops the connection meanwhile.
      await until(
        () => server.logs.some((l) => l.includes("no username was registered")),
        "the server to give up",
        WAIT_MS,
      );
      // An answer sooner is not taken (first_contact.ts).
      const early = asked + ANSWER_GUARD_MS - performance.now();
      if (early > 0) await new Promise((r) => setTimeout(r, early + 50));
      return "yes";
    }
    return "sophia";
  }, ["/quit"]);
  const code = await runSession(
    await optionsIn(dir, {
      urls: [server.url],
      trust: { kind: "known-hosts", hosts, firstContact: "ask" },
      user: null,
      terminal,
      reconnect: false,
    }),
  );
  assert.equal(code, 0, terminal.printed.join("\n"));
  assert.equal(
    terminal.printed.filter((l) => l.startsWith("The authenticity")).length,
    1,
  );
  assert.ok(
    terminal.printed.includes("SUCCESS: Username registered."),
    terminal.printed.join("\n"),
  );
  assert.ok(
    (await KnownHosts.load(join(dir, "known_hosts"))).lookup(
      server.url.slice("ws://".length),
    ) !== null,
  );
});

Deno.test("learnNames takes for completion only names the naming rule allows", () => {
  const users = new Map<string, string>();
  const groups = new Set<string>();
  const evil = "\x1b]0;pwned\x07";
  learnNames(
    {
      t: "users",
      re: 1,
      users: [{ name: "nana", lastMessageAt: null }, {
        name: evil,
        lastMessageAt: null,
      }],
    },
    users,
    groups,
  );
  learnNames({ t: "presence", name: "a b", online: true }, users, groups);
  learnNames({ t: "public", from: `${evil}x`, ts: 1 }, users, groups);
  learnNames({ t: "private", from: "jojo", ts: 1 }, users, groups);
  learnNames(
    { t: "membership", group: "team\u202e", name: "jojo", joined: true },
    users,
    groups,
  );
  learnNames({ t: "group", group: "haha", from: "jojo", ts: 1 }, users, groups);
  assert.deepEqual([...users.values()], ["nana", "jojo"]);
  assert.deepEqual([...groups], ["haha"]);
  learnNames({ t: "presence", name: "NANA", online: false }, users, groups);
  assert.deepEqual([...users.values()], ["jojo"]);
});

Deno.test("learnNames takes a hostile server's 50,000 names joining and leaving in linear time", () => {
  const users = new Map<string, string>();
  const groups = new Set<string>();
  const n = 50_000;
  const started = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    learnNames({ t: "presence", name: `u${i}`, online: true }, users, groups);
  }
  for (let i = 0; i < n; i++) {
    learnNames({ t: "presence", name: `U${i}`, online: false }, users, groups);
  }
  const { user, system } = process.cpuUsage(started);
  assert.equal(users.size, 0);
  // A pass over every name at each departure took minutes for as many.
  assert.ok(user + system < 2_000_000, `${(user + system) / 1000} ms of CPU`);
});

Deno.test("runSession with two addresses moves to the second when the first goes away, says so, remembers its key as the server's and refuses an address with another key", async () => {
  await using temp = await tempDir("chat_session_test_");
  const dir = temp.path;
  const first = await startTestServer();
  await using second = await startTestServer();
  const pair = await generateRsaKeyPair(2048);
  const other = await importPrivateKeyPem(pair.privatePem);
  await using stranger = await startTestServer({
    privateKey: other.privateKey,
    publicSpki: other.publicSpki,
  });
  try {
    const path = join(dir, "known_hosts");
    const terminal = typist();
    const host = (url: string) => url.slice("ws://".length);
    const session = runSession(
      await optionsIn(dir, {
        // The stranger comes after the first: it is tried, refused, and the
        // session goes on round the list to the second.
        urls: [first.url, stranger.url, second.url],
        trust: {
          kind: "known-hosts",
          hosts: await KnownHosts.load(path),
          firstContact: "trust",
        },
        user: "sophia",
        terminal,
        reconnect: true,
      }),
    );
    await until(
      () => terminal.printed.includes("SUCCESS: Username registered."),
      "the welcome",
      WAIT_MS,
    );
    assert.ok(
      terminal.printed.includes(`Connected to ${host(first.url)}`),
      terminal.printed.join("\n"),
    );
    await first.shutdown();
    await until(
      () =>
        terminal.printed.includes(
          `Reconnected to ${host(second.url)} as sophia.`,
        ),
      "the move to the second address",
      WAIT_MS,
    );
    terminal.type("/quit");
    assert.equal(await session, 0, terminal.printed.join("\n"));
    const printed = terminal.printed.join("\n");
    // The whole error in the scrollback, once; its first words on the
    // status row (80 columns) while reconnecting.
    assert.equal(
      printed.split(
        new RegExp(
          `Still reconnecting: ${
            host(stranger.url)
          } presented the key .* not the key`,
        ),
      ).length,
      2,
      printed,
    );
    assert.match(
      terminal.statuses.join("\n"),
      new RegExp(`${host(stranger.url)} presented the key`),
    );
    assert.match(
      printed,
      new RegExp(`${host(second.url)} presented the same key`),
    );
    const hosts = await KnownHosts.load(path);
    const key = hosts.lookup(host(first.url));
    assert.ok(key !== null);
    assert.equal(hosts.lookup(host(second.url)), key);
    assert.equal(hosts.lookup(host(stranger.url)), null);
  } finally {
    await first.shutdown().catch(() => {});
  }
});

Deno.test("runSession on a terminal keeps in the scrollback why the connection was closed when the server broke the protocol, and reconnects", async () => {
  await using proxied = await serverBehindProxy();
  const { terminal, session } = await sophiaThrough(proxied, DECLINE_FILES);
  await proxied.proxy.inject(announcedFrame(2 ** 31));
  await until(
    () => terminal.printed.includes("Reconnected as sophia."),
    "the reconnection",
    WAIT_MS,
  );
  terminal.type("/quit");
  assert.equal(await session, 0, terminal.printed.join("\n"));
  const why = terminal.printed.filter((line) =>
    line.startsWith("The connection to the server was closed: ")
  );
  assert.equal(why.length, 1, terminal.printed.join("\n"));
  assert.match(
    why[0]!,
    /broke the WebSocket protocol \(it sent a frame of 2147483648 bytes/,
  );
  assert.match(why[0]!, /something on the network is tampering/);
  // The status row counted down meanwhile.
  assert.ok(
    terminal.statuses.some((line) => line.startsWith("Reconnecting in ")),
    terminal.statuses.join("\n"),
  );
});

Deno.test("runSession to wss:// says when the server's certificate is not trusted, or it speaks no TLS, and offers ws://", async () => {
  await using temp = await tempDir("chat_session_test_");
  const dir = temp.path;
  // As `chat serve` does for browsers: a self-signed certificate, which
  // nothing on this machine trusts.
  await using secure = await startTestServer({ tls: await testCredentials() });
  await using plain = await startTestServer();
  const run = async (url: string) => {
    const terminal = personAt(() => Promise.resolve(null), []);
    const code = await runSession(
      await optionsIn(dir, {
        urls: [url],
        trust: {
          kind: "known-hosts",
          hosts: await KnownHosts.load(join(dir, "known_hosts")),
          firstContact: "ask",
        },
        user: null,
        terminal,
        reconnect: false,
      }),
    );
    assert.equal(code, 1, terminal.printed.join("\n"));
    return terminal.printed.filter((line) => line.startsWith("ERROR: "));
  };
  const untrusted = `wss://127.0.0.1:${secure.port}`;
  assert.deepEqual(await run(untrusted), [
    `ERROR: Cannot connect to ${untrusted}: The server's TLS certificate is not trusted (invalid peer certificate: UnknownIssuer). If it is the certificate 'chat serve' makes for browsers, connect to ws://127.0.0.1:${secure.port} instead (chat encrypts and checks the server's key on its own), or trust the certificate with DENO_CERT=FILE`,
  ]);
  const noTls = `wss://127.0.0.1:${plain.port}`;
  const [said, ...more] = await run(noTls);
  assert.deepEqual(more, []);
  assert.match(
    said!,
    new RegExp(
      `^ERROR: Cannot connect to ${noTls}: The TLS handshake with the server failed \\(.+\\): does it speak TLS \\(wss://\\) on that port\\?$`,
    ),
  );
});

/** A server, a TamperingProxy in front of it, and a folder for the test. */
async function serverBehindProxy() {
  await using stack = new AsyncDisposableStack();
  const { path: dir } = stack.use(await tempDir("chat_session_test_"));
  const server = stack.use(await startTestServer());
  const proxy = stack.use(new TamperingProxy(server.port));
  // Proxy first, then the server, then the folder.
  const owned = stack.move();
  return {
    dir,
    server,
    proxy,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** Every file offered, up to 64 MiB, taken. */
const TAKE_FILES: Pick<FileOptions, "accept" | "maxFileBytes"> = {
  accept: "all",
  maxFileBytes: 64 * 1024 * 1024,
};

/**
 * sophia's session, on a terminal, through the proxy, signed in: it
 * reconnects, and takes files as `files` says into `dir`/downloads.
 */
async function sophiaThrough(
  { proxy, server, dir }: {
    proxy: TamperingProxy;
    server: { spki: Uint8Array };
    dir: string;
  },
  files = TAKE_FILES,
) {
  const terminal = typist();
  const session = runSession(
    await optionsIn(dir, {
      urls: [`ws://127.0.0.1:${proxy.port}`],
      trust: { kind: "pinned", spki: server.spki, path: "server.pub" },
      user: "sophia",
      terminal,
      reconnect: true,
    }, files),
  );
  await until(
    () => terminal.printed.includes("SUCCESS: Username registered."),
    "the welcome",
    WAIT_MS,
  );
  return { terminal, session };
}

/** The printed lines matching `pattern`. */
function linesLike(printed: string[], pattern: RegExp): string[] {
  return printed.filter((line) => pattern.test(line));
}

/** big.bin in `dir`: 16 MiB of random bytes, many windows long. */
async function bigFile(dir: string): Promise<{ path: string; size: number }> {
  const path = join(dir, "big.bin");
  const size = 16 * 1024 * 1024;
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(path, bytes);
  return { path, size };
}

Deno.test("runSession on a terminal answers a command whose reply a broken protocol cut off in a few words, the reason said once, in full", async () => {
  await using proxied = await serverBehindProxy();
  const { proxy } = proxied;
  const { terminal, session } = await sophiaThrough(proxied);
  // The next frame from the server, the reply to /list at the latest,
  // fails authentication (the last byte of a sealed frame is its AES-GCM
  // tag's): /list is sent before any frame is read.
  const changed = proxy.changeNextBinaryFrame((payload) => {
    payload[payload.length - 1]! ^= 0x01;
  });
  terminal.type("/list");
  await changed;
  await until(
    () => terminal.printed.includes("Reconnected as sophia."),
    "the reconnection",
    WAIT_MS,
  );
  terminal.type("/quit");
  assert.equal(await session, 0, terminal.printed.join("\n"));
  const printed = terminal.printed.join("\n");
  // Not queued for the next connection: it went, and no answer came.
  assert.deepEqual(
    linesLike(terminal.printed, /Not sent/),
    ["ERROR: Not sent: the connection to the server was closed."],
    printed,
  );
  const why = linesLike(terminal.printed, /failed the encryption's checks/);
  assert.equal(why.length, 1, printed);
  assert.match(
    why[0]!,
    /^The connection to the server was closed: the server sent a frame that failed the encryption's checks \(Frame \d+ failed authentication\)\. Something on the network may be tampering with the connection, or the server has a bug\. Reconnecting\.\.\.$/,
  );
  // The status row says it in a few words too, under the line that says why.
  assert.ok(
    terminal.statuses.includes(
      "The connection to the server was closed. Reconnecting...",
    ),
    terminal.statuses.join("\n"),
  );
  assert.ok(
    !terminal.statuses.some((line) => line.includes("encryption")),
    terminal.statuses.join("\n"),
  );
});

Deno.test("runSession on a terminal says in a few words that a file coming in stopped when the server broke the protocol, keeps what arrived, and resumes it when offered again", async () => {
  await using proxied = await serverBehindProxy();
  const { dir, server, proxy } = proxied;
  const { terminal, session } = await sophiaThrough(proxied);
  // jojo is not behind the proxy: what it injects goes to sophia.
  const jojo = await TestClient.connect(server, "jojo", await testIdentity());
  const { path, size } = await bigFile(dir);
  const sender = new FileSender(jojo.client);
  let injected: Promise<void> | null = null;
  const cut = await sender.send({ to: "sophia" }, path, (p) => {
    if (injected !== null || p.acked === 0) return;
    // jojo sends at most a window ahead of what sophia acknowledged:
    // what follows the injected frame is more than she could have had.
    assert.ok(p.acked + FILE_WINDOW_BYTES < size);
    injected = proxy.inject(announcedFrame(2 ** 31));
  });
  await injected;
  assert.equal(cut.kind, "finished");
  assert.equal(cut.kind === "finished" && cut.results[0]?.ok, false);
  await until(
    () => terminal.printed.includes("Reconnected as sophia."),
    "the reconnection",
    WAIT_MS,
  );
  const again = await sender.send({ to: "sophia" }, path);
  assert.equal(
    again.kind === "finished" && again.results[0]?.ok,
    true,
    JSON.stringify(again),
  );
  await until(
    () => terminal.printed.includes("You received file big.bin from jojo."),
    "the file",
    WAIT_MS,
  );
  await jojo.quit();
  terminal.type("/quit");
  assert.equal(await session, 0, terminal.printed.join("\n"));
  const printed = terminal.printed.join("\n");
  assert.deepEqual(
    linesLike(terminal.printed, /not received/),
    [
      "ERROR: File big.bin from jojo was not received: the connection to the server was closed. What arrived is kept: it resumes if jojo offers it again.",
    ],
    printed,
  );
  assert.equal(
    linesLike(terminal.printed, /broke the WebSocket protocol/).length,
    1,
    printed,
  );
  assert.match(
    printed,
    /Resuming big\.bin from jojo at [1-9][\d.]* (B|KiB|MiB) of 16\.0 MiB$/m,
  );
  assert.deepEqual(
    await Deno.readFile(join(dir, "downloads", "big.bin")),
    await Deno.readFile(path),
  );
});

Deno.test("runSession on a terminal says in a few words that a file going out stopped when the server broke the protocol, and offers it again", async () => {
  await using proxied = await serverBehindProxy();
  const { dir, server, proxy } = proxied;
  const { terminal, session } = await sophiaThrough(proxied);
  const jojo = await TestClient.connect(server, "jojo", await testIdentity());
  const { path, size } = await bigFile(dir);
  let injected: Promise<void> | null = null;
  const receiver = new FileReceiver(jojo.client, {
    downloadsDir: join(dir, "jojo"),
    maxFileBytes: size,
    open: false,
    openWith: null,
    resume: true,
    consent: () => Promise.resolve("accept"),
    print: () => {},
    onProgress: (_offer, received) => {
      if (injected !== null || received === 0) return;
      // sophia sends at most a window ahead of what jojo acknowledged,
      // and hears of no more once the injected frame came.
      assert.ok(received + FILE_WINDOW_BYTES < size);
      injected = proxy.inject(announcedFrame(2 ** 31));
    },
  });
  terminal.type(`/file jojo ${path}`);
  await until(
    () => terminal.printed.includes("File big.bin sent to jojo successfully."),
    "the file, offered again",
    WAIT_MS,
  );
  await injected;
  await receiver.idle();
  await jojo.quit();
  terminal.type("/quit");
  assert.equal(await session, 0, terminal.printed.join("\n"));
  const printed = terminal.printed.join("\n");
  assert.deepEqual(
    linesLike(terminal.printed, /big\.bin (stopped|will be)/),
    // Not an ERROR: nothing is lost, it goes again.
    [
      "Not sent yet: big.bin will be offered again once reconnected, resuming where it stopped",
    ],
    printed,
  );
  assert.equal(
    linesLike(terminal.printed, /broke the WebSocket protocol/).length,
    1,
    printed,
  );
  assert.deepEqual(
    await Deno.readFile(join(dir, "jojo", "big.bin")),
    await Deno.readFile(path),
  );
});
