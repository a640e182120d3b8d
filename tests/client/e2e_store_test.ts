import assert from "node:assert/strict";
import {
  loadE2eStateFrom,
  loadKeyringFrom,
  saveE2eStateTo,
  saveKeyringTo,
  savesInOrder,
} from "../../src/client/e2e_store.ts";
import { archive, emptyE2eState } from "../../src/client/e2e_state.ts";
import { memorySlot } from "../../src/client/text_slot.ts";
import { isSealed } from "../../src/crypto/at_rest.ts";
import { testIdentity } from "../_helpers/chat.ts";

/** A storage key as the web page keeps it: a non-extractable CryptoKey. */
function pageKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
}

Deno.test("loadKeyringFrom makes a keyring sealed under a CryptoKey and reads the same keys back", async () => {
  const identity = await testIdentity();
  const key = await pageKey();
  const slot = memorySlot("in this browser");
  const made = await loadKeyringFrom(slot, identity, key);
  const text = await slot.read();
  assert.ok(text !== null && isSealed(text));
  const again = await loadKeyringFrom(slot, identity, key);
  assert.deepEqual(
    again.secrets.dh.privateSeed,
    made.secrets.dh.privateSeed,
  );
  await saveKeyringTo(slot, again, key);
  // Another key does not open it: the user is told where, and what to do.
  await assert.rejects(
    loadKeyringFrom(slot, identity, await pageKey()),
    /^Error: Cannot read end-to-end keys in this browser: .*; move it away to start new keys$/,
  );
});

Deno.test("saveE2eStateTo seals the state in its slot; loadE2eStateFrom opens it with the same key only", async () => {
  const key = await pageKey();
  const slot = memorySlot("'state'");
  assert.equal((await loadE2eStateFrom(slot, key)).archive.size, 0);
  const state = emptyE2eState();
  archive(state, {
    server: "SHA256:" + "s".repeat(43),
    id: 7,
    from: "ann",
    to: "bob",
    ts: 1,
    text: "the owl flies at midnight",
  });
  await saveE2eStateTo(slot, key, state);
  const text = await slot.read();
  assert.ok(text !== null && !text.includes("owl"));
  const back = await loadE2eStateFrom(slot, key);
  assert.deepEqual([...back.archive.values()], [...state.archive.values()]);
  await assert.rejects(
    loadE2eStateFrom(slot, await pageKey()),
    /Cannot read the end-to-end sessions 'state': .*move it away/,
  );
});

Deno.test("savesInOrder runs one save at a time in call order, each encoding the state when its turn comes; a failed save fails only its own call", async () => {
  const written: string[] = [];
  const turns: PromiseWithResolvers<void>[] = [];
  let started = Promise.withResolvers<void>();
  let running = 0;
  const save = savesInOrder(async (state: { n: number }) => {
    running++;
    try {
      assert.equal(running, 1, "two saves at once");
      const encoded = String(state.n);
      const turn = Promise.withResolvers<void>();
      turns.push(turn);
      started.resolve();
      await turn.promise;
      written.push(encoded);
    } finally {
      running--;
    }
  });
  const state = { n: 1 };
  const first = save(state);
  const second = save(state);
  state.n = 2;
  const third = save({ n: 3 });
  await started.promise;
  started = Promise.withResolvers();
  turns[0]!.resolve();
  await first;
  await started.promise;
  started = Promise.withResolvers();
  assert.equal(turns.length, 2);
  turns[1]!.reject(new Error("disk full"));
  await assert.rejects(second, /disk full/);
  await started.promise;
  turns[2]!.resolve();
  await third;
  // The first ran after the change: what is written is never older than
  // the state at the call.
  assert.deepEqual(written, ["2", "3"]);
});
