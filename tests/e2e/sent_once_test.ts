/**
 * Nothing twice from the sender's side (docs/PROTOCOL.md, "Delivery"): a
 * chat message sent again with the same `cid` after its reply was lost is
 * stored and delivered once. A real server and store, real clients, and a
 * real `chat connect` behind a TCP relay that can swallow the server's
 * answers.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatClient,
  decodeText,
  newClientId,
  type Reply,
} from "../../src/client/chat_client.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  testKeys,
} from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("msg with the same cid on a new connection is answered with the first one's position and not stored or sent again", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const key = await testIdentity();
  const sophia = await TestClient.connect(server, "sophia");
  const cid = newClientId();

  let jojo = await ChatClient.connect(server.url, { pinnedSpki: server.spki });
  const welcome = await jojo.register("jojo", key);
  assert.equal(welcome.t === "welcome" && welcome.cids, true);
  const first = await jojo.msg("sophia", "only once", cid);
  assert.equal(first.t, "ok");
  assert.ok(first.t === "ok" && first.id !== undefined && first.seq === 1);
  jojo.abort();
  await jojo.ended;
  await sophia.waitFor((m) => m.message.t === "presence" && !m.message.online);

  jojo = await ChatClient.connect(server.url, { pinnedSpki: server.spki });
  assert.equal((await jojo.register("jojo", key)).t, "welcome");
  const again = await jojo.msg("sophia", "only once", cid);
  // The same position; a retry's answer does not name the recipient.
  assert.deepEqual(again, withoutName(first));
  // Another sender's cid is theirs alone, and a new cid is a new message.
  assert.equal((await sophia.client.msg("jojo", "mine", cid)).t, "ok");
  const next = await jojo.msg("sophia", "only once", newClientId());
  assert.ok(next.t === "ok" && next.seq === 3, JSON.stringify(next));
  assert.equal((await sophia.client.request({ t: "ping" })).t, "pong");
  assert.equal(
    sophia.chat().filter(([, , text]) => text === "only once").length,
    2,
  );
  const stored = store.history(
    { kind: "private", viewerKey: "jojo", otherKey: "sophia" },
    10,
  );
  assert.deepEqual(stored.map((m) => decodeText(m.body)), [
    "only once",
    "mine",
    "only once",
  ]);
  await jojo.quit();
  await sophia.quit();
});

Deno.test("say and gsay with a cid are stored once; a malformed cid is a bad request", async () => {
  await using server = await startTestServer();
  const jojo = await TestClient.connect(server, "jojo");
  const sophia = await TestClient.connect(server, "sophia");
  assert.equal(
    (await jojo.client.request({ t: "create", group: "team" })).t,
    "ok",
  );
  assert.equal(
    (await sophia.client.request({ t: "join", group: "team" })).t,
    "ok",
  );
  const cid = newClientId();
  const position = (reply: Reply) =>
    reply.t === "ok" ? [reply.id, reply.seq] : reply;
  const said = position(await jojo.client.say("hello all", cid));
  assert.deepEqual(position(await jojo.client.say("hello all", cid)), said);
  const team = newClientId();
  const grouped = position(await jojo.client.gsay("team", "hello team", team));
  assert.deepEqual(
    position(await jojo.client.gsay("team", "hello team", team)),
    grouped,
  );
  assert.notDeepEqual(said, grouped);
  assert.equal((await sophia.client.request({ t: "ping" })).t, "pong");
  assert.deepEqual(sophia.chat().filter(([, from]) => from === "jojo"), [
    ["public", "jojo", "hello all"],
    ["group:team", "jojo", "hello team"],
  ]);
  for (
    const bad of ["ABCDEF0123456789", "abc", "0".repeat(33), "g".repeat(16)]
  ) {
    const reply = await jojo.client.say("x", bad);
    assert.equal(reply.t === "error" && reply.code, "bad_request", bad);
  }
  await jojo.quit();
  await sophia.quit();
});

/**
 * Relays TCP connections to `port`; while `mute` is set, what the server
 * sends is dropped rather than passed on. `cut()` closes every connection.
 */
function relay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const state = { mute: false };
  const pump = async (
    from: Deno.Conn,
    to: Deno.Conn,
    muted: () => boolean,
  ) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (!muted()) await to.write(buffer.subarray(0, n));
      }
    } catch {
      // A closed side ends the relay of this connection.
    }
    for (const conn of [from, to]) {
      if (open.delete(conn)) conn.close();
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      open.add(client).add(upstream);
      void pump(client, upstream, () => false);
      void pump(upstream, client, () => state.mute);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    state,
    cut() {
      // A close would wait for the pending reads; a FIN ends them.
      for (const conn of open) {
        try {
          conn.closeWrite();
        } catch {
          // Already closed.
        }
      }
    },
    async close() {
      this.cut();
      listener.close();
      await accepting;
    },
  };
}

