/**
 * Limits shared by all the connections of one address (every test client is
 * on 127.0.0.1), and the store's cap, over real connections.
 */

import assert from "node:assert/strict";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { ChatClient } from "../../src/client/chat_client.ts";
import { droppedUnconfirmed, STORE_FULL } from "../../src/server/router.ts";
import { TOO_MANY_NEW_NAMES } from "../../src/server/serve.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  settle,
  startTestServer,
  TestClient,
  testIdentity,
} from "../_helpers/chat.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

Deno.test("startServer holds all the connections of one address to its shared rate: past it, slow_down", async () => {
  const rate = 10;
  const burst = 20;
  await using server = await startTestServer({
    connectionLimits: {
      // Each connection alone is far within its own limit.
      messagesPerSecond: 100,
      messageBurst: 100,
      messagesPerSecondPerAddress: rate,
      messageBurstPerAddress: burst,
      floodStrikes: 1000,
    },
  });
  const started = performance.now();
  const clients: TestClient[] = [];
  for (let i = 0; i < 6; i++) {
    clients.push(await TestClient.connect(server, `c${i}`));
  }
  const replies: ServerMessage[] = (await Promise.all(
    clients.map((c, i) =>
      Promise.all(
        Array.from({ length: 20 }, (_, n) => c.client.say(`${i}.${n}`)),
      )
    ),
  )).flat();
  const seconds = (performance.now() - started) / 1000;
  const ok = replies.filter((r) => r.t === "ok").length;
  const slowed =
    replies.filter((r) =>
      r.t === "error" && r.code === "slow_down" && r.text === "ERROR: slow down"
    ).length;
  assert.equal(ok + slowed, 120, JSON.stringify(replies));
  // Registering took tokens too; what was sent cannot pass the bucket.
  assert.ok(
    ok <= burst + rate * seconds,
    `${ok} ok in ${seconds.toFixed(2)} s`,
  );
  assert.ok(slowed >= 120 - burst - rate * seconds, `${slowed} slowed down`);
  await Promise.all(clients.map((c) => c.quit()));
});

Deno.test("startServer cuts off the connection with the most queued once one address's connections pass its backlog budget", async () => {
  const budget = 2 * MIB;
  const step = 16 * KIB; // serve.ts: the larger of 16 KiB and budget / 256
  await using server = await startTestServer({
    connectionLimits: {
      // Each connection alone could queue far more.
      maxBacklogBytes: 64 * MIB,
      maxBacklogBytesPerAddress: budget,
      messagesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
    },
  });
  // Registered, and then never read from.
  const big = await TcpChatPeer.connect(server.port, server.spki);
  assert.equal((await big.register("big")).t, "welcome");
  const small = await TcpChatPeer.connect(server.port, server.spki);
  assert.equal((await small.register("small")).t, "welcome");
  const talker = await TestClient.connect(server, "talker");
  try {
    const text = "x".repeat(3900);
    const dismissed = (name: string) =>
      server.logs.some((l) => l.includes(`disconnecting ${name}`));
    // Rounds of private messages, twice as many to big as to small, until
    // what is queued for the two (past what the kernel's socket buffers
    // absorb) passes the budget.
    for (let round = 0; round < 1000 && !dismissed("big"); round++) {
      const replies = await Promise.all(
        Array.from(
          { length: 30 },
          (_, i) => talker.client.msg(i % 3 === 0 ? "small" : "big", text),
        ),
      );
      assert.ok(replies.every((r) => r.t === "ok"), JSON.stringify(replies));
    }
    assert.ok(
      server.logs.some((l) =>
        l.includes("disconnecting big") && l.includes("not reading")
      ),
      server.logs.join("\n"),
    );
    assert.equal(dismissed("small"), false, server.logs.join("\n"));
    // The sum when it was seen: past the budget, by less than a step per
    // connection of the address (and the message that crossed it).
    const line = server.logs.find((l) => l.includes("bytes queued for its"));
    const total = Number(/has (\d+) bytes queued/.exec(line ?? "")?.[1]);
    assert.ok(
      total > budget && total <= budget + 3 * step + 8 * KIB,
      line ?? server.logs.join("\n"),
    );
    // The rest of the address is still served.
    assert.equal((await talker.client.say("still here")).t, "ok");
    assert.equal((await talker.client.msg("small", "and you")).t, "ok");
  } finally {
    big.drop();
    small.drop();
    await talker.quit();
  }
});

/**
 * A server whose store is capped at `maxBytes` (checked at every commit),
 * its notices collected, with no rate limit in the way.
 */
