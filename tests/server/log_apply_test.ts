import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { connect, delivered, route } from "../_helpers/delivered.ts";
import { applyLogRecord } from "../../src/server/log_apply.ts";
import { ServerState } from "../../src/server/state.ts";
import type { LogRecord } from "../../src/server/cluster/log_record.ts";

const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);
const body = new TextEncoder().encode("from the log");

/** jojo (1) and nana (2, who acknowledges) signed in on this node. */
function node(): ServerState {
  const state = new ServerState({}, memoryStore());
  connect(state, 1);
  route(state, 1, { t: "register", id: 0, name: "jojo", key: KEY }, NONE, 1);
  connect(state, 2);
  route(
    state,
    2,
    { t: "register", id: 0, name: "nana", key: KEY, acks: true },
    NONE,
    2,
  );
  return state;
}

function apply(state: ServerState, seq: number, record: LogRecord) {
  const applied = state.store.transaction(() =>
    applyLogRecord(state, state.store, seq, record, 100)
  );
  return { ...applied, out: delivered(state, applied.out) };
}

Deno.test("applyLogRecord stores a public message under its stream sequence as id and seq, sends it to the room but its sender, and only once", () => {
  const state = node();
  const record: LogRecord = { kind: "public", from: "jojo", ts: 7, body };
  const applied = apply(state, 5, record);
  assert.deepEqual(applied.out.map((o) => [o.to, o.message]), [[
    [2],
    { t: "public", from: "jojo", ts: 7, id: 5, seq: 5 },
  ]]);
  // Read again after a restart: applied already, nothing happens.
  assert.deepEqual(apply(state, 5, record).out, []);
  assert.deepEqual(
    state.store.history({ kind: "public" }, 10).map((m) => [m.id, m.seq]),
    [[5, 5]],
  );
});

Deno.test("applyLogRecord delivers a private message to its recipient here: delivered at once to one that does not acknowledge (and says so), owed until acknowledged to one that does", () => {
  const state = node();
  const toJojo = apply(state, 3, {
    kind: "private",
    from: "Sophia",
    to: "jojo",
    ts: 7,
    body,
  });
  assert.deepEqual(toJojo.out.map((o) => [o.to, o.message]), [[
    [1],
    { t: "private", from: "Sophia", ts: 7, id: 3, seq: 3 },
  ]]);
  assert.deepEqual(toJojo.delivered, [{ user: "jojo", id: 3 }]);
  assert.deepEqual(state.store.pendingFor("jojo", 10), []);

  const toNana = apply(state, 4, {
    kind: "private",
    from: "Sophia",
    to: "nana",
    ts: 8,
    e2e: "SHA256:abc",
    body,
  });
  assert.deepEqual(toNana.out.map((o) => [o.to, o.message]), [[
    [2],
    {
      t: "e2e_private",
      from: "Sophia",
      fingerprint: "SHA256:abc",
      ts: 8,
      id: 4,
      seq: 4,
    },
  ]]);
  assert.deepEqual(toNana.delivered, []);
  assert.deepEqual(state.store.pendingFor("nana", 10).map((m) => m.id), [4]);
  // nana acknowledged it on another node.
  apply(state, 6, {
    kind: "ack",
    user: "nana",
    conversation: { kind: "private", otherKey: "sophia" },
    seq: 4,
  });
  assert.deepEqual(state.store.pendingFor("nana", 10), []);
});

Deno.test("applyLogRecord keeps a private message for a user offline here, known from then on", () => {
  const state = node();
  const applied = apply(state, 2, {
    kind: "private",
    from: "jojo",
    to: "Zed",
    ts: 7,
    body,
  });
  assert.deepEqual(applied.out, []);
  assert.equal(state.knownUser("zed"), "Zed");
  assert.deepEqual(state.store.pendingFor("zed", 10).map((m) => m.id), [2]);
  // Delivered to zed on another node.
  apply(state, 3, { kind: "delivered", user: "zed", ids: [2] });
  assert.deepEqual(state.store.pendingFor("zed", 10), []);
});

