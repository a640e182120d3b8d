/** The server's side of file consent, over the router: no sockets. */

import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  connect,
  type Delivered as Outbound,
  delivered,
  disconnect,
  route,
} from "../_helpers/delivered.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import {
  chunkWritesNothing,
  dropRemoteRecipient,
  expireAnswers,
  routeFileAnswer,
} from "../../src/server/transfers.ts";
import { FILE_CHUNK_TAG_BYTES } from "../../src/protocol/limits.ts";

const SOPHIA = 1;
const JOJO = 2;
const NANA = 3;
const NONE = new Uint8Array(0);
const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const SOPHIA_KEY = "SHA256:" + "s".repeat(43);
const ANSWER_MS = 30_000;
const FILE_KEY = "ab".repeat(32);
const T0 = 1000;

/** sophia, jojo and nana online; sophia and jojo in group team (nana too). */
function room(): ServerState {
  const state = new ServerState({ fileAnswerMs: ANSWER_MS }, memoryStore());
  for (
    const [id, name] of [[SOPHIA, "sophia"], [JOJO, "jojo"], [
      NANA,
      "nana",
    ]] as const
  ) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
  }
  state.setFingerprint(SOPHIA, SOPHIA_KEY);
  route(state, SOPHIA, { t: "create", id: 1, group: "team" }, NONE, T0);
  route(state, JOJO, { t: "join", id: 1, group: "team" }, NONE, T0);
  route(state, NANA, { t: "join", id: 1, group: "team" }, NONE, T0);
  return state;
}

function send(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  now = T0,
  body: Uint8Array = NONE,
): Outbound[] {
  return route(state, from, message, body, now);
}

/** A `file_chunk` body for `bytes` bytes of the file: sealed, 16 bytes more. */
function sealedChunk(bytes: number): Uint8Array {
  return new Uint8Array(bytes + FILE_CHUNK_TAG_BYTES);
}

function offerTo(
  state: ServerState,
  target: { to: string } | { group: string },
) {
  return send(state, SOPHIA, {
    t: "file_offer",
    id: 7,
    name: "big.bin",
    size: 3,
    ...target,
    key: FILE_KEY,
  });
}

/** dave (shown as `name`) online on node n2, not on this one. */
function daveOnNode2(state: ServerState, name: string): void {
  state.remote.put("d.n2", {
    name,
    nameKey: "dave",
    node: "n2",
    connectedAt: 1,
    lastMessageAt: null,
    fingerprint: null,
    away: null,
  });
}

Deno.test("routeFile asks the recipient first: the offer names the sender's key and the wait, the sender hears nothing yet", () => {
  const state = room();
  assert.deepEqual(offerTo(state, { to: "jojo" }), [{
    to: [JOJO],
    message: {
      t: "file_offer",
      xfer: 1,
      from: "sophia",
      name: "big.bin",
      size: 3,
      fingerprint: SOPHIA_KEY,
      timeout: ANSWER_MS,
      key: FILE_KEY,
    },
  }]);
});

Deno.test("routeFile passes an offer's key_id on unchanged, and no key when the sender gave none", () => {
  const state = room();
  const [out] = send(state, SOPHIA, {
    t: "file_offer",
    id: 7,
    name: "big.bin",
    size: 3,
    to: "jojo",
    key_id: "0123456789abcdef0123456789abcdef",
  });
  assert.equal(out?.message.t, "file_offer");
  const offer = out!.message as { key_id?: string; key?: string };
  assert.equal(offer.key_id, "0123456789abcdef0123456789abcdef");
  assert.equal("key" in offer, false);
});

Deno.test("routeFile passes an offer's sha256 (the whole file's, keyed) on unchanged, and none when the sender gave none", () => {
  const state = room();
  const sha256 = "ab".repeat(32);
  const offer = (extra: { sha256?: string }, id: number) =>
    send(state, SOPHIA, {
      t: "file_offer",
      id,
      name: "big.bin",
      size: 3,
      to: "jojo",
      key_id: "0123456789abcdef0123456789abcdef",
      ...extra,
    })[0]!.message as { sha256?: string };
  assert.equal(offer({ sha256 }, 7).sha256, sha256);
  assert.equal("sha256" in offer({}, 8), false);
});

