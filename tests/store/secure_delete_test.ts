import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";

const HOUR = 3600_000;

/** Every distinct match of `pattern` in the files of `dir`, read as bytes. */
async function readable(dir: string, pattern: RegExp): Promise<Set<string>> {
  const found = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    const bytes = await Deno.readFile(`${dir}/${entry.name}`);
    const text = new TextDecoder("latin1").decode(bytes);
    for (const match of text.matchAll(pattern)) found.add(match[0]);
  }
  return found;
}

Deno.test("SqliteStore leaves no deleted message or budget address readable in its files: the cap's and the sweep's deletes are overwritten", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_secure_delete_test_" });
  try {
    const store = openStore(`${dir}/chat.db`, {
      maxBytes: 256 * 1024,
      capCheckEvery: 1,
    });
    const now = Date.now();
    try {
      store.ensureUser("a", "a", 1);
      // 300 messages of 4 KB past a cap of 256 KiB: most are deleted.
      for (let i = 1; i <= 300; i++) {
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
      // Three hours old: the sweep drops them all.
      store.transaction(() => {
        for (let i = 0; i < 50; i++) {
          store.recordBudgetSpend({
            at: now - 3 * HOUR,
            kind: "join",
            address: `fd00:dead:beef::${i.toString(16)}`,
            owner: null,
            count: 1,
          });
        }
      });
      store.transaction(() => store.dropBudgetSpends(now - 2 * HOUR));
      assert.deepEqual(store.budgetSpendsSince(0), []);
    } finally {
      store.close();
    }
    const kept = openStore(`${dir}/chat.db`);
    let ids: number[];
    try {
      ids = kept.history({ kind: "public" }, 1000).map((one) => one.id);
    } finally {
      kept.close();
    }
    assert.ok(ids.length > 0 && ids.length < 100, `${ids.length} kept`);
    const said = await readable(dir, /said-\d{4}/g);
    assert.deepEqual(
      [...said].sort(),
      ids.map((id) => `said-${String(id).padStart(4, "0")}`).sort(),
      "only the messages kept are in the files",
    );
    assert.deepEqual(
      [...await readable(dir, /fd00:dead:beef::[0-9a-f]+/g)],
      [],
      "no address of a dropped spend is in the files",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
