/** Server limits over real connections: each refusal is clear, logged once, and hurts no one else. */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { toBase64 } from "../../src/crypto/bytes.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { freeze } from "../_helpers/freeze.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

async function until(
  check: () => boolean,
  timeoutMs = WAIT_MS,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("startServer refuses connections over the per-address limit until one is really gone", async () => {
  await using server = await startTestServer({
    connectionLimits: { maxConnectionsPerAddress: 2 },
  });
  const a = await TestClient.connect(server, "a");
  const b = await TestClient.connect(server, "b");
  await assert.rejects(
    ChatClient.connect(server.url, { pinnedSpki: server.spki }),
  );
  await until(() =>
    server.logs.some((l) =>
      l.includes("too many connections from your address")
    )
  );
  await b.quit();
  await until(
    () => server.connectionCount === 1,
    WAIT_MS,
    "the socket to close",
  );
  const c = await TestClient.connect(server, "c");
  assert.equal((await a.client.say("still here")).t, "ok");
  await c.waitFor((m) => m.text === "still here");
  await Promise.all([a.quit(), c.quit()]);
});

Deno.test("startServer slows a flooding client down, then disconnects it; others keep chatting; logged once", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      messagesPerSecond: 5,
      messageBurst: 5,
      floodStrikes: 20,
    },
  });
  const good = await TestClient.connect(server, "good");
  const other = await TestClient.connect(server, "other");
  const flooder = await TestClient.connect(server, "flooder");
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) => flooder.client.say(`spam ${i}`)),
  );
  const slowed = replies.filter((r) =>
    r.t === "error" && r.code === "slow_down"
  );
  assert.ok(
    slowed.length >= 4,
    `some were refused: ${JSON.stringify(replies)}`,
  );
  assert.ok(
    slowed.every((r) => r.t === "error" && r.text === "ERROR: slow down"),
  );
  // Keep flooding: disconnected with a reason.
  for (let i = 0; i < 40; i++) void flooder.client.say(`more spam ${i}`);
  const ending = await flooder.client.ended;
  assert.deepEqual(ending, {
    clean: true,
    reason: "Disconnected by the server: too many messages too fast.",
    bye: "violation",
  });
  assert.equal((await good.client.say("hello")).t, "ok");
  await other.waitFor((m) => m.text === "hello");
  assert.equal(
    server.logs.filter((l) => l.startsWith("slowing down flooder")).length,
    1,
    server.logs.join("\n"),
  );
  await Promise.all([good.quit(), other.quit()]);
});

Deno.test("startServer closes a connection that never registers a name", async () => {
  await using server = await startTestServer({
    connectionLimits: { registerTimeoutMs: 200 },
  });
  const lurker = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const ending = await lurker.ended;
  assert.deepEqual(ending, {
    clean: true,
    reason: "Disconnected by the server: no username was registered in time.",
    bye: "violation",
  });
});

Deno.test("startServer times out each unregistered connection on its own deadline, and never a registered one", async () => {
  await using server = await startTestServer({
    connectionLimits: { registerTimeoutMs: 300 },
  });
  const connect = () =>
    ChatClient.connect(server.url, { pinnedSpki: server.spki });
  const started = performance.now();
  const early = await connect();
  const named = await TestClient.connect(server, "named");
  await new Promise((resolve) => setTimeout(resolve, 150));
  const late = await connect();
  const endedAt = async (client: ChatClient) => {
    const ending = await client.ended;
    assert.match(ending.reason, /no username was registered in time/);
    return performance.now() - started;
  };
  const [earlyEnd, lateEnd] = await Promise.all([
    endedAt(early),
    endedAt(late),
  ]);
  // The late one was not swept with the early one: its own 300 ms ran first.
  assert.ok(lateEnd - earlyEnd >= 100, `${earlyEnd} then ${lateEnd} ms`);
  // Well past every deadline, the registered client is still served.
  await new Promise((resolve) => setTimeout(resolve, 400));
  const reply = await named.client.request({ t: "list" } as never);
  assert.notEqual(reply.t, "error");
  await named.quit();
});

Deno.test("startServer cuts off a client that stops reading, without delaying anyone else", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      maxBacklogBytes: 256 * 1024,
      messagesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
    },
  });
  const frozen = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-net",
      new URL("../_helpers/frozen_client.ts", import.meta.url).pathname,
      server.url,
      toBase64(server.spki),
      "sleepy",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = frozen.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    assert.equal((await reader.read()).value?.trim(), "ready");
    const talker = await TestClient.connect(server, "talker");
    const listener = await TestClient.connect(server, "listener");
    await freeze(frozen.pid);
    // Large messages, in rounds, until the frozen client's backlog (past what
    // the kernel's socket buffers absorb) passes the bound. Each round waits
    // for the listener to have read it, so on a loaded machine only the
    // frozen client falls behind (a round is well under the bound).
    const text = "x".repeat(3900);
    const dismissed = () =>
      server.logs.some((l) => l.includes("disconnecting sleepy"));
    for (let round = 0; round < 200 && !dismissed(); round++) {
      const last = `round ${round} ${text}`;
      const replies = await Promise.all(
        Array.from(
          { length: 25 },
          (_, i) => talker.client.say(i === 24 ? last : text),
        ),
      );
      assert.ok(replies.every((r) => r.t === "ok"));
      await listener.waitFor((m) => m.text === last);
      // Drop the round's chat (keeping e.g. presence) so waits stay short.
      const kept = listener.inbox.filter((m) => m.message.t !== "public");
      listener.inbox.splice(0, Infinity, ...kept);
    }
    assert.ok(
      server.logs.some((l) =>
        l.includes("disconnecting sleepy") && l.includes("not reading")
      ),
      server.logs.join("\n"),
    );
    await listener.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "sleepy" &&
      !m.message.online
    );
    assert.equal((await talker.client.say("after")).t, "ok");
    await listener.waitFor((m) => m.text === "after");
    await Promise.all([talker.quit(), listener.quit()]);
  } finally {
    frozen.kill("SIGKILL");
    await frozen.status;
    await reader.cancel().catch(() => {});
  }
});