Deno.test("routeFile forwards nothing to a recipient before it accepts, then file_ready goes to the sender", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  // A sender guessing the transfer number early gets nothing through.
  assert.deepEqual(
    send(
      state,
      SOPHIA,
      { t: "file_chunk", xfer: 1, offset: 0 },
      T0,
      sealedChunk(3),
    ),
    [],
  );
  assert.deepEqual(send(state, JOJO, { t: "file_accept", xfer: 1 }), [{
    to: [SOPHIA],
    message: { t: "file_ready", re: 7, xfer: 1, recipients: ["jojo"] },
  }]);
  const chunk = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 0 },
    T0,
    sealedChunk(3),
  );
  assert.deepEqual(chunk.map((o) => [o.to, o.message.t]), [[
    [JOJO],
    "file_chunk",
  ]]);
});

Deno.test("routeFile answers the sender's offer with a declined error when the only recipient declines", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  assert.deepEqual(send(state, JOJO, { t: "file_decline", xfer: 1 }), [{
    to: [SOPHIA],
    message: {
      t: "error",
      re: 7,
      code: "declined",
      text: "ERROR: jojo declined big.bin",
    },
  }]);
  assert.equal(state.transfers.size, 0);
});

Deno.test("routeFile in a group waits for every answer and sends to those who accepted", () => {
  const state = room();
  const notice = offerTo(state, { group: "team" });
  assert.deepEqual(notice[0]!.to, [JOJO, NANA]);
  assert.deepEqual(send(state, JOJO, { t: "file_decline", xfer: 1 }), []);
  assert.deepEqual(send(state, NANA, { t: "file_accept", xfer: 1 }), [{
    to: [SOPHIA],
    message: {
      t: "file_ready",
      re: 7,
      xfer: 1,
      recipients: ["nana"],
      declined: [{ name: "jojo", reason: "declined" }],
    },
  }]);
  const chunk = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 0 },
    T0,
    sealedChunk(3),
  );
  assert.deepEqual(chunk[0]!.to, [NANA]);
  // jojo is out of it: its acknowledgements and verdicts change nothing.
  assert.deepEqual(send(state, JOJO, { t: "file_accept", xfer: 1 }), []);
  assert.deepEqual(
    send(state, JOJO, { t: "file_ack", xfer: 1, received: 3 }),
    [],
  );
});

Deno.test("expireAnswers counts a recipient that never answers as declined and tells it", () => {
  const state = room();
  offerTo(state, { group: "team" });
  send(state, NANA, { t: "file_accept", xfer: 1 });
  assert.equal(state.transfers.nextAnswerDeadline(), T0 + ANSWER_MS);
  assert.deepEqual(expireAnswers(state, T0 + ANSWER_MS - 1), []);
  assert.deepEqual(delivered(state, expireAnswers(state, T0 + ANSWER_MS)), [
    {
      to: [JOJO],
      message: {
        t: "file_cancel",
        xfer: 1,
        reason: "you did not answer in time",
      },
    },
    {
      to: [SOPHIA],
      message: {
        t: "file_ready",
        re: 7,
        xfer: 1,
        recipients: ["nana"],
        declined: [{ name: "jojo", reason: "did not answer" }],
      },
    },
  ]);
  assert.equal(state.transfers.nextAnswerDeadline(), null);
});

Deno.test("expireAnswers ends an offer nobody answered with one error for the sender", () => {
  const state = room();
  offerTo(state, { group: "team" });
  const out = delivered(state, expireAnswers(state, T0 + ANSWER_MS));
  assert.deepEqual(out.at(-1), {
    to: [SOPHIA],
    message: {
      t: "error",
      re: 7,
      code: "declined",
      text:
        "ERROR: Nobody in group 'team' accepted big.bin (jojo did not answer; nana did not answer)",
    },
  });
  assert.equal(state.transfers.size, 0);
});

Deno.test("routeFile counts a recipient's cancel or departure before answering as declined, with its reason", () => {
  const state = room();
  offerTo(state, { group: "team" });
  send(state, JOJO, {
    t: "file_cancel",
    xfer: 1,
    reason: "Cannot accept the file: it is 3 bytes, over the limit of 2 bytes",
  });
  const out = disconnect(state, NANA, T0);
  assert.deepEqual(out[0], {
    to: [SOPHIA],
    message: {
      t: "error",
      re: 7,
      code: "declined",
      text:
        "ERROR: Nobody in group 'team' accepted big.bin (jojo: Cannot accept the file: it is 3 bytes, over the limit of 2 bytes; nana: disconnected)",
    },
  });
});

