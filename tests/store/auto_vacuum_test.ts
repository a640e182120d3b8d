import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "../../src/store/sqlite_store.ts";

function append(store: ReturnType<typeof openStore>, i: number, bytes: number) {
  store.transaction(() =>
    store.appendPublic({
      ts: i,
      fromKey: "a",
      fromName: "a",
      body: new Uint8Array(bytes).fill(120),
    })
  );
}

Deno.test("SqliteStore made new gives the pages of what it deleted back to the disk, a few each check", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_auto_vacuum_test_" });
  const path = `${dir}/chat.db`;
  try {
    // 2000 messages of 4 KB: some 9 MB.
    const big = openStore(path, { maxBytes: 64 * 1024 * 1024 });
    try {
      big.ensureUser("a", "a", 1);
      for (let i = 1; i <= 2000; i++) append(big, i, 4000);
    } finally {
      big.close();
    }
    const full = (await Deno.stat(path)).size;
    assert.ok(full > 8_000_000, `${full} bytes`);
    // A cap of 1 MiB deletes most of them as it opens; the pages come back
    // over the checks that follow.
    const small = openStore(path, { maxBytes: 1024 * 1024, capCheckEvery: 1 });
    let writes = 0;
    try {
      while (writes < 2000 && pagesBytes(path) >= 3_000_000) {
        append(small, 3000 + writes++, 10);
      }
    } finally {
      small.close();
    }
    const after = (await Deno.stat(path)).size;
    assert.ok(
      after < 3_000_000,
      `${after} bytes of ${full} after ${writes} writes`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteStore sets incremental auto_vacuum on a new file only, never on one that has tables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_auto_vacuum_test_" });
  const path = `${dir}/chat.db`;
  try {
    openStore(path).close();
    assert.equal(autoVacuum(path), 2);
    // A file with tables already (as every store made before): unchanged,
    // whether the store takes it or not.
    await Deno.remove(path);
    const old = new DatabaseSync(path);
    old.exec("CREATE TABLE before_us(x)");
    old.close();
    try {
      openStore(path).close();
    } catch {
      // Not a chat store: refused, which is not what is checked here.
    }
    assert.equal(autoVacuum(path), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function autoVacuum(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(db.prepare("PRAGMA auto_vacuum").get()?.auto_vacuum);
  } finally {
    db.close();
  }
}

/** The database's pages, free ones included, in bytes (its size once checkpointed). */
function pagesBytes(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const row = db.prepare(
      "SELECT p.page_count * s.page_size AS n FROM pragma_page_count() p, pragma_page_size() s",
    ).get();
    return Number(row?.n);
  } finally {
    db.close();
  }
}
