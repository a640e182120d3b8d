import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { connect, delivered, route } from "../_helpers/delivered.ts";
import { routeRemote } from "../../src/server/remote_route.ts";
import { ServerState } from "../../src/server/state.ts";
import type { RemoteUser } from "../../src/server/remote_users.ts";

const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);
const body = new TextEncoder().encode("from afar");

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

Deno.test("routeRemote stores another node's public message here and sends it to this node's room with this store's position", () => {
  const state = node();
  const local = route(state, 1, { t: "say", id: 1 }, body, 5);
  const localId = local.find((o) => o.message.t === "public")!.message;
  const out = delivered(
    state,
    state.store.transaction(() =>
      routeRemote(
        state,
        { kind: "public", node: "n2", from: "Sophia", ts: 7, body },
        8,
      )
    ),
  );
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.to, [1, 2]);
  const message = out[0]!.message;
  assert.equal(message.t, "public");
  if (message.t !== "public" || localId.t !== "public") return;
  assert.equal(message.from, "Sophia");
  assert.equal(message.ts, 7);
  assert.equal(message.id, localId.id! + 1);
  assert.equal(message.seq, localId.seq! + 1);
  // In this node's history as well.
  const history = state.store.history({ kind: "public" }, 10);
  assert.deepEqual(history.map((m) => m.fromName), ["jojo", "Sophia"]);
});

Deno.test("routeRemote delivers a private message to the user here, owed until acknowledged by one that acknowledges", () => {
  const state = node();
  const toJojo = delivered(
    state,
    routeRemote(
      state,
      { kind: "private", node: "n2", from: "sophia", to: "jojo", ts: 7, body },
      8,
    ),
  );
  assert.deepEqual(toJojo.map((o) => [o.to, o.message.t]), [[[1], "private"]]);
  assert.equal(state.store.pendingFor("jojo", 10).length, 0);
  routeRemote(
    state,
    { kind: "private", node: "n2", from: "sophia", to: "nana", ts: 9, body },
    10,
  );
  assert.equal(state.store.pendingFor("nana", 10).length, 1);
});

Deno.test("routeRemote keeps a private message for a known user who just left this node, and drops one for a stranger", () => {
  const state = node();
  state.removeConnection(1, 3);
  assert.deepEqual(
    routeRemote(
      state,
      { kind: "private", node: "n2", from: "sophia", to: "jojo", ts: 7, body },
      8,
    ),
    [],
  );
  assert.equal(state.store.pendingFor("jojo", 10).length, 1);
  assert.deepEqual(
    routeRemote(
      state,
      {
        kind: "private",
        node: "n2",
        from: "sophia",
        to: "nobody",
        ts: 7,
        body,
      },
      8,
    ),
    [],
  );
  assert.equal(state.store.getUser("nobody"), undefined);
});

function remote(name: string): RemoteUser {
  return {
    name,
    nameKey: name.toLowerCase(),
    node: "n2",
    connectedAt: 1,
    lastMessageAt: null,
    fingerprint: null,
    away: "far away",
  };
}

Deno.test("route lists users of other nodes after this node's, once each", () => {
  const state = node();
  state.remote.put("s.n2", remote("Sophia"));
  state.remote.put("j.n2", remote("jojo"));
  const [reply] = route(state, 1, { t: "list", id: 4 }, NONE, 9);
  assert.equal(reply?.message.t, "users");
  if (reply?.message.t !== "users") return;
  assert.deepEqual(reply.message.users.map((u) => [u.name, u.away]), [
    ["jojo", undefined],
    ["nana", undefined],
    ["Sophia", "far away"],
  ]);
});

Deno.test("route sends a private message to a user on another node as online: to their address, owed to no one here", () => {
  const state = node();
  state.remote.put("s.n2", remote("Sophia"));
  const out = route(state, 1, { t: "msg", id: 5, to: "sophia" }, body, 9);
  // Reaches no connection here: the bus takes it (cluster/bus_event.ts).
  assert.deepEqual(out.map((o) => [o.to, o.message.t]), [[[1], "ok"]]);
  const ok = out[0]!.message;
  assert.equal(ok.t === "ok" ? ok.text : null, "");
  assert.equal(state.store.pendingFor("sophia", 10).length, 0);
  const raw = state.store.history(
    { kind: "private", viewerKey: "jojo", otherKey: "sophia" },
    10,
  );
  assert.deepEqual(raw.map((m) => m.kind === "private" ? m.toName : null), [
    "Sophia",
  ]);
});

Deno.test("routeRemote delivers end-to-end private and group messages as such, stored with the sender's key", () => {
  const state = node();
  const fingerprint = "SHA256:" + "s".repeat(43);
  const toJojo = delivered(
    state,
    routeRemote(state, {
      kind: "e2e_private",
      node: "n2",
      from: "sophia",
      to: "jojo",
      fingerprint,
      ts: 7,
      body,
    }, 8),
  );
  assert.equal(toJojo.length, 1);
  assert.deepEqual(toJojo[0]!.to, [1]);
  const message = toJojo[0]!.message;
  assert.equal(message.t, "e2e_private");
  assert.equal(
    message.t === "e2e_private" ? message.fingerprint : null,
    fingerprint,
  );
  const [stored] = state.store.history(
    { kind: "private", viewerKey: "jojo", otherKey: "sophia" },
    10,
  );
  assert.equal(stored?.e2eFingerprint, fingerprint);

  route(state, 1, { t: "create", id: 3, group: "team" }, NONE, 9);
  route(state, 2, { t: "join", id: 4, group: "team" }, NONE, 10);
  const toTeam = delivered(
    state,
    routeRemote(state, {
      kind: "e2e_group",
      node: "n2",
      from: "sophia",
      group: "team",
      fingerprint,
      ts: 11,
      body,
    }, 12),
  );
  assert.deepEqual(toTeam.map((o) => [o.to, o.message.t]), [
    [[1, 2], "e2e_group"],
  ]);
  // nana acknowledges: it waits for her until she does.
  assert.equal(state.store.pendingFor("nana", 10).length, 1);
});
