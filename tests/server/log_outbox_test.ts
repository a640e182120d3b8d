import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { isPlaceholder, LogOutbox } from "../../src/server/log_outbox.ts";

const LOG_ID = "00112233445566778899aabbccddeeff";
const body = new TextEncoder().encode("hi");
const CID = "00112233445566778899aabbccddeeff";

Deno.test("LogOutbox holds a new message for the log, answers a placeholder position and stores nothing", () => {
  const inner = memoryStore("ann", "Bo");
  const outbox = new LogOutbox(inner, LOG_ID);
  const first = outbox.transaction(() =>
    outbox.appendPublic({
      ts: 1,
      fromKey: "ann",
      fromName: "ann",
      body,
      clientId: CID,
    })
  );
  const second = outbox.transaction(() =>
    outbox.appendMessage({
      kind: "private",
      toKey: "bo",
      ts: 2,
      fromKey: "ann",
      fromName: "ann",
      body,
      e2eFingerprint: "SHA256:abc",
      recipients: [{ userKey: "bo", delivered: false }],
    })
  );
  inner.createGroup("Team", "team", "ann", 1);
  const third = outbox.transaction(() =>
    outbox.appendMessage({
      kind: "group",
      groupKey: "team",
      ts: 3,
      fromKey: "ann",
      fromName: "ann",
      body,
      recipients: [{ userKey: "bo", delivered: true }],
    })
  );
  assert.ok(isPlaceholder(first.id) && isPlaceholder(second.id));
  assert.ok(isPlaceholder(third.id));
  assert.notEqual(first.id, second.id);
  assert.equal(inner.lastMessageId(), 0);
  const taken = outbox.take();
  assert.deepEqual(taken.messages.map((held) => held.record), [
    { kind: "public", from: "ann", ts: 1, cid: CID, body },
    // The recipient by name as registered.
    { kind: "private", to: "Bo", from: "ann", ts: 2, e2e: "SHA256:abc", body },
    // Who the router found entitled, by name.
    {
      kind: "group",
      group: "Team",
      members: ["Bo"],
      from: "ann",
      ts: 3,
      body,
    },
  ]);
  assert.deepEqual(outbox.take(), { messages: [], records: [] });
});

Deno.test("LogOutbox stores a message that comes with its position, and holds nothing for it", () => {
  const inner = memoryStore("ann");
  const outbox = new LogOutbox(inner, LOG_ID);
  const at = { id: 4, seq: 4 };
  assert.deepEqual(
    outbox.appendPublic({ ts: 1, fromKey: "ann", fromName: "ann", body, at }),
    at,
  );
  assert.equal(inner.lastMessageId(), 4);
  assert.deepEqual(outbox.take(), { messages: [], records: [] });
});

Deno.test("LogOutbox forgets what an undone unit of work held", () => {
  const outbox = new LogOutbox(memoryStore("ann"), LOG_ID);
  assert.throws(() =>
    outbox.transaction(() => {
      outbox.appendPublic({ ts: 1, fromKey: "ann", fromName: "ann", body });
      outbox.ensureUser("Cy", "cy", 1);
      throw new Error("undone");
    })
  );
  assert.deepEqual(outbox.take(), { messages: [], records: [] });
  // The store undid its part too.
  assert.equal(outbox.getUser("cy"), undefined);
});

Deno.test("LogOutbox keeps records of acknowledgements and deliveries that changed something, and of users new here", () => {
  const inner = memoryStore("ann", "bo");
  const outbox = new LogOutbox(inner, LOG_ID);
  const at = (id: number) => ({ id, seq: id });
  for (const id of [1, 2, 3]) {
    inner.appendMessage({
      kind: "private",
      toKey: "bo",
      ts: 1,
      fromKey: "ann",
      fromName: "ann",
      body,
      recipients: [{ userKey: "bo", delivered: false }],
      at: at(id),
    });
  }
  const conversation = { kind: "private", otherKey: "ann" } as const;
  assert.equal(outbox.acknowledge("bo", conversation, 1), 1);
  // Nothing left to mark up to 1: no record.
  assert.equal(outbox.acknowledge("bo", conversation, 1), 0);
  assert.equal(outbox.markDelivered(2, "bo"), true);
  assert.equal(outbox.markDelivered(3, "bo"), true);
  assert.equal(outbox.markDelivered(3, "bo"), false);
  outbox.ensureUser("ann", "ann", 5);
  outbox.ensureUser("Cy", "cy", 5);
  assert.deepEqual(outbox.takeRecords(), [
    { kind: "ack", user: "bo", conversation, seq: 1 },
    // Deliveries to one user in a row make one record.
    { kind: "delivered", user: "bo", ids: [2, 3] },
    { kind: "user", name: "Cy" },
  ]);
  assert.deepEqual(outbox.takeRecords(), []);
});

Deno.test("LogOutbox's id is the log's, not the node's database's", () => {
  assert.equal(new LogOutbox(memoryStore(), LOG_ID).id, LOG_ID);
});