Deno.test("routeFile answers an offer to one user who leaves before answering as one to a user who is not online, and forgets it", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  // Then the room hears jojo left.
  assert.deepEqual(disconnect(state, JOJO, T0)[0], {
    to: [SOPHIA],
    message: {
      t: "error",
      re: 7,
      code: "no_such_user",
      text: "ERROR: User 'jojo' is not online.",
    },
  });
  assert.equal(state.transfers.size, 0);
});

Deno.test("dropRemoteRecipient answers an offer to one user on another node, gone or not found there before answering, as one to a user who is not online", () => {
  const state = room();
  daveOnNode2(state, "Dave");
  offerTo(state, { to: "dave" });
  const dave = { id: state.remoteRecipients.byKey("dave")!, name: "Dave" };
  assert.deepEqual(
    delivered(state, dropRemoteRecipient(state, 1, dave, T0)),
    [{
      to: [SOPHIA],
      message: {
        t: "error",
        re: 7,
        code: "no_such_user",
        text: "ERROR: User 'Dave' is not online.",
      },
    }],
  );
  assert.equal(state.transfers.size, 0);
  // Said once: what comes late about it finds nothing.
  assert.deepEqual(dropRemoteRecipient(state, 1, dave, T0), []);
});

Deno.test("routeFile cancels a waiting offer for its recipients when the sender leaves", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  const out = disconnect(state, SOPHIA, T0);
  assert.deepEqual(out[0], {
    to: [JOJO],
    message: {
      t: "file_cancel",
      xfer: 1,
      reason: "sophia disconnected",
      resumable: true,
    },
  });
  assert.equal(state.transfers.size, 0);
});

Deno.test("routeFile ignores answers from connections that were not asked", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  assert.deepEqual(send(state, NANA, { t: "file_accept", xfer: 1 }), []);
  assert.deepEqual(send(state, NANA, { t: "file_decline", xfer: 1 }), []);
  assert.deepEqual(send(state, SOPHIA, { t: "file_accept", xfer: 1 }), []);
  assert.deepEqual(send(state, JOJO, { t: "file_accept", xfer: 99 }), []);
  assert.equal(state.transfers.get(1)?.answerBy, T0 + ANSWER_MS);
});

Deno.test("expireAnswers tells the sender of a private offer that its recipient did not answer", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  assert.deepEqual(
    delivered(state, expireAnswers(state, T0 + ANSWER_MS)).at(-1),
    {
      to: [SOPHIA],
      message: {
        t: "error",
        re: 7,
        code: "declined",
        text: "ERROR: jojo did not answer about big.bin",
      },
    },
  );
});

Deno.test("routeFile answers a sender that cancels its own offer before the reply", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  assert.deepEqual(
    send(state, SOPHIA, {
      t: "file_cancel",
      xfer: 1,
      reason: "changed my mind",
    }),
    [
      {
        to: [JOJO],
        message: {
          t: "file_cancel",
          xfer: 1,
          reason: "sophia cancelled: changed my mind",
        },
      },
      {
        to: [SOPHIA],
        message: {
          t: "error",
          re: 7,
          code: "bad_request",
          text:
            "ERROR: Sending big.bin stopped: sophia cancelled: changed my mind",
        },
      },
    ],
  );
});

Deno.test("routeFile says a sender's bare /cancel once: 'sophia cancelled it', not 'sophia cancelled: cancelled'", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  const out = send(state, SOPHIA, {
    t: "file_cancel",
    xfer: 1,
    reason: "cancelled",
  });
  assert.deepEqual(out[0], {
    to: [JOJO],
    message: { t: "file_cancel", xfer: 1, reason: "sophia cancelled it" },
  });
});

