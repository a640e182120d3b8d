import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";

/** Every distinct match of `pattern` in `file` of `dir`, read as bytes. */
async function readable(
  dir: string,
  file: string,
  pattern: RegExp,
): Promise<Set<string>> {
  const bytes = await Deno.readFile(`${dir}/${file}`);
  const text = new TextDecoder("latin1").decode(bytes);
  return new Set([...text.matchAll(pattern)].map((match) => match[0]));
}

function say(store: ReturnType<typeof openStore>, i: number): void {
  store.transaction(() =>
    store.appendPublic({
      ts: i,
      fromKey: "a",
      fromName: "a",
      body: new TextEncoder().encode(
        `said-${String(i).padStart(4, "0")} `.padEnd(4000, "x"),
      ),
    })
  );
}

Deno.test("SqliteStore running leaves no deleted message in its write-ahead log once the log has started again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_wal_linger_test_" });
  const store = openStore(`${dir}/chat.db`, {
    maxBytes: 256 * 1024,
    capCheckEvery: 1,
  });
  try {
    store.startCheckpointer();
    store.ensureUser("a", "a", 1);
    // 300 messages of 4 KB past a cap of 256 KiB: most are deleted.
    for (let i = 1; i <= 300; i++) say(store, i);
    // Copied into the database file, and the log started again by a write.
    assert.ok(await store.checkpoint());
    say(store, 9001);
    assert.ok(await store.checkpoint());
    say(store, 9002);
    const kept = store.history({ kind: "public" }, 1000).map((one) =>
      new TextDecoder().decode(one.body.subarray(0, 9))
    );
    assert.ok(kept.length > 0 && kept.length < 100, `${kept.length} kept`);
    for (const file of ["chat.db", "chat.db-wal"]) {
      const gone = [...await readable(dir, file, /said-\d{4}/g)].filter(
        (one) => !kept.includes(one),
      );
      assert.deepEqual(gone, [], `${gone.length} deleted still in ${file}`);
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
