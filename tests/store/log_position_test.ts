import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "../../src/store/sqlite_store.ts";

Deno.test("SqliteStore.logPosition is 0 on a new database, only grows, survives a reopen, and refuses a position that is not a sequence", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_log_position_test_" });
  try {
    const path = join(dir, "chat.db");
    const store = openStore(path);
    assert.equal(store.logPosition(), 0);
    store.transaction(() => store.setLogPosition(7));
    assert.equal(store.logPosition(), 7);
    // A batch applied late never moves it back.
    store.transaction(() => store.setLogPosition(5));
    assert.equal(store.logPosition(), 7);
    assert.throws(() => store.setLogPosition(-1), /not a sequence/);
    assert.throws(() => store.setLogPosition(1.5), /not a sequence/);
    // Undone with its unit of work.
    assert.throws(() =>
      store.transaction(() => {
        store.setLogPosition(9);
        throw new Error("undo");
      })
    );
    assert.equal(store.logPosition(), 7);
    store.close();
    const again = openStore(path);
    assert.equal(again.logPosition(), 7);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