Deno.test("routeFile takes back an offer by its request id before the reply: recipients hear it was withdrawn", () => {
  const state = room();
  offerTo(state, { group: "team" });
  // jojo said yes already; nana has not answered.
  assert.deepEqual(send(state, JOJO, { t: "file_accept", xfer: 1 }), []);
  const withdraw = {
    t: "file_cancel",
    xfer: 0,
    offer: 7,
    reason: "withdrawn",
  } as const;
  // Only the sender's own offer: the same id from another is no offer.
  assert.deepEqual(send(state, NANA, withdraw), []);
  assert.deepEqual(send(state, SOPHIA, withdraw), [
    {
      to: [JOJO, NANA],
      message: {
        t: "file_cancel",
        xfer: 1,
        reason: "sophia took back the offer",
        withdrawn: true,
      },
    },
    {
      to: [SOPHIA],
      message: {
        t: "error",
        re: 7,
        code: "withdrawn",
        text: "ERROR: Sending big.bin stopped: sophia took back the offer",
      },
    },
  ]);
  // Forgotten: a late answer or a second withdrawal does nothing.
  assert.deepEqual(send(state, NANA, { t: "file_accept", xfer: 1 }), []);
  assert.deepEqual(send(state, SOPHIA, withdraw), []);
});

Deno.test("routeFile takes a withdrawal that crossed the reply as the sender's cancel", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  send(state, JOJO, { t: "file_accept", xfer: 1 });
  assert.deepEqual(
    send(state, SOPHIA, {
      t: "file_cancel",
      xfer: 0,
      offer: 7,
      reason: "withdrawn",
    }),
    [
      {
        to: [JOJO],
        message: {
          t: "file_cancel",
          xfer: 1,
          reason: "sophia cancelled: withdrawn",
        },
      },
      {
        to: [SOPHIA],
        message: {
          t: "file_cancel",
          xfer: 1,
          reason: "sophia cancelled: withdrawn",
        },
      },
    ],
  );
});

Deno.test("routeFile keeps the nobody-accepted text within what clients read", () => {
  const state = new ServerState({ fileAnswerMs: ANSWER_MS }, memoryStore());
  connect(state, 1);
  route(state, 1, { t: "register", id: 0, name: "sophia", key: KEY }, NONE, 1);
  route(state, 1, { t: "create", id: 1, group: "big" }, NONE, T0);
  for (let id = 2; id <= 200; id++) {
    connect(state, id);
    const name = `member-with-a-long-name-${id}`;
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
    route(state, id, { t: "join", id: 1, group: "big" }, NONE, T0);
  }
  send(state, 1, { t: "file_offer", id: 7, name: "x", size: 1, group: "big" });
  let last: Outbound[] = [];
  for (let id = 2; id <= 200; id++) {
    last = send(state, id, {
      t: "file_cancel",
      xfer: 1,
      reason: "z".repeat(1000),
    });
  }
  const reply = last.at(-1)!.message;
  assert.equal(reply.t, "error");
  const text = reply.t === "error" ? reply.text : "";
  assert.ok(text.length <= 4096, `${text.length}`);
  assert.match(text, /; and 179 more\)$/);
});

const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);

/** A group offer of 3 bytes to jojo and nana, each accepting with `claims`. */
function claimed(
  state: ServerState,
  jojo: { offset: number; sha256: string } | null,
  nana: { offset: number; sha256: string } | null,
): Outbound[] {
  offerTo(state, { group: "team" });
  send(state, JOJO, { t: "file_accept", xfer: 1, ...(jojo ?? {}) });
  return send(state, NANA, { t: "file_accept", xfer: 1, ...(nana ?? {}) });
}

Deno.test("routeFile passes valid resume claims to the sender in file_ready and drops impossible ones", () => {
  const state = room();
  const out = claimed(state, { offset: 2, sha256: HASH_A }, {
    offset: 4,
    sha256: HASH_B,
  });
  assert.deepEqual(out, [{
    to: [SOPHIA],
    message: {
      t: "file_ready",
      re: 7,
      xfer: 1,
      recipients: ["jojo", "nana"],
      // nana claims more than the 3-byte file: it counts as holding nothing.
      resume: [{ name: "jojo", offset: 2, sha256: HASH_A }],
    },
  }]);
  // A hash that is not 64 lower-case hex digits, or an offset of 0: no claim.
  for (
    const claim of [{ offset: 1, sha256: "XYZ" }, { offset: 0, sha256: HASH_A }]
  ) {
    const [ready] = claimed(room(), claim, null);
    assert.equal(ready?.message.t, "file_ready");
    assert.ok(!("resume" in ready!.message));
  }
});

