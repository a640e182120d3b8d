/**
 * Wall time per public message stored, as the server stores one at a
 * typing pace: one transaction per message through `SqliteStore` (a fresh
 * database file in a temporary folder, its checkpoint worker started, the
 * log's sync asked for after each commit as the server asks before an
 * `ok`), and the same with parts of the work left out, to say what each
 * part costs.
 *
 *     deno run -A bench/store_cost.ts [messages per round]
 *
 * Prints µs per message for three rounds of each variant. Not part of
 * `deno task bench`: at 200 messages a second, storing is one of the steps
 * between a message's arrival and its first delivery (bench/BASELINE.md,
 * "Fan-out at a typing pace").
 */

import { SqliteStore } from "../src/store/sqlite_store.ts";

const MESSAGES = Number(Deno.args[0] ?? 3000);
const ROUNDS = 3;
const BODY = new Uint8Array(100).fill(0x41);

type Step = (store: SqliteStore, n: number) => void;

const VARIANTS: [string, Step][] = [
  ["as the server: client id checked, row, touch", (store, n) => {
    const clientId = `c${n}`;
    store.sentWithClientId("alice", clientId);
    store.appendPublic({
      ts: Date.now(),
      fromKey: "alice",
      fromName: "alice",
      body: BODY,
      clientId,
    });
    store.touchMessage("alice", Date.now());
  }],
  ["without a client id", (store) => {
    store.appendPublic({
      ts: Date.now(),
      fromKey: "alice",
      fromName: "alice",
      body: BODY,
    });
    store.touchMessage("alice", Date.now());
  }],
  ["the row alone", (store) => {
    store.appendPublic({
      ts: Date.now(),
      fromKey: "alice",
      fromName: "alice",
      body: BODY,
    });
  }],
  ["the sender's last-message time alone", (store) => {
    store.touchMessage("alice", Date.now());
  }],
  ["an empty transaction", () => {}],
];

for (const [label, step] of VARIANTS) {
  const dir = await Deno.makeTempDir({ prefix: "chat-store-cost-" });
  const store = SqliteStore.open(`${dir}/chat.db`);
  try {
    store.startCheckpointer();
    store.ensureUser("alice", "alice", Date.now());
    const perMessage: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        store.transaction(() => step(store, round * MESSAGES + i));
        // As the server does before it answers `ok` (not awaited there).
        store.durable();
      }
      perMessage.push(
        ((performance.now() - start) * 1000 / MESSAGES).toFixed(1),
      );
    }
    console.log(`${label.padEnd(46)} ${perMessage.join(" / ")} µs`);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}
