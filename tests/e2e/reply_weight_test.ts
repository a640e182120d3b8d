/**
 * A classmate flooding the requests whose replies name many users or groups
 * (`list`, `groups`, `members`) over a real server and real sockets: each
 * takes a token per 256 names its reply may carry (reply_weight.ts,
 * docs/PROTOCOL.md 5.8), so the rate limit holds the work they cost.
 */

import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  startTestServer,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import type { Identity } from "../../src/crypto/identity.ts";

/** `raw` sends `count` requests `t` in one frame; how each was answered. */
async function burst(raw: RawClient, t: string, count: number) {
  const ids = Array.from({ length: count }, () => raw.nextId());
  raw.send(await raw.seal(...ids.map((id) => ({ header: { t, id } }))));
  let answered = 0;
  let slowDown = 0;
  for (const id of ids) {
    const reply = await raw.replyTo(id);
    if (reply.t === t || (t === "list" && reply.t === "users")) answered++;
    else if (reply.t === "error" && reply.code === "slow_down") slowDown++;
    else assert.fail(`unexpected reply ${JSON.stringify(reply)}`);
  }
  return { answered, slowDown };
}

async function signedIn(
  server: TestServer,
  name: string,
  identity?: Identity,
): Promise<RawClient> {
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  const reply = await raw.register(name, identity ? { identity } : {});
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return raw;
}

Deno.test("a groups request naming 600 groups takes 3 tokens: of 40 sent at once (the burst), at most 14 are answered, the rest are told to slow down", async () => {
  const store = openStore(":memory:");
  try {
    for (let i = 0; i < 600; i++) {
      store.createGroup(`club${i}`, `club${i}`, "someone", 0);
    }
    await using server = await startTestServer({ store });
    await using mallory = await signedIn(server, "mallory");
    // The bucket holds at most 40 tokens (the burst): 40, 37, ... 1 pass.
    const { answered, slowDown } = await burst(mallory, "groups", 40);
    assert.ok(answered <= 14, `${answered} answered`);
    assert.ok(answered >= 12, `${answered} answered`);
    assert.equal(slowDown, 40 - answered);
  } finally {
    store.close();
  }
});

Deno.test("a list naming 270 users online takes 2 tokens, and one naming a few takes 1", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      // The room signs in from one address at once.
      handshakesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
      maxUnfinishedPerAddress: 0,
      maxConnectionsPerAddress: 1000,
    },
  });
  // A key may hold many names: one proof each, no key generated each.
  const identity = await testIdentity();
  const room: RawClient[] = [];
  try {
    await using few = await signedIn(server, "early", identity);
    const small = await burst(few, "list", 30);
    assert.deepEqual(small, { answered: 30, slowDown: 0 });
    for (let i = 0; i < 270; i += 30) {
      room.push(
        ...await Promise.all(
          Array.from(
            { length: 30 },
            (_, k) => signedIn(server, `person${i + k}`, identity),
          ),
        ),
      );
    }
    await using mallory = await signedIn(server, "mallory", identity);
    const { answered, slowDown } = await burst(mallory, "list", 40);
    // 40, 38, ... 2 pass: 20 (21 if a token came back meanwhile).
    assert.ok(answered <= 21, `${answered} answered`);
    assert.ok(answered >= 18, `${answered} answered`);
    assert.equal(slowDown, 40 - answered);
  } finally {
    await Promise.all(room.map((raw) => raw.close()));
  }
});
