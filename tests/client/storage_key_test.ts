import assert from "node:assert/strict";
import { join } from "node:path";
import { loadOrCreateStorageKey } from "../../src/client/storage_key.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

Deno.test("loadOrCreateStorageKey called at once, as two chat connect starting from one config folder, gives every caller the key on disk", async () => {
  await using dir = await tempDir("chat-storage-key-");
  const path = join(dir.path, "storage_key");
  const keys = await Promise.all(
    Array.from({ length: 8 }, () => loadOrCreateStorageKey(path)),
  );
  const onDisk = await loadOrCreateStorageKey(path);
  for (const key of keys) assert.deepEqual(key, onDisk);
  // Nothing left beside it.
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), [
    "storage_key",
  ]);
});
