import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { LogOutbox } from "../../src/server/log_outbox.ts";
import {
  failed,
  SharedLog,
  withPositions,
} from "../../src/server/shared_log.ts";
import type { ClusterLogPort } from "../../src/server/cluster/port.ts";
import { NotStoredError } from "../../src/server/not_stored_error.ts";
import type { LogRecord } from "../../src/server/cluster/log_record.ts";
import type { Outbound } from "../../src/server/outbound.ts";

const LOG_ID = "00112233445566778899aabbccddeeff";
const body = new TextEncoder().encode("hi");
const me = { kind: "connection", id: 1 } as const;

/** What a run routed for `say` with a cid: the ok, and the room's copy. */
const routed: Outbound[] = [
  { to: me, message: { t: "ok", re: 4, text: "", id: -1, seq: -1 } },
  {
    to: { kind: "room", except: "ann" },
    message: { t: "public", from: "ann", ts: 1, id: -1, seq: -1 },
    body,
  },
  { to: me, message: { t: "pong", re: 5 } },
];

Deno.test("withPositions gives the sender's replies the log's positions and drops what went to others", () => {
  assert.deepEqual(
    withPositions(routed, new Map([[-1, { id: 42, seq: 42 }]])),
    [
      { to: me, message: { t: "ok", re: 4, text: "", id: 42, seq: 42 } },
      { to: me, message: { t: "pong", re: 5 } },
    ],
  );
});

Deno.test("failed turns the ok to each chat message into an error and sends others nothing", () => {
  assert.deepEqual(failed(routed, new Set([4])), [
    {
      to: me,
      message: {
        t: "error",
        re: 4,
        code: "internal",
        text: "ERROR: The server could not save that; try again",
      },
    },
    { to: me, message: { t: "pong", re: 5 } },
  ]);
});

/**
 * A log that numbers what it is given from `first` on; or that fails each
 * publish with `down` (a refusal, or a failure with no answer); whose
 * `applied` fails `slowApplies` times first (not read back in time).
 */
class NumberingLog implements ClusterLogPort {
  readonly id = LOG_ID;
  readonly position = 0;
  stopped = false;
  readonly published: LogRecord[] = [];
  readonly waited: number[] = [];
  #next: number;
  readonly #down: Error | null;
  #slowApplies: number;
  constructor(first: number, down: Error | null = null, slowApplies = 0) {
    this.#next = first;
    this.#down = down;
    this.#slowApplies = slowApplies;
  }
  publish(record: LogRecord) {
    if (this.#down !== null) return Promise.reject(this.#down);
    this.published.push(record);
    return Promise.resolve({ seq: this.#next++, duplicate: false });
  }
  applied(seq: number) {
    this.waited.push(seq);
    if (this.#slowApplies > 0) {
      this.#slowApplies--;
      return Promise.reject(new Error("not read back in time"));
    }
    return Promise.resolve();
  }
  caughtUp() {
    return Promise.resolve();
  }
}

/** A public line of ann's held in `outbox`, and the run's ok to it (`re` 1). */
function annSays(outbox: LogOutbox): Outbound[] {
  const held = outbox.appendPublic({
    ts: 1,
    fromKey: "ann",
    fromName: "ann",
    clientId: "0123456789abcdef",
    body,
  });
  return [{ to: me, message: { t: "ok", re: 1, text: "", ...held } }];
}

Deno.test("SharedLog.settle publishes a run's messages in order, waits until the last is applied here, and answers with their sequences", async () => {
  const outbox = new LogOutbox(memoryStore("ann"), LOG_ID);
  const port = new NumberingLog(10);
  const shared = new SharedLog(outbox, port, () => {});
  const first = outbox.appendPublic({
    ts: 1,
    fromKey: "ann",
    fromName: "ann",
    body,
  });
  const second = outbox.appendPublic({
    ts: 2,
    fromKey: "ann",
    fromName: "ann",
    body,
  });
  const out = await shared.settle([
    { to: me, message: { t: "ok", re: 1, text: "", ...first } },
    { to: me, message: { t: "ok", re: 2, text: "", ...second } },
  ], new Set([1, 2]));
  assert.deepEqual(out.map((o) => o.message), [
    { t: "ok", re: 1, text: "", id: 10, seq: 10 },
    { t: "ok", re: 2, text: "", id: 11, seq: 11 },
  ]);
  assert.deepEqual(port.published.map((r) => r.kind === "public" && r.ts), [
    1,
    2,
  ]);
  assert.deepEqual(port.waited, [11]);
});

Deno.test("SharedLog.settle answers 'could not save' only when the log refused the messages", async () => {
  const logged: string[] = [];
  const outbox = new LogOutbox(memoryStore("ann"), LOG_ID);
  const shared = new SharedLog(
    outbox,
    new NumberingLog(1, new NotStoredError("JetStream refused the record")),
    (line) => logged.push(line),
  );
  const out = await shared.settle(annSays(outbox), new Set([1]));
  assert.deepEqual(out.map((o) => o.message), [{
    t: "error",
    re: 1,
    code: "internal",
    text: "ERROR: The server could not save that; try again",
  }]);
  assert.match(logged.join("\n"), /could not store messages in the log/);
});

Deno.test("SharedLog.settle says a message the log did not answer may still be delivered, and says nothing when the node is closing", async () => {
  const outbox = new LogOutbox(memoryStore("ann"), LOG_ID);
  const port = new NumberingLog(1, new Error("no acknowledgement"));
  const shared = new SharedLog(outbox, port, () => {});
  assert.deepEqual(
    (await shared.settle(annSays(outbox), new Set([1]))).map((o) => o.message),
    [{
      t: "error",
      re: 1,
      code: "internal",
      text:
        "ERROR: The server could not confirm that it saved that: it may still be delivered",
    }],
  );
  // The connection ends with the node, unanswered: the client sends the
  // line again, same cid, elsewhere.
  port.stopped = true;
  assert.deepEqual(await shared.settle(annSays(outbox), new Set([1])), []);
});

Deno.test("SharedLog.settle waits for a stored message to be applied here however long it takes, then answers ok", async () => {
  const logged: string[] = [];
  const outbox = new LogOutbox(memoryStore("ann"), LOG_ID);
  const port = new NumberingLog(7, null, 2);
  const shared = new SharedLog(outbox, port, (line) => logged.push(line));
  const out = await shared.settle(annSays(outbox), new Set([1]));
  assert.deepEqual(out.map((o) => o.message), [
    { t: "ok", re: 1, text: "", id: 7, seq: 7 },
  ]);
  assert.deepEqual(port.waited, [7, 7, 7]);
  // Said once, not at every wait.
  assert.equal(
    logged.filter((line) => /not applied here yet/.test(line)).length,
    1,
  );
});

Deno.test("SharedLog.delivered tells the log one record per user", async () => {
  const port = new NumberingLog(1);
  const shared = new SharedLog(
    new LogOutbox(memoryStore(), LOG_ID),
    port,
    () => {},
  );
  shared.delivered([
    { user: "bo", id: 3 },
    { user: "cy", id: 3 },
    { user: "bo", id: 4 },
  ]);
  await Promise.resolve();
  assert.deepEqual(port.published, [
    { kind: "delivered", user: "bo", ids: [3, 4] },
    { kind: "delivered", user: "cy", ids: [3] },
  ]);
});
