/** Memory and identity across restarts, with real server processes and a real database. */

import assert from "node:assert/strict";
import { ChatClient, decodeText } from "../../src/client/chat_client.ts";
import { toBase64 } from "../../src/crypto/bytes.ts";
import {
  generateIdentity,
  identityFingerprint,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import { readPublicKeyFile } from "../../src/crypto/key_files.ts";
import {
  DATABASE_FILE,
  openStore,
  type SqliteStore,
} from "../../src/store/sqlite_store.ts";
import { FORGED_KEY } from "../_helpers/small_order.ts";
import {
  settle,
  startTestServer,
  TestClient,
  testIdentity,
} from "../_helpers/chat.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { freeze } from "../_helpers/freeze.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-persist-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A server on 127.0.0.1 keeping its data in `dir`/data. */
function serve(
  dir: string,
  port: number | string = 0,
  keyDir = dir,
  ...extra: string[]
): ChatProcess {
  return serveProcess(keyDir, port, "--data", `${dir}/data`, ...extra);
}

function client(
  dir: string,
  port: string,
  user: string,
  identity: string,
  ...extra: string[]
): ChatProcess {
  return new ChatProcess([
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    user,
    "--identity",
    identity,
    ...extra,
  ]);
}

/** `chat admin release jojo` on the store in `dir`, running to its end. */
async function releaseJojo(
  dir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const released = new ChatProcess([
    "admin",
    "release",
    "jojo",
    "--data",
    `${dir}/data`,
  ]);
  const { code } = await released.finish();
  return { code, stdout: released.stdout, stderr: released.stderr };
}

async function stop(server: ChatProcess): Promise<void> {
  server.kill("SIGTERM");
  assert.equal((await server.finish()).code, 0, server.stderr);
}

Deno.test("a restarted server keeps groups, membership, history and a pending offline message", async () => {
  await withDir(async (dir) => {
    await makeKeys(dir);
    let server = serve(dir);
    try {
      const port = await listeningPort(server);
      await server.waitFor(/Data is kept in .*data/);
      const jojo = client(dir, port, "jojo", `${dir}/jojo.pem`);
      await jojo.waitFor(/SUCCESS: Username registered\./);
      const sophia = client(dir, port, "sophia", `${dir}/sophia.pem`);
      await sophia.waitFor(/SUCCESS: Username registered\./);
      await sophia.write("/create haha\n");
      await sophia.waitFor(/SUCCESS: Group 'haha' created and joined\./);
      await jojo.write("/join haha\n");
      await jojo.waitFor(/SUCCESS: Joined group 'haha'\./);
      await sophia.write("/group haha before the restart\n");
      await jojo.waitFor(
        /\[Receive group haha message from sophia\]: before the restart/,
      );
      assert.equal((await jojo.finish()).code, 0);
      // jojo's process is gone before the server has seen it go: under load
      // the message would still find jojo online.
      await sophia.waitFor(/\*\*\* jojo left the chat \*\*\*/);
      await sophia.write(
        "/msg jojo waiting for you\n/group haha while jojo was away\n/quit\n",
      );
      assert.equal((await sophia.finish()).code, 0);
      assert.match(
        sophia.stdout,
        /jojo is offline; the message will be delivered when they connect\./,
      );

      await stop(server);
      server = serve(dir, port);
      await server.waitFor(/listening on/);

      const back = client(dir, port, "jojo", `${dir}/jojo.pem`);
      await back.waitFor(
        /\[history \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] Private message from sophia: waiting for you/,
      );
      await back.waitFor(
        /\[history [^\]]+\] \[Receive group haha message from sophia\]: while jojo was away/,
      );
      await back.write("/showgroupmembers haha\n/history haha\n/quit\n");
      assert.equal((await back.finish()).code, 0, back.stderr);
      assert.match(back.stdout, /Members of haha: jojo, sophia \(offline\)/);
      const history = back.stdout.slice(back.stdout.indexOf("Members of haha"));
      assert.match(
        history,
        /\[history [^\]]+\] \[Receive group haha message from sophia\]: before the restart\n.*while jojo was away/,
      );
      assert.match(history, /End of history for group 'haha' \(2 messages\)\./);
      // Delivered once: connecting again shows no pending messages.
      const again = client(dir, port, "jojo", `${dir}/jojo.pem`);
      await again.write("/quit\n");
      assert.equal((await again.finish()).code, 0);
      assert.doesNotMatch(again.stdout, /waiting for you/);
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("a name cannot be taken with another identity key until the operator releases it", async () => {
  await withDir(async (dir) => {
    await makeKeys(dir);
    const server = serve(dir);
    try {
      const port = await listeningPort(server);
      const owner = client(dir, port, "jojo", `${dir}/owner.pem`);
      await owner.write("/quit\n");
      assert.equal((await owner.finish()).code, 0);
      assert.match(owner.stdout, /Created your identity key SHA256:/);

      // Offline or online, another key is refused with both fingerprints,
      // and the holder's spelling: names ignore case, which 'JoJo' alone
      // did not say.
      const thief = client(dir, port, "JoJo", `${dir}/thief.pem`);
      assert.equal((await thief.finish()).code, 1);
      assert.match(
        thief.stderr,
        /ERROR: The name 'JoJo' belongs to another identity key \(SHA256:\S+\), as 'jojo' \(names ignore case\); yours is SHA256:\S+\./,
      );

      const released = await releaseJojo(dir);
      assert.equal(released.code, 0, released.stderr);
      assert.match(released.stdout, /Released 'jojo'/);
      const newOwner = client(dir, port, "jojo", `${dir}/thief.pem`);
      await newOwner.write("/quit\n");
      assert.equal((await newOwner.finish()).code, 0, newOwner.stdout);
      const oldOwner = client(dir, port, "jojo", `${dir}/owner.pem`);
      assert.equal(
        (await oldOwner.finish()).code,
        1,
        "the name now belongs to the new key",
      );
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("chat admin release keeps the old key's waiting messages, groups and private history from the name's next key", async () => {
  await withDir(async (dir) => {
    await makeKeys(dir);
    const server = serve(dir);
    try {
      const port = await listeningPort(server);
      const owner = client(dir, port, "jojo", `${dir}/owner.pem`);
      await owner.waitFor(/SUCCESS: Username registered\./);
      const amy = client(dir, port, "amy", `${dir}/amy.pem`);
      await amy.waitFor(/SUCCESS: Username registered\./);
      await amy.write("/create lab\n");
      await amy.waitFor(/SUCCESS: Group 'lab' created and joined\./);
      await owner.write("/join lab\n");
      await owner.waitFor(/SUCCESS: Joined group 'lab'\./);
      await amy.write("/msg jojo shown to the old key\n");
      await owner.waitFor(/shown to the old key/);
      await owner.write("/quit\n");
      assert.equal((await owner.finish()).code, 0);
      await amy.waitFor(/\*\*\* jojo left the chat \*\*\*/);
      await amy.write("/msg jojo waiting for the old key\n");
      await amy.waitFor(/jojo is offline; the message will be delivered/);
      await amy.write("/group lab group news for the old key\n");
      await amy.waitFor(/group news for the old key/);

      // Released while the server runs, which still lists jojo in lab.
      const released = await releaseJojo(dir);
      assert.equal(released.code, 0, released.stderr);
      // 3 if the old key's client quit before acknowledging what it showed.
      assert.match(
        released.stdout,
        new RegExp(
          "^Released 'jojo': the next identity key to sign in with that name will own it\\.\n" +
            "Deleted the [23] messages waiting for the old key\\.\n" +
            "Took it out of 1 group: lab\\.\n" +
            "Its private and group history so far stays the old key's: the next key is not shown it\\.\n$",
        ),
      );
      // Twice: nothing is bound to the name any more, and it says so.
      const again = await releaseJojo(dir);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /chat: The name 'jojo' is not bound to any key in .* \(nobody signed in with it, or it was released already\)/,
      );
      const next = client(dir, port, "jojo", `${dir}/next.pem`);
      await next.waitFor(/SUCCESS: Username registered\./);
      await next.write("/history amy\n");
      await next.waitFor(/history for your conversation with amy/);
      await next.write("/showgroupmembers lab\n");
      await next.waitFor(/Members of lab: /);
      await next.write("/quit\n");
      assert.equal((await next.finish()).code, 0, next.stderr);
      assert.match(
        next.stdout,
        /No history for your conversation with amy\./,
      );
      assert.match(next.stdout, /Members of lab: amy\n/);
      assert.doesNotMatch(next.stdout + next.stderr, /\[history|amy:/);
      await amy.write("/quit\n");
      assert.equal((await amy.finish()).code, 0);
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("chat serve names each name bound to a small-order key with the command that releases it", async () => {
  await withDir(async (dir) => {
    await makeKeys(dir);
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    // As a server before the small-order check would have left it.
    const store = openStore(`${dir}/data/${DATABASE_FILE}`);
    store.ensureUser("Mallory", "mallory", 1);
    store.bindFingerprint("mallory", await identityFingerprint(FORGED_KEY));
    store.ensureUser("jojo", "jojo", 1);
    store.bindFingerprint("jojo", (await testIdentity()).fingerprint);
    store.close();

    const server = serve(dir);
    try {
      await listeningPort(server);
      await server.waitFor(/Data is kept in /);
      const [line] = await server.waitFor(
        /WARNING: the name 'Mallory' is bound to an identity key nobody can sign in with \(SHA256:\S+: a key of small order.*\n/,
      );
      assert.ok(
        line!.includes(
          `Free it with: chat admin release Mallory --data ${dir}/data`,
        ),
        line,
      );
      await server.waitFor(/They connect with:/);
      assert.doesNotMatch(server.stdout, /'jojo' is bound/);
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("history respects membership: nothing from before someone joined or while they had left", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const nana = await TestClient.connect(server, "nana");
  await sophia.client.request({ t: "create", group: "haha" });
  await sophia.client.gsay("haha", "one: before nana joined");
  await nana.client.request({ t: "join", group: "haha" });
  await sophia.client.gsay("haha", "two: nana is a member");
  await nana.client.request({ t: "leave", group: "haha" });
  await sophia.client.gsay("haha", "three: nana has left");
  await nana.client.request({ t: "join", group: "haha" });
  await sophia.client.gsay("haha", "four: nana is back");

  const texts = async (who: TestClient) => {
    const before = who.inbox.length;
    const reply = await who.client.request({ t: "history", target: "haha" });
    assert.equal(reply.t, "ok");
    // Only history: a live copy of the last message may still be arriving.
    return who.inbox.slice(before)
      .filter((m) => m.message.t === "group" && m.message.history === true)
      .map((m) => m.text);
  };
  assert.deepEqual(await texts(nana), [
    "two: nana is a member",
    "four: nana is back",
  ]);
  assert.deepEqual(await texts(sophia), [
    "one: before nana joined",
    "two: nana is a member",
    "three: nana has left",
    "four: nana is back",
  ]);
  // Not a member: no group history at all.
  const outsider = await TestClient.connect(server, "outsider");
  const refused = await outsider.client.request({
    t: "history",
    target: "haha",
  });
  assert.equal(refused.t === "error" && refused.code, "not_member");
  await Promise.all([sophia.quit(), nana.quit(), outsider.quit()]);
});

Deno.test("every acknowledged message survives a kill -9 of the server mid-traffic", async () => {
  await withDir(async (dir) => {
    await makeKeys(dir);
    // No rate limit: the talker sends as fast as the server answers.
    let server = serve(dir, 0, dir, "--rate", "0", "--rate-per-address", "0");
    try {
      const port = await listeningPort(server);
      const { spki } = await readPublicKeyFile(`${dir}/public.pem`);
      const url = `ws://127.0.0.1:${port}`;
      const talker = await ChatClient.connect(url, { pinnedSpki: spki });
      assert.equal((await talker.register("talker")).t, "welcome");
      const acknowledged: string[] = [];
      // Requests in flight when the server dies may or may not have been saved;
      // every one that was answered ok must be there.
      const sending = (async () => {
        for (let i = 0; i < 5000; i++) {
          const text = `message ${i}`;
          const reply = await talker.say(text);
          if (reply.t !== "ok") break;
          acknowledged.push(text);
        }
      })();
      const deadline = Date.now() + WAIT_MS;
      while (acknowledged.length < 150 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      server.kill("SIGKILL");
      await server.finish();
      await sending;
      await talker.ended;

      server = serve(dir, port);
      await server.waitFor(/listening on/);
      const reader = await ChatClient.connect(url, { pinnedSpki: spki });
      assert.equal((await reader.register("reader")).t, "welcome");
      const seen: string[] = [];
      reader.onMessage(({ message, body }) => {
        if (message.t === "public" && message.history) {
          seen.push(decodeText(body));
        }
      });
      const reply = await reader.request({ t: "history", limit: 500 });
      assert.equal(reply.t, "ok");
      assert.ok(acknowledged.length >= 150 && acknowledged.length < 500);
      assert.deepEqual(seen.slice(0, acknowledged.length), acknowledged);
      await reader.quit();
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("chat connect --trust-first-use remembers a server's key, and refuses it when it changes, naming the line to remove", async () => {
  await withDir(async (dir) => {
    await makeKeys(`${dir}/first`);
    await makeKeys(`${dir}/second`);
    const home = `${dir}/config`;
    let server = serve(dir, 0, `${dir}/first`);
    const run = (port: string, ...extra: string[]) =>
      new ChatProcess(
        ["connect", `127.0.0.1:${port}`, "--user", "sophia", ...extra],
        {
          cwd: dir, // no keys/public.pem here: the known-hosts file decides
          env: { XDG_CONFIG_HOME: home },
        },
      );
    try {
      const port = await listeningPort(server);
      const [, fingerprint] = await server.waitFor(
        /Server key fingerprint: (SHA256:\S+)/,
      );
      const first = run(port, "--trust-first-use");
      await first.write("/quit\n");
      assert.equal((await first.finish()).code, 0, first.stdout + first.stderr);
      assert.ok(
        first.stdout.includes(
          `First connection to 127.0.0.1:${port}: its key is ${fingerprint}.`,
        ),
        first.stdout,
      );
      assert.match(
        await Deno.readTextFile(`${home}/chat/known_hosts`),
        new RegExp(
          `127\\.0\\.0\\.1:${port} ${fingerprint!.replace(/[+/]/g, "\\$&")}`,
        ),
      );

      const again = run(port);
      await again.write("/quit\n");
      assert.equal((await again.finish()).code, 0);
      assert.doesNotMatch(again.stdout, /First connection/);

      await stop(server);
      server = serve(dir, port, `${dir}/second`);
      const [, other] = await server.waitFor(
        /Server key fingerprint: (SHA256:\S+)/,
      );
      const refused = run(port);
      assert.equal((await refused.finish()).code, 1);
      assert.ok(
        refused.stderr.includes(
          `you trusted ${fingerprint}, it now presents ${other}`,
        ),
        refused.stderr,
      );
      // The header takes lines 1-3; the server is on line 4.
      assert.ok(
        refused.stderr.includes(
          `remove line 4 (127.0.0.1:${port}) from '${home}/chat/known_hosts' or pass the server's public key with --pub FILE`,
        ),
        refused.stderr,
      );
      // --trust-first-use trusts a first contact only, never a changed key.
      const stillRefused = run(port, "--trust-first-use");
      assert.equal((await stillRefused.finish()).code, 1);
      assert.match(stillRefused.stderr, /The key of server .* has changed/);
      assert.doesNotMatch(refused.stdout, /Username registered/);
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("every missed message is delivered at sign-in, beyond one history page", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const key = await testIdentity();
  const jojo = await TestClient.connect(server, "jojo", key);
  await jojo.quit();
  const sophia = await TestClient.connect(server, "sophia");
  const sent = await Promise.all(
    Array.from(
      { length: 600 },
      (_, i) => sophia.client.msg("jojo", `missed ${i}`),
    ),
  );
  assert.ok(sent.every((r) => r.t === "ok" && r.text.includes("is offline")));
  const back = await TestClient.connect(server, "jojo", key);
  await back.waitFor((m) => m.text === "missed 599");
  const texts = back.inbox.filter((m) => m.message.t === "private").map((m) =>
    m.text
  );
  assert.deepEqual(texts, Array.from({ length: 600 }, (_, i) => `missed ${i}`));
  await Promise.all([sophia.quit(), back.quit()]);
});

Deno.test("the same identity key signing in again takes over its old session; another key cannot", async () => {
  await using server = await startTestServer();
  const key = await testIdentity();
  const old = await TestClient.connect(server, "jojo", key);
  const fresh = await TestClient.connect(server, "jojo", key);
  assert.deepEqual(await old.client.ended, {
    clean: true,
    reason: "Disconnected by the server: you signed in from another place.",
    bye: "replaced",
  });
  assert.equal((await fresh.client.say("still me")).t, "ok");
  await assert.rejects(
    TestClient.connect(server, "jojo"),
    /belongs to another identity key/,
  );
  await fresh.quit();
});

Deno.test("messages sent to a connection that dies unheard are delivered again at the next sign-in", async () => {
  await using server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-requeue-" });
  const { privatePem } = await generateIdentity();
  await Deno.writeTextFile(`${dir}/jojo.pem`, privatePem);
  const frozen = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-net",
      `--allow-read=${dir}`,
      new URL("../_helpers/frozen_client.ts", import.meta.url).pathname,
      server.url,
      toBase64(server.spki),
      "jojo",
      `${dir}/jojo.pem`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = frozen.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    assert.equal((await reader.read()).value?.trim(), "ready");
    const sophia = await TestClient.connect(server, "sophia");
    await freeze(frozen.pid);
    // The server still thinks jojo is online: this goes to a connection that will die.
    const reply = await sophia.client.msg("jojo", "did you get this?");
    assert.ok(reply.t === "ok" && reply.text === "", "sent live, not queued");
    frozen.kill("SIGKILL");
    await frozen.status;
    await sophia.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "jojo" &&
      !m.message.online
    );
    const back = await TestClient.connect(
      server,
      "jojo",
      await importIdentityPem(privatePem),
    );
    const missed = await back.waitFor((m) => m.message.t === "private");
    assert.equal(missed.text, "did you get this?");
    assert.equal(
      missed.message.t === "private" && missed.message.history,
      true,
    );
    await Promise.all([sophia.quit(), back.quit()]);
  } finally {
    try {
      frozen.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await frozen.status;
    await reader.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

/** The real store, with `durable()`'s answer passed through `wrap`. */
function withDurable(
  store: SqliteStore,
  wrap: (synced: Promise<void> | null) => Promise<void> | null,
): SqliteStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "durable") return () => wrap(target.durable());
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("with --sync full, a sender's reply waits for the disk while the others already have the message", async () => {
  await withDir(async (dir) => {
    const real = openStore(`${dir}/chat.db`, { synchronous: "FULL" });
    // The real store, with a hand on when the next sync is seen to finish.
    let holdNext: Promise<void> | null = null;
    const store = withDurable(real, (synced) => {
      if (holdNext === null || synced === null) return synced;
      const hold = holdNext;
      holdNext = null;
      return Promise.all([synced, hold]).then(() => {});
    });
    await using server = await startTestServer({ store });
    const alice = await TestClient.connect(server, "alice");
    const bob = await TestClient.connect(server, "bob");
    try {
      // Everything written so far (sign-ins, acknowledgements) is synced.
      await settle(alice, bob);
      let release!: () => void;
      holdNext = new Promise((resolve) => (release = resolve));
      let replied = false;
      const reply = alice.client.request(
        { t: "say" },
        new TextEncoder().encode("saved first"),
      ).then((r) => {
        replied = true;
        return r;
      });
      await bob.waitFor((m) =>
        m.message.t === "public" && m.text === "saved first"
      );
      // A round trip for bob, so alice's reply had every chance to arrive.
      await bob.client.request({ t: "list" });
      assert.equal(replied, false, "the reply waits for the sync");
      release();
      assert.equal((await reply).t, "ok");
    } finally {
      await alice.quit();
      await bob.quit();
      await server.shutdown();
      real.close();
    }
  });
});

Deno.test("with --sync full, messages to oneself in a large frame arrive whole once stored", async () => {
  await withDir(async (dir) => {
    const store = openStore(`${dir}/chat.db`, { synchronous: "FULL" });
    await using server = await startTestServer({ store });
    const alice = await TestClient.connect(server, "alice");
    try {
      // Two in one frame of over 16 KiB: the frame is freed once routed,
      // while the replies and the self-deliveries still wait for the disk.
      const text = "x".repeat(10_000);
      const body = new TextEncoder().encode(text);
      const replies = await Promise.all([
        alice.client.request({ t: "msg", to: "alice" }, body),
        alice.client.request({ t: "msg", to: "alice" }, body),
      ]);
      assert.deepEqual(replies.map((r) => r.t), ["ok", "ok"]);
      await alice.waitFor(() =>
        alice.inbox.filter((m) => m.message.t === "private").length === 2
      );
      const received = alice.inbox.filter((m) => m.message.t === "private");
      assert.deepEqual(received.map((m) => m.text), [text, text]);
      assert.deepEqual(server.logs.filter((l) => l.includes("encode")), []);
    } finally {
      await alice.quit();
      await server.shutdown();
      store.close();
    }
  });
});

Deno.test("with --sync full, a server that shuts down sends the replies still waiting for the disk before its goodbye", async () => {
  await withDir(async (dir) => {
    const real = openStore(`${dir}/chat.db`, { synchronous: "FULL" });
    // A disk that takes its time: no sync finishes while `slow` is pending.
    let slow: Promise<void> | null = null;
    const store = withDurable(
      real,
      (synced) =>
        slow === null ? synced : Promise.all([synced, slow]).then(() => {}),
    );
    const server = await startTestServer({ store });
    const alice = await TestClient.connect(server, "alice");
    try {
      await settle(alice);
      let release!: () => void;
      slow = new Promise((resolve) => (release = resolve));
      const reply = alice.client.request(
        { t: "say" },
        new TextEncoder().encode("last words"),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stopped = server.shutdown();
      setTimeout(() => {
        slow = null;
        release();
      }, 100);
      assert.equal((await reply).t, "ok", "stored, and told so");
      await stopped;
    } finally {
      await server.shutdown();
      real.close();
    }
  });
});
