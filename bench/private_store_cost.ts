/**
 * CPU per private message stored as the server stores one at a typing
 * pace: a turn's transaction, the run's savepoint inside it, the message's
 * row, its delivery row and the sender's last-message time, then the log's
 * sync asked for (not awaited), as the server asks before an `ok`.
 *
 *     deno run -A bench/private_store_cost.ts [messages per round] [messages per turn]
 *
 * Prints µs of the main thread's CPU (user + system, from /proc, in 10 ms
 * ticks: give a few thousand messages) and of wall time per message for
 * three rounds (defaults: 3,000 messages, one per turn). Under
 * `deno run -A --cpu-prof` it says where that goes: on 2026-12-07 (session
 * 43) the turn's COMMIT was half of it (8 pages to the log per private
 * message: the messages row, its two indexes, sqlite_sequence, the
 * delivery row and its index, sent_ids, the sender's users row), the rows'
 * INSERTs about a tenth, each savepoint about 1 %.
 */

import { newClientId } from "../src/client/chat_client.ts";
import { SqliteStore } from "../src/store/sqlite_store.ts";

const MESSAGES = Number(Deno.args[0] ?? 3000);
const PER_TURN = Number(Deno.args[1] ?? 1);
const ROUNDS = 3;
const USERS = 99;
const BODY = new Uint8Array(100).fill(0x41);

if (
  !(Number.isSafeInteger(MESSAGES) && MESSAGES > 0) ||
  !(Number.isSafeInteger(PER_TURN) && PER_TURN > 0)
) {
  throw new RangeError("Give positive whole numbers of messages");
}

/** The main thread's CPU (the log's sync and checkpoints run on others). */
function cpuMicros(): number {
  // utime and stime in clock ticks (100 a second), after the name's ") ".
  const fields = Deno.readTextFileSync(
    `/proc/${Deno.pid}/task/${Deno.pid}/stat`,
  ).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const dir = await Deno.makeTempDir({ prefix: "chat-private-cost-" });
const store = SqliteStore.open(`${dir}/chat.db`);
try {
  store.startCheckpointer();
  const users = Array.from({ length: USERS }, (_, i) => `user${i}`);
  for (const user of users) store.ensureUser(user, user, Date.now());
  const perMessage: string[] = [];
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const wall = performance.now();
    const cpu = cpuMicros();
    for (let sent = 0; sent < MESSAGES; sent += PER_TURN) {
      const count = Math.min(PER_TURN, MESSAGES - sent);
      store.transaction(() => {
        for (let i = 0; i < count; i++, n++) {
          const from = users[n % USERS]!;
          const to = users[(n + 1) % USERS]!;
          // The run's savepoint, as WritePath.commit nests it.
          store.transaction(() => {
            const clientId = newClientId();
            store.sentWithClientId(from, clientId);
            store.touchMessage(from, Date.now());
            store.appendMessage({
              kind: "private",
              toKey: to,
              ts: Date.now(),
              fromKey: from,
              fromName: from,
              body: BODY,
              clientId,
              recipients: [{ userKey: to, delivered: false }],
            });
          });
        }
      });
      store.durable();
      // The checkpoint worker's answers come in between turns, as in the
      // server: without them the writer checkpoints itself.
      if (sent % (PER_TURN * 20) === 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    perMessage.push(
      `${((cpuMicros() - cpu) / MESSAGES).toFixed(1)} cpu, ${
        ((performance.now() - wall) * 1000 / MESSAGES).toFixed(1)
      } wall`,
    );
  }
  console.log(`private, ${PER_TURN} per turn: ${perMessage.join(" / ")} µs`);
} finally {
  store.close();
  await Deno.remove(dir, { recursive: true });
}