Deno.test("applyLogRecord makes a user new on another node known here", () => {
  const state = node();
  assert.equal(state.knownUser("cy"), null);
  apply(state, 1, { kind: "user", name: "Cy" });
  assert.equal(state.knownUser("cy"), "Cy");
});

Deno.test("applyLogRecord gives a group message to the members the sender's node listed, and sends it to those here in one group message", () => {
  const state = node();
  route(state, 1, { t: "create", id: 1, group: "team" }, NONE, 3);
  route(state, 2, { t: "join", id: 1, group: "team" }, NONE, 3);
  connect(state, 3);
  route(state, 3, { t: "register", id: 0, name: "Sophia", key: KEY }, NONE, 3);
  route(state, 3, { t: "join", id: 1, group: "team" }, NONE, 3);
  const applied = apply(state, 9, {
    kind: "group",
    from: "Sophia",
    group: "team",
    members: ["jojo", "nana", "Zed"],
    ts: 7,
    body,
  });
  assert.deepEqual(applied.out.map((o) => [o.to, o.message]), [[
    [1, 2],
    { t: "group", group: "team", from: "Sophia", ts: 7, id: 9, seq: 9 },
  ]]);
  assert.deepEqual(applied.delivered, [{ user: "jojo", id: 9 }]);
  assert.deepEqual(state.store.pendingFor("nana", 10).map((m) => m.id), [9]);
  // Zed, offline and new here, is owed it too: the list says so.
  assert.deepEqual(state.store.pendingFor("zed", 10).map((m) => m.id), [9]);
  assert.deepEqual(state.store.pendingFor("sophia", 10), []);
});

Deno.test("applyLogRecord sends a group message only to those the sender's node listed, when this node's copy of the group differs", () => {
  const state = node();
  route(state, 1, { t: "create", id: 1, group: "team" }, NONE, 3);
  route(state, 2, { t: "join", id: 1, group: "team" }, NONE, 3);
  // nana joined after the sender's node saw the group.
  const applied = apply(state, 9, {
    kind: "group",
    from: "Sophia",
    group: "team",
    members: ["jojo"],
    ts: 7,
    body,
  });
  assert.deepEqual(applied.out.map((o) => o.to), [[1]]);
  assert.deepEqual(state.store.pendingFor("nana", 10), []);
  assert.deepEqual(
    state.store.history(
      { kind: "group", groupKey: "team", viewerKey: "nana" },
      10,
    ),
    [],
  );
});

Deno.test("applyLogRecord keeps a message to a group not known here yet, owed to the members listed", () => {
  const state = node();
  const applied = apply(state, 4, {
    kind: "group",
    from: "Sophia",
    group: "Later",
    members: ["Zed"],
    ts: 7,
    body,
  });
  assert.deepEqual(applied.out, []);
  assert.equal(state.group("later")?.name, "Later");
  assert.deepEqual(state.store.pendingFor("zed", 10).map((m) => m.id), [4]);
});

Deno.test("applyLogRecord passes over a message its sender's node sent again under the same cid, which JetStream stored twice (past its 2-minute duplicate window), and says which copy stands", () => {
  const state = node();
  const cid = "0123456789abcdef";
  const record: LogRecord = {
    kind: "public",
    from: "jojo",
    ts: 7,
    cid,
    body,
  };
  assert.equal(apply(state, 5, record).out.length, 1);
  // The retry, stored again at 9: not a second message, not a failure.
  const again = apply(state, 9, record);
  assert.deepEqual(again.out, []);
  assert.deepEqual(again.repeated, { from: "jojo", first: 5 });
  assert.deepEqual(
    state.store.history({ kind: "public" }, 10).map((m) => m.id),
    [5],
  );
});
