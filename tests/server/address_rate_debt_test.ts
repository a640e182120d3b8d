/**
 * An address's shared message bucket (docs/PROTOCOL.md 5.8) on a real
 * server: a heavy request (an `ack` of 256 cursors, 17 tokens) leaves it in
 * debt, and a pause of one burst's refill must not forgive that debt.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

const RATE = 10;
const BURST = 10;

Deno.test("an address that pauses a refill after a heavy request still owes its debt: the pings after it pass at the rate, not a whole burst", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      messagesPerSecondPerAddress: RATE,
      messageBurstPerAddress: BURST,
    },
  });
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  try {
    assert.equal((await raw.register("mallory")).t, "welcome");
    // 17 tokens for one ack, then a ping that proves the debt: refused.
    const cursors = Array.from({ length: 256 }, (_, i) => ({
      to: `u${i}`,
      seq: 1,
    }));
    const started = performance.now();
    const probe = raw.nextId();
    raw.send(
      await raw.seal(
        { header: { t: "ack", cursors } },
        { header: { t: "ping", id: probe } },
      ),
    );
    const refused = await raw.replyTo(probe);
    assert.equal(refused.t, "error", JSON.stringify(refused));
    // The attack: idle for a little more than one burst's refill (1 s),
    // when a bucket with no debt is full and was dropped.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const ids = Array.from({ length: BURST }, () => raw.nextId());
    raw.send(
      await raw.seal(...ids.map((id) => ({ header: { t: "ping", id } }))),
    );
    const replies = [];
    for (const id of ids) replies.push(await raw.replyTo(id));
    const elapsed = (performance.now() - started) / 1000;
    const pongs = replies.filter((reply) => reply.t === "pong").length;
    // What the bucket can hold then: the burst, less the registration's
    // two messages and the ack's 17, plus what refilled meanwhile (at
    // most `elapsed`, all of it counted).
    const most = Math.min(BURST, Math.ceil(BURST - 2 - 17 + elapsed * RATE));
    assert.ok(
      pongs <= most,
      `${pongs} pongs after ${elapsed} s, at most ${most}`,
    );
  } finally {
    await raw.close();
  }
});
