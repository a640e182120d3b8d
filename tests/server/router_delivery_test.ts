/**
 * The router's part of exactly-once delivery (docs/PROTOCOL.md 5.9), with a
 * real in-memory store: positions on the wire, what waits for whom, `ack`.
 */

import assert from "node:assert/strict";
import { MAX_HISTORY } from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import {
  connect,
  type Delivered as Outbound,
  disconnect,
  route,
} from "../_helpers/delivered.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);
const encoder = new TextEncoder();

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
  acks: boolean,
): Outbound[] {
  connect(state, id);
  return route(
    state,
    id,
    { t: "register", id: 0, name, key: KEY, ...(acks ? { acks } : {}) },
    NONE,
    id,
  );
}

/** The chat messages in `out` for `to`, as [text, id, seq, history]. */
function chatFor(out: Outbound[], to: ConnId) {
  return out.filter((o) =>
    o.to.includes(to) &&
    (o.message.t === "public" || o.message.t === "private" ||
      o.message.t === "group")
  ).map((o) => {
    const m = o.message as Extract<ServerMessage, { t: "private" }>;
    return [
      new TextDecoder().decode(o.body),
      m.id,
      m.seq,
      m.history === true,
    ];
  });
}

Deno.test("route gives chat messages the store's id and seq, and welcomes a client that acknowledges with acks", () => {
  withState((state) => {
    const welcome = signIn(state, 1, "sophia", true);
    assert.equal(
      welcome[0]?.message.t === "welcome" && welcome[0].message.acks,
      true,
    );
    const legacy = signIn(state, 2, "jojo", false);
    assert.equal(
      legacy[0]?.message.t === "welcome" && "acks" in legacy[0].message,
      false,
    );
    const a = route(
      state,
      2,
      { t: "msg", id: 1, to: "sophia" },
      encoder.encode("one"),
      10,
    );
    const b = route(state, 2, { t: "say", id: 2 }, encoder.encode("all"), 11);
    const c = route(
      state,
      2,
      { t: "msg", id: 3, to: "sophia" },
      encoder.encode("two"),
      12,
    );
    const positions = [
      ...chatFor(a, 1),
      ...chatFor(b, 1),
      ...chatFor(c, 1),
    ].map(([, id, seq]) => [id as number, seq as number]);
    const [id1, id2, id3] = positions.map(([id]) => id!);
    const seqs = positions.map(([, seq]) => seq);
    assert.ok(id1! < id2! && id2! < id3!, "ids grow across conversations");
    assert.deepEqual(seqs, [1, 1, 2], "seq per conversation");
  });
});

Deno.test("route keeps messages to a client that acknowledges waiting until its ack, and resends them at sign-in", () => {
  withState((state) => {
    signIn(state, 1, "sophia", true);
    signIn(state, 2, "jojo", false);
    route(state, 1, { t: "create", id: 1, group: "team" }, NONE, 5);
    route(state, 2, { t: "join", id: 1, group: "team" }, NONE, 6);
    route(
      state,
      2,
      { t: "msg", id: 2, to: "sophia" },
      encoder.encode("dm"),
      10,
    );
    route(
      state,
      2,
      { t: "gsay", id: 3, group: "team" },
      encoder.encode("g1"),
      11,
    );
    route(
      state,
      1,
      { t: "gsay", id: 2, group: "team" },
      encoder.encode("to jojo"),
      12,
    );
    // sophia acknowledges; jojo, who does not, had his counted at once.
    assert.equal(state.store!.pendingFor("sophia", 10).length, 2);
    assert.equal(state.store!.pendingFor("jojo", 10).length, 0);
    // Her connection drops before any ack: at sign-in both come again.
    disconnect(state, 1, 20);
    const again = signIn(state, 3, "sophia", true);
    assert.deepEqual(
      chatFor(again, 3).map(([text, , , history]) => [text, history]),
      [["dm", true], ["g1", true]],
    );
    // An ack covers the private conversation up to its seq only.
    assert.deepEqual(
      route(
        state,
        3,
        { t: "ack", cursors: [{ to: "JOJO", seq: 1 }] },
        NONE,
        21,
      ),
      [],
    );
    assert.deepEqual(
      state.store!.pendingFor("sophia", 10).map((m) => m.kind),
      ["group"],
    );
    route(
      state,
      3,
      { t: "ack", cursors: [{ group: "team", seq: 1 }] },
      NONE,
      22,
    );
    assert.deepEqual(state.store!.pendingFor("sophia", 10), []);
    disconnect(state, 3, 23);
    assert.deepEqual(chatFor(signIn(state, 4, "sophia", true), 4), []);
  });
});