Deno.test("chat connect sends a line again after a connection cut before its reply, and it arrives once and is reported sent", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const dir = await Deno.makeTempDir({ prefix: "chat-sent-once-" });
  const link = relay(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  let bot: ChatProcess | null = null;
  try {
    const pub = join(dir, "server.pub");
    await Deno.writeTextFile(pub, (await testKeys()).publicPem);
    bot = new ChatProcess([
      "connect",
      `127.0.0.1:${link.port}`,
      "--pub",
      pub,
      "--user",
      "bot",
      "--json",
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
    await bot.waitFor(/"type":"welcome"/);
    // Sophia has no end-to-end keys: the bot learns it with its first
    // message (which costs a round trip), and sends the next as plain msg.
    await bot.write('{"cmd":"msg","to":"sophia","text":"warm up"}\n');
    await sophia.waitFor((m) => m.text === "warm up");
    // The server's answers are swallowed from here: it stores and delivers
    // the message, and the bot never hears that it did.
    link.state.mute = true;
    await bot.write(
      '{"cmd":"msg","to":"sophia","text":"just once","id":"m"}\n',
    );
    await sophia.waitFor((m) => m.text === "just once");
    link.state.mute = false;
    link.cut();
    await bot.waitFor(/"type":"connection","state":"reconnected"/, WAIT_MS);
    await bot.waitFor(/"re":"m"/);
    assert.match(bot.stdout, /"type":"sent","re":"m"/);
    assert.doesNotMatch(bot.stdout + bot.stderr, /Not sent/);
    // A round trip through the server: a second copy would be here by now.
    assert.equal((await sophia.client.request({ t: "ping" })).t, "pong");
    assert.equal(
      sophia.chat().filter(([, , text]) => text === "just once").length,
      1,
    );
    assert.equal(
      store.history(
        { kind: "private", viewerKey: "bot", otherKey: "sophia" },
        10,
      ).filter((m) => new TextDecoder().decode(m.body) === "just once")
        .length,
      1,
    );
    await bot.write('{"cmd":"quit"}\n');
    assert.equal((await bot.finish()).code, 0, bot.stderr);
    bot = null;
  } finally {
    if (bot !== null) {
      bot.kill("SIGKILL");
      await bot.finish();
    }
    await sophia.quit();
    await link.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a flood of other client ids past the server's bound does not make a quiet sender's retry of an old line a second message", async () => {
  const kept = 300;
  const store = openStore(":memory:", { clientIdsKept: kept });
  // The rate limits lifted (as bench/ does), so that one client floods
  // past the bound in a moment rather than in half an hour.
  await using server = await startTestServer({
    store,
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const key = await testIdentity();
  const sophia = await TestClient.connect(server, "sophia");
  const cid = newClientId();
  let jojo = await ChatClient.connect(server.url, { pinnedSpki: server.spki });
  assert.equal((await jojo.register("jojo", key)).t, "welcome");
  const first = await jojo.msg("sophia", "before the outage", cid);
  assert.ok(first.t === "ok" && first.id !== undefined, JSON.stringify(first));
  // Its answer lost with the connection (as far as jojo knows).
  jojo.abort();
  await jojo.ended;

  // Meanwhile another user sends three times the bound, each with a new cid.
  const flood = await TestClient.connect(server, "flood");
  const floodCids = Array.from({ length: 3 * kept }, () => newClientId());
  for (let turn = 0; turn < floodCids.length; turn += 100) {
    const replies = await Promise.all(
      floodCids.slice(turn, turn + 100).map((floodCid, i) =>
        flood.client.msg("sophia", `flood ${turn + i}`, floodCid)
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");
  }
  // Past the bound: the flood's own first ones are forgotten.
  assert.equal(store.sentWithClientId("flood", floodCids[0]!), undefined);

  jojo = await ChatClient.connect(server.url, { pinnedSpki: server.spki });
  assert.equal((await jojo.register("jojo", key)).t, "welcome");
  const again = await jojo.msg("sophia", "before the outage", cid);
  // The same position; a retry's answer does not name the recipient.
  assert.deepEqual(again, withoutName(first));
  // Sophia got it once; the store holds it once.
  assert.equal((await sophia.client.request({ t: "ping" })).t, "pong");
  assert.equal(
    sophia.chat().filter(([, , text]) => text === "before the outage").length,
    1,
  );
  const stored = store.history(
    { kind: "private", viewerKey: "jojo", otherKey: "sophia" },
    10,
  );
  assert.deepEqual(stored.map((m) => decodeText(m.body)), [
    "before the outage",
  ]);
  await jojo.quit();
  await flood.quit();
  await sophia.quit();
});

/** A reply without its `name` (an ok to a retry has none). */
function withoutName<T extends object>(reply: T): Omit<T, "name"> {
  const { name: _, ...rest } = reply as T & { name?: string };
  return rest;
}
