/**
 * The server's relay of end-to-end private messages (docs/PROTOCOL.md 11.7)
 * through the router with a real in-memory store: the envelope passes and is
 * stored byte for byte, with the sender's fingerprint, and behaves as a
 * private message for positions, waiting deliveries and retries.
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
const ENVELOPE = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

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

Deno.test("routeE2eMessage relays the envelope as e2e_private with the sender's fingerprint and a position", () => {
  withState((state) => {
    signIn(state, 1, "alice", ALICE_FP);
    signIn(state, 2, "Bob", BOB_FP);
    const out = send(
      state,
      1,
      {
        t: "e2e_msg",
        id: 3,
        to: "bob",
        fingerprint: BOB_FP,
        cid: "0".repeat(32),
      },
      ENVELOPE,
    );
    assert.equal(out.length, 2);
    const [ok, relayed] = out;
    assert.deepEqual(ok!.message, {
      t: "ok",
      re: 3,
      text: "",
      id: 1,
      seq: 1,
      name: "Bob",
    });
    assert.deepEqual(relayed!.to, { kind: "user", key: "bob" });
    assert.deepEqual(relayed!.message, {
      t: "e2e_private",
      from: "alice",
      fingerprint: ALICE_FP,
      ts: 5000,
      id: 1,
      seq: 1,
    });
    assert.deepEqual(relayed!.body, ENVELOPE);
    // The retry of that cid stores nothing and relays nothing.
    const again = send(
      state,
      1,
      {
        t: "e2e_msg",
        id: 4,
        to: "bob",
        fingerprint: BOB_FP,
        cid: "0".repeat(32),
      },
      ENVELOPE,
    );
    assert.deepEqual(again.map((o) => o.message), [
      { t: "ok", re: 4, text: "", id: 1, seq: 1 },
    ]);
  });
});

Deno.test("routeE2eMessage keeps the envelope for an offline recipient, who gets it at sign-in as history", () => {
  withState((state) => {
    signIn(state, 1, "alice", ALICE_FP);
    signIn(state, 2, "bob", BOB_FP);
    disconnect(state, 2, 10);
    const out = send(state, 1, {
      t: "e2e_msg",
      id: 3,
      to: "bob",
      fingerprint: BOB_FP,
    }, ENVELOPE);
    assert.deepEqual(out.map((o) => o.message), [{
      t: "ok",
      re: 3,
      text: "bob is offline; the message will be delivered when they connect.",
      name: "bob",
    }]);
    const welcome = signIn(state, 5, "bob", BOB_FP);
    const missed = welcome.filter((o) => o.message.t === "e2e_private");
    assert.equal(missed.length, 1);
    assert.deepEqual(missed[0]!.message, {
      t: "e2e_private",
      from: "alice",
      fingerprint: ALICE_FP,
      ts: 5000,
      id: 1,
      seq: 1,
      history: true,
    });
    assert.deepEqual(missed[0]!.body, ENVELOPE);
    // In the sender's history it names the recipient; a plain msg stays plain.
    send(
      state,
      5,
      { t: "msg", id: 6, to: "alice" },
      new Uint8Array([0x68]),
    );
    const history = send(state, 1, { t: "history", id: 7, target: "bob" });
    assert.deepEqual(history.map((o) => o.message.t), [
      "e2e_private",
      "private",
      "ok",
    ]);
    assert.equal(
      history[0]!.message.t === "e2e_private" && history[0]!.message.to,
      "bob",
    );
    // Each names the request it answers with req; only the ok after them,
    // its reply, carries re. What waited (above) names none.
    assert.deepEqual(
      history.map((o) => [
        "req" in o.message ? o.message.req : undefined,
        "re" in o.message ? o.message.re : undefined,
      ]),
      [[7, undefined], [7, undefined], [undefined, 7]],
    );
  });
});

Deno.test("routeE2eMessage refuses an empty or oversized envelope, an unknown user, an unproven sender, and one sealed for another key", () => {
  withState((state) => {
    signIn(state, 1, "alice", ALICE_FP);
    signIn(state, 2, "bob", null);
    const codes = (out: Outbound[]) =>
      out.map((o) => o.message.t === "error" ? o.message.code : o.message.t);
    assert.deepEqual(
      codes(
        send(
          state,
          1,
          { t: "e2e_msg", id: 1, to: "bob", fingerprint: BOB_FP },
          NONE,
        ),
      ),
      ["empty"],
    );
    assert.deepEqual(
      codes(send(
        state,
        1,
        { t: "e2e_msg", id: 2, to: "bob", fingerprint: BOB_FP },
        new Uint8Array(MAX_E2E_MESSAGE_BYTES + 1),
      )),
      ["too_long"],
    );
    assert.deepEqual(
      codes(
        send(state, 1, {
          t: "e2e_msg",
          id: 3,
          to: "nobody",
          fingerprint: BOB_FP,
        }, ENVELOPE),
      ),
      ["no_such_user"],
    );
    assert.deepEqual(
      codes(
        send(state, 2, {
          t: "e2e_msg",
          id: 4,
          to: "alice",
          fingerprint: ALICE_FP,
        }, ENVELOPE),
      ),
      ["identity"],
    );
    // Sealed for another key than bob's.
    state.setFingerprint(2, BOB_FP);
    const stale = send(
      state,
      1,
      { t: "e2e_msg", id: 6, to: "bob", fingerprint: ALICE_FP },
      ENVELOPE,
    );
    assert.deepEqual(stale.map((o) => o.message), [{
      t: "error",
      re: 6,
      code: "identity",
      text:
        `ERROR: bob's identity key is not the one this message is sealed for: it is now ${BOB_FP}`,
    }]);
    // A full-size envelope passes.
    assert.deepEqual(
      codes(send(
        state,
        1,
        { t: "e2e_msg", id: 5, to: "bob", fingerprint: BOB_FP },
        new Uint8Array(MAX_E2E_MESSAGE_BYTES),
      )),
      ["ok", "e2e_private"],
    );
  });
});

Deno.test("routeE2eMessage sends to a user on another node of a cluster: to their address, refused under another key, owed to no one here", () => {
  withState((state) => {
    signIn(state, 1, "alice", ALICE_FP);
    state.remote.put("b.n2", {
      name: "Bob",
      nameKey: "bob",
      node: "n2",
      connectedAt: 1,
      lastMessageAt: null,
      fingerprint: BOB_FP,
      away: null,
    });
    const wrong = send(
      state,
      1,
      { t: "e2e_msg", id: 2, to: "bob", fingerprint: ALICE_FP },
      ENVELOPE,
    );
    assert.equal(wrong[0]?.message.t, "error");
    const out = send(
      state,
      1,
      { t: "e2e_msg", id: 3, to: "bob", fingerprint: BOB_FP },
      ENVELOPE,
    );
    assert.deepEqual(out.map((o) => [o.to, o.message.t]), [
      [{ kind: "connection", id: 1 }, "ok"],
      [{ kind: "user", key: "bob" }, "e2e_private"],
    ]);
    const ok = out[0]!.message;
    // Online elsewhere: not "offline".
    assert.equal(ok.t === "ok" ? ok.text : null, "");
    assert.deepEqual(out[1]!.message, {
      t: "e2e_private",
      from: "alice",
      fingerprint: ALICE_FP,
      ts: 5000,
      id: 1,
      seq: 1,
    });
    assert.equal(out[1]!.body, ENVELOPE);
    assert.equal(state.store.pendingFor("bob", 10).length, 0);
  });
});
