import assert from "node:assert/strict";
import {
  AtRestError,
  isSealed,
  openAtRest,
  sealAtRest,
} from "../../src/crypto/at_rest.ts";

const KEY = new Uint8Array(32).fill(7);
const contents = new TextEncoder().encode('{"secret":"the lantern"}');

Deno.test("sealAtRest seals text that openAtRest opens with the same key and label only", async () => {
  const text = await sealAtRest(KEY, "e2e_state", contents);
  assert.ok(isSealed(text));
  assert.ok(!text.includes("lantern"));
  assert.deepEqual(await openAtRest(KEY, "e2e_state", text), contents);
  // A fresh nonce each time.
  assert.notEqual(await sealAtRest(KEY, "e2e_state", contents), text);
  await assert.rejects(
    openAtRest(new Uint8Array(32).fill(8), "e2e_state", text),
    AtRestError,
  );
  await assert.rejects(openAtRest(KEY, "e2e_keys", text), AtRestError);
});

Deno.test("openAtRest refuses a damaged, truncated or unsealed file", async () => {
  const text = await sealAtRest(KEY, "e2e_state", contents);
  const body = text.trim().split(" ")[1]!;
  const bytes = Uint8Array.fromBase64(body);
  bytes[20]! ^= 1;
  await assert.rejects(
    openAtRest(KEY, "e2e_state", `chat-sealed/1 ${bytes.toBase64()}\n`),
    AtRestError,
  );
  await assert.rejects(
    openAtRest(KEY, "e2e_state", "chat-sealed/1 AAAA\n"),
    AtRestError,
  );
  await assert.rejects(openAtRest(KEY, "e2e_state", "{}"), AtRestError);
});
