/**
 * Limits shared by all the connections of one address (every test client is
 * on 127.0.0.1), and the store's cap, over real connections.
 */

import assert from "node:assert/strict";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { STORE_FULL } from "../../src/server/router.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
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

Deno.test("startServer refuses new messages while the store is full of messages still owed, and takes them again once delivered", async () => {
  const notices: string[] = [];
  const store = openStore(":memory:", {
    maxBytes: 256 * KIB,
    capCheckEvery: 1,
    notice: (line) => notices.push(line),
  });
  await using server = await startTestServer({
    store,
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  try {
    const identity = await testIdentity();
    const later = await TestClient.connect(server, "later", identity);
    await later.quit();
    const sender = await TestClient.connect(server, "sender");
    const text = "y".repeat(3900);
    let refused: ServerMessage | null = null;
    let sent = 0;
    for (; sent < 500 && refused === null; sent++) {
      const reply = await sender.client.msg("later", text);
      if (reply.t !== "ok") refused = reply;
    }
    assert.deepEqual(
      refused === null ? null : { ...refused, re: null },
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
    // Delivered (and acknowledged) when "later" signs in: room again.
    const back = await TestClient.connect(server, "later", identity);
    await back.waitFor((m) => m.message.t === "private" && m.text === text);
    let accepted = false;
    const deadline = Date.now() + 5000;
    while (!accepted && Date.now() < deadline) {
      const reply = await sender.client.say("room again?");
      accepted = reply.t === "ok";
      if (!accepted) await back.client.request({ t: "list" });
    }
    assert.ok(accepted, notices.join("\n"));
    assert.ok(notices.some((l) => l.startsWith("The store has room again")));
    await Promise.all([back.quit(), sender.quit()]);
  } finally {
    await server.shutdown();
    store.close();
  }
});
