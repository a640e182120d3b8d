import assert from "node:assert/strict";
import {
  decodeBundle,
  encodeBundle,
  generatePrekeys,
  type PrekeyBundle,
} from "../../src/crypto/prekeys.ts";
import { PrekeyDirectory } from "../../src/server/prekey_directory.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { testIdentity } from "../_helpers/chat.ts";

async function bundleWithKeys(): Promise<PrekeyBundle> {
  const { bundle } = await generatePrekeys(await testIdentity(), {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 3,
  });
  return bundle;
}

Deno.test("decodeBundle reads sender_time only as true, and encodeBundle writes it back", async () => {
  const bundle = await bundleWithKeys();
  const json = encodeBundle(bundle);
  assert.equal("sender_time" in json, false);
  for (const other of [false, 1, "true", null]) {
    assert.equal(
      decodeBundle({ ...json, sender_time: other }).senderTime,
      undefined,
    );
  }
  const announced = decodeBundle({ ...json, sender_time: true });
  assert.equal(announced.senderTime, true);
  assert.equal(encodeBundle(announced).sender_time, true);
});

Deno.test("PrekeyDirectory hands out sender_time as published, across a restart, and an upgraded client keeps its one-time keys", async () => {
  const store = openStore(":memory:");
  const bundle = await bundleWithKeys();
  const directory = new PrekeyDirectory(store);
  // An older client: no sender_time, three one-time keys.
  assert.deepEqual(directory.publish("bob", "SHA256:bob", bundle), {
    kind: "stored",
    oneTime: 3,
    changed: true,
  });
  assert.equal(directory.take("bob")?.bundle.senderTime, undefined);
  // The same keys, upgraded: the empty top-up announcing sender_time is
  // stored (not "nothing new"), and the one-time keys left stay.
  assert.deepEqual(
    directory.publish("bob", "SHA256:bob", {
      ...bundle,
      oneTime: [],
      senderTime: true,
    }),
    { kind: "stored", oneTime: 2, changed: true },
  );
  // Read back from the store, as after a restart.
  const restarted = new PrekeyDirectory(store);
  const handed = restarted.take("bob");
  assert.equal(handed?.bundle.senderTime, true);
  assert.equal(handed?.bundle.oneTime.length, 1);
  // And back to an older client: it is no longer announced.
  restarted.publish("bob", "SHA256:bob", { ...bundle, oneTime: [] });
  assert.equal(restarted.peek("bob")?.bundle.senderTime, undefined);
  store.close();
});
