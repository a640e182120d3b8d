import assert from "node:assert/strict";
import { DeliveryLedger } from "../../src/client/delivery.ts";
import { StoreLedgers } from "../../src/client/store_ledgers.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";

type Chat = Extract<ServerMessage, { t: "public" | "private" | "group" }>;

const dm = (from: string, id: number, seq: number): Chat => ({
  t: "private",
  from,
  ts: id,
  id,
  seq,
});

Deno.test("StoreLedgers judges another store's positions afresh, and finds a store's again on coming back", () => {
  const ledgers = new StoreLedgers();
  let ledger = ledgers.useStore("a1");
  assert.equal(ledgers.store, "a1");
  assert.equal(ledger.receive(dm("alice", 7, 3), "jojo"), "show");
  // Node B numbers its own messages: its id 7 is another message, and an
  // older seq there is not late.
  ledger = ledgers.useStore("b2");
  assert.equal(ledger, ledgers.current);
  assert.equal(ledger.pending, 0);
  assert.equal(ledger.receive(dm("alice", 7, 1), "jojo"), "show");
  assert.equal(ledger.receive(dm("alice", 7, 1), "jojo"), "duplicate");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 1 }]);
  // Back on node A: what it resends is still a duplicate, and the cursor
  // not yet acknowledged there is owed there only.
  ledger = ledgers.useStore("a1");
  assert.equal(ledger.receive(dm("alice", 7, 3), "jojo"), "duplicate");
  assert.deepEqual(ledger.takeCursors(), [{ to: "alice", seq: 3 }]);
});

Deno.test("StoreLedgers keeps what was seen for the first store announced, and for a server that announces none", () => {
  const first = new DeliveryLedger();
  const ledgers = new StoreLedgers(first);
  assert.equal(ledgers.store, null);
  assert.equal(first.receive(dm("alice", 7, 3), "jojo"), "show");
  assert.equal(ledgers.useStore(undefined), first);
  assert.equal(ledgers.useStore("a1"), first);
  assert.equal(ledgers.useStore(undefined), first);
  assert.equal(ledgers.store, "a1");
  assert.equal(first.receive(dm("alice", 7, 3), "jojo"), "duplicate");
});
