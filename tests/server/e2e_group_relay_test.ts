/**
 * The server's relay of end-to-end group messages (docs/PROTOCOL.md 11.11)
 * through the router with a real in-memory store: the sealed body passes and
 * is stored byte for byte, with the sender's fingerprint, and behaves as a
 * group message for positions, offline members, history and retries.
 */

import assert from "node:assert/strict";
import { MAX_E2E_MESSAGE_BYTES } from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  connect,
  disconnect,
  type Outbound,
  route,
} from "../../src/server/router.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);
const ALICE_FP = "SHA256:" + "a".repeat(43);
const BOB_FP = "SHA256:" + "b".repeat(43);
const SEALED = Uint8Array.from({ length: 200 }, (_, i) => (i * 13) & 0xff);

function withState(fn: (state: ServerState) => void): void {
  const store = openStore(":memory:");
  try {
    fn(new ServerState({}, store));
  } finally {
    store.close();
  }
}

function signIn(
  state: ServerState,
  id: ConnId,
  name: string,
  fingerprint: string | null,
): Outbound[] {
  connect(state, id);
  const out = route(
    state,
    id,
    { t: "register", id: 0, name, key: KEY, acks: true },
    NONE,
    id,
  );
  if (fingerprint !== null) state.setFingerprint(id, fingerprint);
  return out;
}

function send(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  body: Uint8Array = NONE,
): Outbound[] {
  return route(state, from, message, body, 5000);
}

/** alice (1) creates team, bob (2) joins. */
function team(state: ServerState): void {
  signIn(state, 1, "alice", ALICE_FP);
  signIn(state, 2, "bob", BOB_FP);
  send(state, 1, { t: "create", id: 1, group: "Team" });
  send(state, 2, { t: "join", id: 1, group: "team" });
}

Deno.test("routeE2eGroup relays the sealed body to the group but the sender as e2e_group, with the sender's fingerprint and a position", () => {
  withState((state) => {
    team(state);
    const out = send(
      state,
      1,
      { t: "e2e_gsay", id: 3, group: "team", cid: "1".repeat(32) },
      SEALED,
    );
    assert.equal(out.length, 2);
    const [ok, relayed] = out;
    assert.deepEqual(ok!.message, {
      t: "ok",
      re: 3,
      text: "",
      id: 1,
      seq: 1,
      name: "Team",
    });
    assert.deepEqual(relayed!.to, {
      kind: "group",
      key: "team",
      except: "alice",
    });
    assert.deepEqual(relayed!.message, {
      t: "e2e_group",
      group: "Team",
      from: "alice",
      fingerprint: ALICE_FP,
      ts: 5000,
      id: 1,
      seq: 1,
    });
    assert.deepEqual(relayed!.body, SEALED);
    // A retry with the same cid is answered, not stored or sent again.
    const again = send(
      state,
      1,
      { t: "e2e_gsay", id: 4, group: "team", cid: "1".repeat(32) },
      SEALED,
    );
    assert.deepEqual(again.map((o) => o.message), [
      { t: "ok", re: 4, text: "", id: 1, seq: 1 },
    ]);
  });
});

Deno.test("routeE2eGroup keeps the body for an offline member, who gets it at sign-in, and history returns it as e2e_group", () => {
  withState((state) => {
    team(state);
    disconnect(state, 2, 5000);
    send(state, 1, { t: "e2e_gsay", id: 3, group: "team" }, SEALED);
    send(
      state,
      1,
      { t: "gsay", id: 4, group: "team" },
      new TextEncoder().encode("plain"),
    );
    const welcome = signIn(state, 5, "bob", BOB_FP);
    const missed = welcome.filter((o) =>
      o.message.t === "e2e_group" || o.message.t === "group"
    );
    assert.deepEqual(missed.map((o) => o.message.t), ["e2e_group", "group"]);
    assert.deepEqual(missed[0]!.message, {
      t: "e2e_group",
      group: "Team",
      from: "alice",
      fingerprint: ALICE_FP,
      ts: 5000,
      id: 1,
      seq: 1,
      history: true,
    });
    assert.deepEqual(missed[0]!.body, SEALED);
    const history = send(state, 5, { t: "history", id: 7, target: "team" });
    assert.deepEqual(
      history.map((o) => o.message.t),
      ["e2e_group", "group", "ok"],
    );
    assert.deepEqual(history[0]!.body, SEALED);
  });
});

Deno.test("routeE2eGroup refuses an unproven sender, an empty or oversized body, an unknown group and a non-member", () => {
  withState((state) => {
    team(state);
    signIn(state, 3, "carol", null);
    signIn(state, 4, "dave", "SHA256:" + "d".repeat(43));
    const error = (from: ConnId, group: string, body: Uint8Array) => {
      const [out] = send(state, from, { t: "e2e_gsay", id: 9, group }, body);
      assert.equal(out?.message.t, "error");
      return out!.message as { code: string; text: string };
    };
    assert.deepEqual(error(3, "team", SEALED), {
      t: "error",
      re: 9,
      code: "identity",
      text: "ERROR: End-to-end messages need a proven identity key",
    });
    assert.equal(error(1, "team", NONE).code, "empty");
    assert.deepEqual(
      error(1, "team", new Uint8Array(MAX_E2E_MESSAGE_BYTES + 1)).code,
      "too_long",
    );
    assert.deepEqual(
      error(1, "nope", SEALED).text,
      "ERROR: Group 'nope' does not exist.",
    );
    assert.deepEqual(error(4, "team", SEALED), {
      t: "error",
      re: 9,
      code: "not_member",
      text:
        "ERROR: You are not a member of group 'Team'. Join it with /join Team",
    });
  });
});

Deno.test("routeE2eGroup refuses an e2e_gsay whose members tag is no longer the group's (someone joined or left since the members reply): members_changed, nothing stored", () => {
  withState((state) => {
    team(state);
    const listed = send(state, 1, { t: "members", id: 2, group: "team" });
    const reply = listed[0]!.message;
    assert.equal(reply.t, "members");
    const tag = reply.t === "members" ? reply.groups[0]!.tag ?? "" : "";
    assert.match(tag, /^[0-9a-f]{16}$/);
    // carol joins between the members reply and the message.
    signIn(state, 3, "carol", null);
    send(state, 3, { t: "join", id: 1, group: "team" });
    const refused = send(
      state,
      1,
      { t: "e2e_gsay", id: 3, group: "team", cid: "2".repeat(32), tag },
      SEALED,
    );
    assert.deepEqual(refused.map((o) => o.message), [{
      t: "error",
      re: 3,
      code: "members_changed",
      text:
        "ERROR: The members of Team changed while the message was on its way: not sent",
    }]);
    // Asked again: the new tag takes it (and the same cid is not taken).
    const again = send(state, 1, { t: "members", id: 4, group: "team" })[0]!
      .message;
    const now = again.t === "members" ? again.groups[0]!.tag ?? "" : "";
    assert.notEqual(now, tag);
    const out = send(
      state,
      1,
      { t: "e2e_gsay", id: 5, group: "team", cid: "2".repeat(32), tag: now },
      SEALED,
    );
    assert.equal(out[0]!.message.t, "ok");
    assert.deepEqual(out[1]!.to, {
      kind: "group",
      key: "team",
      except: "alice",
    });
  });
});
