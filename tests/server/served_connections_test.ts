/** The connections the core serves: ids, groups, held acknowledgements. */

import assert from "node:assert/strict";
import { MAX_ACK_CURSORS } from "../../src/protocol/messages.ts";
import { ServedConnections } from "../../src/server/served_connections.ts";

Deno.test("ServedConnections gives each connection a new id, and an unknown one the empty group", () => {
  const connections = new ServedConnections();
  const first = connections.newId();
  const second = connections.newId();
  assert.notEqual(first, second);
  connections.groups.set(first, "10.0.0.1");
  assert.equal(connections.groupOf(first), "10.0.0.1");
  assert.equal(connections.groupOf(second), "");
});

Deno.test("ServedConnections.takeHeldAcks gives what was held as ack steps of at most MAX_ACK_CURSORS, once", () => {
  const connections = new ServedConnections();
  assert.deepEqual(connections.takeHeldAcks(1), []);
  const cursors = Array.from(
    { length: MAX_ACK_CURSORS + 1 },
    (_, i) => ({ to: `user${i}`, seq: i + 1 }),
  );
  connections.heldAcksOf(1).hold(cursors);
  connections.heldAcksOf(2).hold([{ group: "team", seq: 3 }]);
  const steps = connections.takeHeldAcks(1);
  assert.equal(steps.length, 2);
  const held = steps.flatMap((step) => {
    assert.ok("message" in step && step.message.t === "ack");
    assert.equal(step.body.byteLength, 0);
    return step.message.cursors;
  });
  assert.deepEqual(held, cursors);
  assert.deepEqual(connections.takeHeldAcks(1), []);
  // Dropped unapplied: nothing left to take.
  connections.dropHeldAcks(2);
  assert.deepEqual(connections.takeHeldAcks(2), []);
});