Deno.test("routeFile lets a resumed transfer start at the lowest claim, and every recipient's count starts there", () => {
  const state = room();
  claimed(state, { offset: 2, sha256: HASH_A }, { offset: 1, sha256: HASH_B });
  const out = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 1 },
    T0,
    sealedChunk(2),
  );
  assert.deepEqual(out.map((o) => [o.to, o.message]), [[
    [JOJO, NANA],
    { t: "file_chunk", xfer: 1, offset: 1 },
  ]]);
  // An acknowledgement must move past the start.
  assert.deepEqual(
    send(state, JOJO, { t: "file_ack", xfer: 1, received: 1 }),
    [],
  );
  send(state, JOJO, { t: "file_ack", xfer: 1, received: 3 });
  assert.deepEqual(
    send(state, NANA, { t: "file_ack", xfer: 1, received: 3 }),
    [{ to: [SOPHIA], message: { t: "file_progress", xfer: 1, acked: 3 } }],
  );
  assert.equal(
    send(state, SOPHIA, { t: "file_end", xfer: 1, sha256: HASH_A })[0]?.message
      .t,
    "file_end",
  );
});

Deno.test("routeFile cancels a transfer whose first chunk starts past what a recipient holds", () => {
  const state = room();
  claimed(state, { offset: 2, sha256: HASH_A }, null);
  const out = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 2 },
    T0,
    sealedChunk(1),
  );
  assert.deepEqual(out[0], {
    to: [JOJO, NANA],
    message: {
      t: "file_cancel",
      xfer: 1,
      reason: "first chunk at offset 2, past what a recipient holds (0)",
    },
  });
  assert.equal(state.transfers.size, 0);
});

Deno.test("routeFile ends at once a transfer whose recipients all hold the whole file", () => {
  const state = room();
  claimed(state, { offset: 3, sha256: HASH_A }, { offset: 3, sha256: HASH_A });
  assert.deepEqual(
    send(state, SOPHIA, { t: "file_end", xfer: 1, sha256: HASH_A }),
    [{
      to: [JOJO, NANA],
      message: { t: "file_end", xfer: 1, sha256: HASH_A },
    }],
  );
});

Deno.test("routeFile marks as resumable what a disconnect broke, not what someone cancelled", () => {
  const state = room();
  claimed(state, null, null);
  const left = disconnect(state, NANA, T0);
  assert.deepEqual(left[0], {
    to: [SOPHIA],
    message: {
      t: "file_result",
      xfer: 1,
      name: "nana",
      ok: false,
      reason: "nana disconnected",
      resumable: true,
    },
  });
  const cancelled = send(state, JOJO, {
    t: "file_cancel",
    xfer: 1,
    reason: "cancelled",
  });
  assert.deepEqual(cancelled[0]?.message, {
    t: "file_result",
    xfer: 1,
    name: "jojo",
    ok: false,
    reason: "cancelled",
  });
});

Deno.test("routeFile counts a chunk as its body less the tag, and cancels one with no file bytes", () => {
  const state = room();
  offerTo(state, { to: "jojo" });
  send(state, JOJO, { t: "file_accept", xfer: 1 });
  const relayed = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 0 },
    T0,
    sealedChunk(2),
  );
  assert.deepEqual(relayed.map((out) => out.message.t), ["file_chunk"]);
  assert.equal(relayed[0]!.body!.byteLength, 2 + FILE_CHUNK_TAG_BYTES);
  const empty = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 2 },
    T0,
    new Uint8Array(FILE_CHUNK_TAG_BYTES),
  );
  assert.deepEqual(
    empty.map((
      out,
    ) => [out.message.t, "reason" in out.message && out.message.reason]),
    [["file_cancel", "bad chunk size"], ["file_cancel", "bad chunk size"]],
  );
});