async function serverWithStoreCap(maxBytes: number) {
  const notices: string[] = [];
  const store = openStore(":memory:", {
    maxBytes,
    capCheckEvery: 1,
    notice: (line) => notices.push(line),
  });
  const server = await startTestServer({
    store,
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  return { notices, store, server };
}

Deno.test("startServer, its store flooded with group messages for accounts that never come back, keeps taking everyone's messages: the flooded lose the oldest and are told, the rest lose nothing", async () => {
  const { notices, store, server } = await serverWithStoreCap(512 * KIB);
  try {
    const mallory = await TestClient.connect(server, "mallory");
    assert.equal(
      (await mallory.client.request({ t: "create", group: "g" })).t,
      "ok",
    );
    // Accounts made to be owed the flood, and never seen again.
    const sockIdentity = await testIdentity();
    for (let i = 0; i < 12; i++) {
      const sock = await TestClient.connect(
        server,
        `sock${i}`,
        i === 3 ? sockIdentity : undefined,
      );
      assert.equal(
        (await sock.client.request({ t: "join", group: "g" })).t,
        "ok",
      );
      await sock.quit();
    }
    const carolIdentity = await testIdentity();
    const carol = await TestClient.connect(server, "carol", carolIdentity);
    await carol.quit();
    const alice = await TestClient.connect(server, "alice");
    const forCarol = Array.from({ length: 10 }, (_, i) => `see you at ${i}`);
    for (const text of forCarol) {
      assert.equal((await alice.client.msg("carol", text)).t, "ok");
    }
    // 1,200 group messages of 900 bytes, owed to 12 members: twice the cap
    // in bodies alone. Every one is taken. (Under 1 KiB: Deno's WebSocket
    // client sends a longer frame in two writes with Nagle on, 40 ms each.)
    const flood = (i: number) => `${i} `.padEnd(900, "f");
    for (let i = 0; i < 1200; i++) {
      const reply = await mallory.client.gsay("g", flood(i));
      assert.equal(reply.t, "ok", `${i}: ${JSON.stringify(reply)}`);
    }
    assert.equal((await alice.client.say("still here")).t, "ok");
    assert.ok(
      notices.some((l) => l.startsWith("The store is at its cap")),
      notices.join("\n"),
    );
    assert.ok(!notices.some((l) => l.startsWith("The store is full")));

    // carol lost nothing, and is told nothing.
    const back = await TestClient.connect(server, "carol", carolIdentity);
    await back.waitFor((m) => m.text === forCarol.at(-1));
    await settle(back);
    assert.deepEqual(back.chat(), forCarol.map((t) => ["private", "alice", t]));
    assert.equal(back.inbox.filter((m) => m.message.t === "error").length, 0);

    // A flooded member gets the newest, in order, then how many went.
    const sock = await TestClient.connect(server, "sock3", sockIdentity);
    const told = await sock.waitFor((m) => m.message.t === "error");
    const got = sock.chat().map(([, , text]) => text);
    assert.ok(got.length > 100 && got.length < 1000, `${got.length} kept`);
    assert.deepEqual(
      got,
      Array.from({ length: 1200 }, (_, i) => flood(i)).slice(-got.length),
    );
    assert.deepEqual(
      { ...told.message },
      {
        t: "error",
        re: null,
        code: "limit",
        text: droppedUnconfirmed(1200 - got.length),
      },
    );
    await Promise.all([back.quit(), sock.quit(), alice.quit(), mallory.quit()]);
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("startServer, its store flooded with one classmate's private messages for someone away, gives up the flood, not what others sent them before it", async () => {
  const { notices, store, server } = await serverWithStoreCap(512 * KIB);
  try {
    const bobIdentity = await testIdentity();
    const bob = await TestClient.connect(server, "bob", bobIdentity);
    await bob.quit();
    // While bob is away, the teacher tells him his homework...
    const alice = await TestClient.connect(server, "alice");
    const homework = ["homework: page 12", "due Monday"];
    for (const text of homework) {
      assert.equal((await alice.client.msg("bob", text)).t, "ok");
    }
    // ...and mallory sends him twice what the store has room for.
    const mallory = await TestClient.connect(server, "mallory");
    const flood = (i: number) => `${i} `.padEnd(900, "f");
    for (let i = 0; i < 1200; i++) {
      const reply = await mallory.client.msg("bob", flood(i));
      assert.equal(reply.t, "ok", `${i}: ${JSON.stringify(reply)}`);
    }
    assert.ok(
      notices.some((l) => l.startsWith("The store is at its cap")),
      notices.join("\n"),
    );
    const back = await TestClient.connect(server, "bob", bobIdentity);
    const told = await back.waitFor((m) => m.message.t === "error");
    const got = back.chat();
    assert.deepEqual(
      got.slice(0, 2),
      homework.map((t) => ["private", "alice", t]),
      "alice's messages wait for bob",
    );
    const kept = got.slice(2).map(([, from, text]) => {
      assert.equal(from, "mallory");
      return text;
    });
    assert.ok(kept.length > 100 && kept.length < 1000, `${kept.length} kept`);
    assert.deepEqual(
      kept,
      Array.from({ length: 1200 }, (_, i) => flood(i)).slice(-kept.length),
    );
    assert.equal(
      (told.message as { text: string }).text,
      droppedUnconfirmed(1200 - kept.length),
    );
    await Promise.all([back.quit(), alice.quit(), mallory.quit()]);
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("startServer, its store flooded while a member is online and has not confirmed the flood, tells them at their next sign-in what was given up without saying they were away", async () => {
  const { store, server } = await serverWithStoreCap(512 * KIB);
  try {
    const mallory = await TestClient.connect(server, "mallory");
    assert.equal(
      (await mallory.client.request({ t: "create", group: "g" })).t,
      "ok",
    );
    // Online throughout, and slow: it confirms nothing it was sent (its
    // handling never ends), so all of it stays owed to it.
    const identity = await testIdentity();
    const slow = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    slow.ackWhenHandled();
    assert.equal((await slow.register("slow", identity)).t, "welcome");
    slow.onMessage(() => new Promise<void>(() => {}));
    assert.equal((await slow.request({ t: "join", group: "g" })).t, "ok");
    // 800 of 900 bytes: past the cap in bodies alone.
    const flood = (i: number) => `${i} `.padEnd(900, "f");
    for (let i = 0; i < 800; i++) {
      const reply = await mallory.client.gsay("g", flood(i));
      assert.equal(reply.t, "ok", `${i}: ${JSON.stringify(reply)}`);
    }
    assert.equal(slow.isOver, false, "the slow member stayed online");
    slow.abort();
    await slow.ended;
    const back = await TestClient.connect(server, "slow", identity);
    const told = await back.waitFor((m) => m.message.t === "error");
    const text = (told.message as { text: string }).text;
    const count = Number(/gave up (\d+) /.exec(text)?.[1]);
    assert.ok(count > 0, text);
    assert.equal(text, droppedUnconfirmed(count));
    assert.doesNotMatch(text, /away/);
    await Promise.all([back.quit(), mallory.quit()]);
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("startServer refuses new messages while the store is full of what it cannot delete, and says so once", async () => {
  // Below what an empty store's tables take: full from the start.
  const { notices, store, server } = await serverWithStoreCap(16 * KIB);
  try {
    const later = await TestClient.connect(server, "later");
    await later.quit();
    const sender = await TestClient.connect(server, "sender");
    const msg = await sender.client.msg("later", "hello");
    assert.deepEqual(
      { ...msg, re: null },
      { t: "error", re: null, code: "limit", text: STORE_FULL },
    );
    const say = await sender.client.say("hello");
    assert.equal(say.t === "error" && say.text, STORE_FULL);
    assert.equal(
      notices.filter((l) => l.startsWith("The store is full")).length,
      1,
    );
    assert.equal(
      server.logs.filter((l) => l.includes(STORE_FULL)).length,
      1,
      server.logs.join("\n"),
    );
    await sender.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("startServer lets one address register a few names never seen a minute; names it has used sign in freely", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      newNamesPerMinutePerAddress: 1,
      newNameBurstPerAddress: 3,
      // Every test client is on loopback, which is free by default.
      limitNewNamesFromLoopback: true,
    },
  });
  const identity = await testIdentity();
  const first = await TestClient.connect(server, "new0", identity);
  await first.quit();
  for (const name of ["new1", "new2"]) {
    await (await TestClient.connect(server, name)).quit();
  }
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const refused = await client.register("new3");
    assert.deepEqual({ ...refused, re: null }, {
      t: "error",
      re: null,
      code: "limit",
      text: TOO_MANY_NEW_NAMES,
    });
  } finally {
    await client.quit();
  }
  // A name used before is not new: new0 signs in again.
  const again = await TestClient.connect(server, "new0", identity);
  await again.quit();
});

Deno.test("startServer does not hold loopback to the new-name rate unless told to", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      newNamesPerMinutePerAddress: 1,
      newNameBurstPerAddress: 1,
    },
  });
  for (const name of ["free0", "free1", "free2"]) {
    await (await TestClient.connect(server, name)).quit();
  }
});