Deno.test("a sign-in sends what waited in pages: the next once the last is acknowledged, an ack never passing over what was not sent; a client that does not acknowledge is told the rest wait", () => {
  withState((state) => {
    signIn(state, 1, "sophia", true);
    signIn(state, 2, "jojo", false);
    disconnect(state, 1, 2);
    const store = state.store!;
    const total = 2 * MAX_HISTORY + 5;
    store.transaction(() => {
      for (let i = 0; i < total; i++) {
        route(
          state,
          2,
          { t: "msg", id: i, to: "sophia" },
          encoder.encode(`${i}`),
          10,
        );
      }
    });
    const back = signIn(state, 3, "sophia", true);
    const sent = chatFor(back, 3);
    assert.equal(sent.length, 2 * MAX_HISTORY);
    // Acknowledging, it gets the rest: nothing to tell it.
    assert.ok(
      !back.some((o) => o.message.t === "error" && o.message.code === "limit"),
    );
    // A live message after it, shown and acknowledged with a cursor past
    // the five that were not sent: those still wait, and come now, with
    // the live one again (as history: the client drops it, shown).
    const live = chatFor(
      route(
        state,
        2,
        { t: "msg", id: 9999, to: "sophia" },
        encoder.encode("live"),
        11,
      ),
      3,
    );
    const seq = live[0]![2] as number;
    const next = route(
      state,
      3,
      { t: "ack", cursors: [{ to: "jojo", seq }] },
      NONE,
      12,
    );
    const waiting = store.pendingFor("sophia", 100).map((m) =>
      new TextDecoder().decode(m.body)
    );
    const rest = [
      ...Array.from({ length: 5 }, (_, i) => `${2 * MAX_HISTORY + i}`),
      "live",
    ];
    assert.deepEqual(waiting, rest);
    assert.deepEqual(chatFor(next, 3).map((m) => [m[0], m[3]]), [
      ...rest.map((text) => [text, true]),
    ]);
    // The last page acknowledged: nothing waits, and acks cover all again.
    route(state, 3, { t: "ack", cursors: [{ to: "jojo", seq }] }, NONE, 13);
    assert.deepEqual(store.pendingFor("sophia", 100), []);
    assert.equal(state.session(3)?.ackCeiling, null);
    // Half of a page acknowledged: no next page yet.
    disconnect(state, 3, 14);
    store.transaction(() => {
      for (let i = 0; i < total; i++) {
        route(
          state,
          2,
          { t: "msg", id: i, to: "sophia" },
          encoder.encode(`b${i}`),
          15,
        );
      }
    });
    const again = signIn(state, 4, "sophia", true);
    const firstSeq = chatFor(again, 4)[0]![2] as number;
    const half = route(
      state,
      4,
      { t: "ack", cursors: [{ to: "jojo", seq: firstSeq + MAX_HISTORY }] },
      NONE,
      16,
    );
    assert.deepEqual(chatFor(half, 4), []);
    // A client that does not acknowledge is told the rest wait.
    disconnect(state, 4, 17);
    store.transaction(() => {
      for (let i = 0; i < total; i++) {
        route(
          state,
          2,
          { t: "msg", id: i, to: "sophia" },
          encoder.encode(`c${i}`),
          17,
        );
      }
    });
    const legacy = signIn(state, 5, "sophia", false);
    assert.equal(chatFor(legacy, 5).length, 2 * MAX_HISTORY);
    assert.ok(
      legacy.some((o) =>
        o.message.t === "error" && o.message.code === "limit" &&
        /the next ones come when you reconnect/.test(o.message.text)
      ),
    );
  });
});