Deno.test("routeFile offers to a user on another node under a stand-in id, takes their answers under it, and drops them resumably when they go", () => {
  const state = room();
  daveOnNode2(state, "Dave");
  const [offer] = offerTo(state, { to: "dave" });
  const standIn = state.remoteRecipients.byKey("dave")!;
  assert.ok(standIn < 0);
  assert.deepEqual(state.remoteRecipients.get(standIn), {
    name: "Dave",
    nameKey: "dave",
  });
  assert.deepEqual(offer?.to, [standIn]);
  assert.equal(offer?.message.t, "file_offer");
  const dave = { id: standIn, name: "Dave" };
  const ready = delivered(
    state,
    routeFileAnswer(state, dave, { t: "file_accept", xfer: 1 }, T0),
  );
  assert.deepEqual(ready.map((o) => [o.to, o.message.t]), [
    [[SOPHIA], "file_ready"],
  ]);
  // A connection here cannot answer for them.
  assert.deepEqual(
    send(state, JOJO, { t: "file_ack", xfer: 1, received: 1 }),
    [],
  );
  const chunk = send(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 0 },
    T0,
    sealedChunk(2),
  );
  assert.deepEqual(chunk.map((o) => [o.to, o.message.t]), [
    [[standIn], "file_chunk"],
  ]);
  const progress = delivered(
    state,
    routeFileAnswer(state, dave, { t: "file_ack", xfer: 1, received: 2 }, T0),
  );
  assert.deepEqual(progress.map((o) => o.message), [
    { t: "file_progress", xfer: 1, acked: 2 },
  ]);
  const gone = delivered(state, dropRemoteRecipient(state, 1, dave, T0));
  assert.deepEqual(gone.map((o) => [o.to, o.message]), [[[SOPHIA], {
    t: "file_result",
    xfer: 1,
    name: "Dave",
    ok: false,
    reason: "Dave disconnected",
    resumable: true,
  }]]);
  assert.equal(state.transfers.size, 0);
});

Deno.test("routeFile offers a group's file to its members on other nodes too", () => {
  const state = room();
  daveOnNode2(state, "dave");
  connect(state, 9);
  route(state, 9, { t: "register", id: 0, name: "dave", key: KEY }, NONE, 9);
  route(state, 9, { t: "join", id: 1, group: "team" }, NONE, T0);
  disconnect(state, 9, T0);
  const [offer] = offerTo(state, { group: "team" });
  const standIn = state.remoteRecipients.byKey("dave")!;
  assert.deepEqual(offer?.to, [JOJO, NANA, standIn]);
});

Deno.test("chunkWritesNothing passes only chunks routed without touching the store; the first chunk and one that abandons the transfer get a transaction", () => {
  const calls: string[] = [];
  const store = memoryStore();
  const watched = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(key));
        return value.apply(target, args);
      };
    },
  });
  const state = new ServerState({ fileAnswerMs: ANSWER_MS }, watched);
  for (const [id, name] of [[SOPHIA, "sophia"], [JOJO, "jojo"]] as const) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
  }
  send(state, SOPHIA, {
    t: "file_offer",
    id: 7,
    name: "big.bin",
    size: 6,
    to: "jojo",
    key: FILE_KEY,
  });
  /**
   * [chunkWritesNothing, whether routing it used the store, what went out]
   * for a chunk of `bytes` at `offset`.
   */
  const chunk = (offset: number, bytes: number) => {
    const message = { t: "file_chunk", xfer: 1, offset } as const;
    const body = sealedChunk(bytes);
    const predicted = chunkWritesNothing(state, SOPHIA, message, body);
    calls.length = 0;
    const out = send(state, SOPHIA, message, T0, body);
    return [predicted, calls.length > 0, out.map((o) => o.message.t)];
  };
  // Before the answer: dropped, nothing written.
  assert.deepEqual(chunk(0, 2), [true, false, []]);
  send(state, JOJO, { t: "file_accept", xfer: 1 });
  // The first chunk starts the transfer: the transaction's way.
  assert.deepEqual(chunk(0, 2), [false, false, ["file_chunk"]]);
  assert.deepEqual(chunk(2, 2), [true, false, ["file_chunk"]]);
  // Past the declared size: abandoned, and recorded.
  assert.deepEqual(chunk(4, 3), [false, true, ["file_cancel", "file_cancel"]]);
  // The transfer is gone: dropped again.
  assert.deepEqual(chunk(4, 2), [true, false, []]);
});
