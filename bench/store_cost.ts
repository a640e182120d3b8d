/**
 * Wall time per public message stored, as the server stores them: through
 * `SqliteStore`, a fresh database file in a temporary folder, its
 * checkpoint worker started, the log's sync asked for after each commit as
 * the server asks before an `ok`; one transaction per turn of the event
 * loop, so one per message at a typing pace and dozens when many senders
 * flood. Senders take turns among 99 users. The same is timed with parts of
 * the work left out, to say what each part costs.
 *
 *     deno run -A bench/store_cost.ts [messages per round] [messages per transaction]
 *
 * Prints µs per message for three rounds of each variant (defaults: 3,000
 * messages, one per transaction). Not part of `deno task bench`: at 200
 * messages a second, storing is one of the steps between a message's
 * arrival and its first delivery (bench/BASELINE.md, "Fan-out at a typing
 * pace"). `chat connect` sends every chat line with a client id (`cid`,
 * docs/PROTOCOL.md 5.9); so do the bench's load clients (CHAT_BENCH_CIDS=0: none).
 */

import { newClientId } from "../src/client/chat_client.ts";
import { SqliteStore } from "../src/store/sqlite_store.ts";

const MESSAGES = Number(Deno.args[0] ?? 3000);
const PER_TRANSACTION = Number(Deno.args[1] ?? 1);
const ROUNDS = 3;
const USERS = 99;
const BODY = new Uint8Array(100).fill(0x41);

type Step = (store: SqliteStore, from: string) => void;

/** One public message from `from`, as the server stores a line. */
function appendRow(store: SqliteStore, from: string, clientId?: string) {
  store.appendPublic({
    ts: Date.now(),
    fromKey: from,
    fromName: from,
    body: BODY,
    ...(clientId === undefined ? {} : { clientId }),
  });
}

const VARIANTS: [string, Step][] = [
  ["as from chat connect: client id checked, row, touch", (store, from) => {
    // Random, as chat connect makes them.
    const clientId = newClientId();
    store.sentWithClientId(from, clientId);
    appendRow(store, from, clientId);
    store.touchMessage(from, Date.now());
  }],
  ["without a client id (CHAT_BENCH_CIDS=0)", (store, from) => {
    appendRow(store, from);
    store.touchMessage(from, Date.now());
  }],
  ["the row alone", (store, from) => appendRow(store, from)],
  ["the sender's last-message time alone", (store, from) => {
    store.touchMessage(from, Date.now());
  }],
  ["an empty transaction", () => {}],
];

if (
  !(Number.isSafeInteger(MESSAGES) && MESSAGES > 0) ||
  !(Number.isSafeInteger(PER_TRANSACTION) && PER_TRANSACTION > 0)
) {
  throw new RangeError("Give positive whole numbers of messages");
}
console.log(
  `${MESSAGES} messages a round, ${PER_TRANSACTION} per transaction, from ${USERS} users in turn`,
);
for (const [label, step] of VARIANTS) {
  const dir = await Deno.makeTempDir({ prefix: "chat-store-cost-" });
  const store = SqliteStore.open(`${dir}/chat.db`);
  try {
    store.startCheckpointer();
    const users = Array.from({ length: USERS }, (_, i) => `user${i}`);
    for (const user of users) store.ensureUser(user, user, Date.now());
    const perMessage: string[] = [];
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      for (let sent = 0; sent < MESSAGES; sent += PER_TRANSACTION) {
        const count = Math.min(PER_TRANSACTION, MESSAGES - sent);
        store.transaction(() => {
          for (let i = 0; i < count; i++, n++) {
            step(store, users[n % USERS]!);
          }
        });
        // As the server does before it answers `ok` (not awaited there).
        store.durable();
      }
      perMessage.push(
        ((performance.now() - start) * 1000 / MESSAGES).toFixed(1),
      );
    }
    console.log(`${label.padEnd(52)} ${perMessage.join(" / ")} µs`);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}
