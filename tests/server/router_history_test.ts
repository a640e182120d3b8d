import assert from "node:assert/strict";
import {
  JOJO,
  KEY,
  NANA,
  NONE,
  room,
  SOPHIA,
} from "../_helpers/router_room.ts";
import {
  MAX_HISTORY_BYTES,
  MAX_TEXT_BYTES,
} from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  connect,
  type Delivered as Outbound,
  disconnect,
  route,
} from "../_helpers/delivered.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function send(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  body = NONE,
): Outbound[] {
  return route(state, from, message, body, 1000);
}

/** A history reply taken apart: the ids and texts of its messages, and its end. */
function page(out: Outbound[]) {
  const end = out.at(-1)?.message;
  const messages = out.slice(0, -1).map((one) => one.message);
  return {
    ids: messages.map((m) => "id" in m ? m.id : undefined),
    texts: out.slice(0, -1).map((one) => decoder.decode(one.body)),
    end,
  };
}

/** sophia says `p1` to `pN` in the room; returns their ids. */
function sayAll(state: ServerState, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const [reply] = send(
      state,
      SOPHIA,
      { t: "say", id: 100 + i, cid: `c${i}` },
      encoder.encode(`p${i + 1}`),
    );
    const message = reply?.message;
    assert.ok(message?.t === "ok" && message.id !== undefined);
    return message.id;
  });
}

Deno.test("route history says more:true while older messages remain, and before pages back to the first", () => {
  const state = room();
  const ids = sayAll(state, 5);
  const first = page(send(state, JOJO, { t: "history", id: 1, limit: 2 }));
  assert.deepEqual(first.texts, ["p4", "p5"]);
  assert.deepEqual(first.ids, ids.slice(3));
  assert.deepEqual(first.end, {
    t: "ok",
    re: 1,
    text: "End of history for the public room (2 messages).",
    more: true,
  });
  const second = page(
    send(state, JOJO, { t: "history", id: 2, limit: 2, before: ids[3]! }),
  );
  assert.deepEqual(second.texts, ["p2", "p3"]);
  assert.equal(second.end?.t === "ok" && second.end.more, true);
  const last = page(
    send(state, JOJO, { t: "history", id: 3, limit: 2, before: ids[1]! }),
  );
  assert.deepEqual(last.texts, ["p1"]);
  assert.deepEqual(last.end, {
    t: "ok",
    re: 3,
    text: "End of history for the public room (1 message).",
  });
  const none = page(
    send(state, JOJO, { t: "history", id: 4, limit: 2, before: ids[0]! }),
  );
  assert.deepEqual(none.end, {
    t: "ok",
    re: 4,
    text: "No history for the public room.",
  });
  // Exactly the whole history: nothing older, so no `more`.
  const all = page(send(state, JOJO, { t: "history", id: 5, limit: 5 }));
  assert.equal(all.texts.length, 5);
  assert.deepEqual(all.end, {
    t: "ok",
    re: 5,
    text: "End of history for the public room (5 messages).",
  });
});

Deno.test("route history with before keeps the byte cap's text and says more, and the next page brings what the cap left out", () => {
  const state = room();
  const fit = Math.floor(MAX_HISTORY_BYTES / MAX_TEXT_BYTES);
  const total = fit + 4;
  const big = (i: number) =>
    encoder.encode(String(i % 10).repeat(MAX_TEXT_BYTES));
  const ids = Array.from({ length: total }, (_, i) => {
    const [reply] = send(
      state,
      SOPHIA,
      { t: "say", id: i + 1, cid: `c${i}` },
      big(i),
    );
    const message = reply?.message;
    assert.ok(message?.t === "ok" && message.id !== undefined);
    return message.id;
  });
  const first = page(send(state, JOJO, { t: "history", id: 1, limit: 500 }));
  assert.deepEqual(first.ids, ids.slice(total - fit));
  assert.deepEqual(first.end, {
    t: "ok",
    re: 1,
    text:
      `End of history for the public room (${fit} messages; older ones do not fit in one reply).`,
    more: true,
  });
  const second = page(
    send(state, JOJO, {
      t: "history",
      id: 2,
      limit: 500,
      before: first.ids[0]!,
    }),
  );
  assert.deepEqual(second.ids, ids.slice(0, total - fit));
  assert.deepEqual(second.end, {
    t: "ok",
    re: 2,
    text: "End of history for the public room (4 messages).",
  });
  // The limit filled exactly, and the one past it past the budget too: the
  // text is the plain one (the cap cut nothing asked for), with `more`.
  const exact = page(send(state, JOJO, { t: "history", id: 3, limit: fit }));
  assert.deepEqual(exact.end, {
    t: "ok",
    re: 3,
    text: `End of history for the public room (${fit} messages).`,
    more: true,
  });
});

Deno.test("route history with before still refuses a group to a non-member and shows a member only what they were entitled to", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "team" });
  const early = send(
    state,
    SOPHIA,
    { t: "gsay", id: 2, group: "team", cid: "g1" },
    encoder.encode("before jojo"),
  );
  const sent = early[0]?.message;
  assert.ok(sent?.t === "ok" && sent.id !== undefined);
  const earlyId = sent.id;
  send(state, JOJO, { t: "join", id: 1, group: "team" });
  send(
    state,
    SOPHIA,
    { t: "gsay", id: 3, group: "team", cid: "g2" },
    encoder.encode("after jojo"),
  );
  const asJojo = page(
    send(state, JOJO, {
      t: "history",
      id: 2,
      target: "team",
      before: Number.MAX_SAFE_INTEGER,
    }),
  );
  assert.deepEqual(asJojo.texts, ["after jojo"]);
  assert.deepEqual(asJojo.end, {
    t: "ok",
    re: 2,
    text: "End of history for group 'team' (1 message).",
  });
  // A cursor just past the message from before jojo joined finds nothing.
  const probe = page(
    send(state, JOJO, {
      t: "history",
      id: 3,
      target: "team",
      before: earlyId + 1,
    }),
  );
  assert.deepEqual(probe.texts, []);
  assert.deepEqual(probe.end, {
    t: "ok",
    re: 3,
    text: "No history for group 'team'.",
  });
  const outsider = send(state, NANA, {
    t: "history",
    id: 4,
    target: "team",
    before: earlyId + 1,
  });
  assert.deepEqual(outsider.map((one) => one.message.t), ["error"]);
  assert.equal(
    outsider[0]?.message.t === "error" && outsider[0].message.code,
    "not_member",
  );
});

Deno.test("route history writes the exchange of docs/PROTOCOL.md 5.4 (paging back with before) byte for byte", () => {
  const state = room();
  for (const [i, body] of ["one", "two", "three"].entries()) {
    route(
      state,
      SOPHIA,
      { t: "msg", id: 10 + i, to: "jojo" },
      encoder.encode(body),
      1767225600000 + i * 1000,
    );
  }
  const exchange = (request: ClientMessage) => [
    `> ${JSON.stringify(request)}`,
    ...route(state, JOJO, request, NONE, 1767225700000).map((one) =>
      `< ${JSON.stringify(one.message)}${
        one.body === undefined ? "" : `  body: ${decoder.decode(one.body)}`
      }`
    ),
  ];
  assert.deepEqual(
    [
      ...exchange({ t: "history", target: "sophia", limit: 2, id: 5 }),
      ...exchange({
        t: "history",
        target: "sophia",
        limit: 2,
        before: 2,
        id: 6,
      }),
    ],
    [
      `> {"t":"history","target":"sophia","limit":2,"id":5}`,
      `< {"t":"private","from":"sophia","ts":1767225601000,"id":2,"seq":2,"req":5,"history":true}  body: two`,
      `< {"t":"private","from":"sophia","ts":1767225602000,"id":3,"seq":3,"req":5,"history":true}  body: three`,
      `< {"t":"ok","re":5,"text":"End of history for your conversation with sophia (2 messages).","more":true}`,
      `> {"t":"history","target":"sophia","limit":2,"before":2,"id":6}`,
      `< {"t":"private","from":"sophia","ts":1767225600000,"id":1,"seq":1,"req":6,"history":true}  body: one`,
      `< {"t":"ok","re":6,"text":"End of history for your conversation with sophia (1 message)."}`,
    ],
  );
});

Deno.test("route history with after sends the newest messages above the cursor, oldest first, and says more when earlier ones above it were left out", () => {
  const state = room();
  const ids = sayAll(state, 5);
  const missed = page(
    send(state, JOJO, { t: "history", id: 1, limit: 10, after: ids[1]! }),
  );
  assert.deepEqual(missed.texts, ["p3", "p4", "p5"]);
  assert.deepEqual(missed.ids, ids.slice(2));
  assert.deepEqual(missed.end, {
    t: "ok",
    re: 1,
    text: "End of history for the public room (3 messages).",
  });
  // Fewer asked than missed: the newest of them, and `more`.
  const cut = page(
    send(state, JOJO, { t: "history", id: 2, limit: 2, after: ids[0]! }),
  );
  assert.deepEqual(cut.texts, ["p4", "p5"]);
  assert.equal(cut.end?.t === "ok" && cut.end.more, true);
  // With before too: a window, here the one message between.
  const window = page(send(state, JOJO, {
    t: "history",
    id: 3,
    after: ids[1]!,
    before: ids[3]!,
  }));
  assert.deepEqual(window.texts, ["p3"]);
  // Nothing above the newest.
  const none = page(
    send(state, JOJO, { t: "history", id: 4, after: ids[4]! }),
  );
  assert.deepEqual(none.end, {
    t: "ok",
    re: 4,
    text: "No history for the public room.",
  });
});

Deno.test("route history with after writes the exchange of docs/PROTOCOL.md 5.4 (what was missed) byte for byte", () => {
  const state = room();
  for (const [i, body] of ["one", "two", "three"].entries()) {
    route(
      state,
      SOPHIA,
      { t: "say", id: 10 + i },
      encoder.encode(body),
      1767225600000 + i * 1000,
    );
  }
  const request: ClientMessage = { t: "history", limit: 100, after: 1, id: 7 };
  assert.deepEqual(
    [
      `> ${JSON.stringify(request)}`,
      ...route(state, JOJO, request, NONE, 1767225700000).map((one) =>
        `< ${JSON.stringify(one.message)}${
          one.body === undefined ? "" : `  body: ${decoder.decode(one.body)}`
        }`
      ),
    ],
    [
      `> {"t":"history","limit":100,"after":1,"id":7}`,
      `< {"t":"public","from":"sophia","ts":1767225601000,"id":2,"seq":2,"req":7,"history":true}  body: two`,
      `< {"t":"public","from":"sophia","ts":1767225602000,"id":3,"seq":3,"req":7,"history":true}  body: three`,
      `< {"t":"ok","re":7,"text":"End of history for the public room (2 messages)."}`,
    ],
  );
});

Deno.test("route history with after narrows a group and a private conversation too, and never widens a group to before the requester joined", () => {
  const state = room();
  send(state, SOPHIA, { t: "create", id: 1, group: "team" });
  send(
    state,
    SOPHIA,
    { t: "gsay", id: 2, group: "team" },
    encoder.encode("before jojo"),
  );
  send(state, JOJO, { t: "join", id: 1, group: "team" });
  const ids = ["g1", "g2"].map((text, i) => {
    const [reply] = send(
      state,
      SOPHIA,
      { t: "gsay", id: 3 + i, group: "team", cid: text },
      encoder.encode(text),
    );
    assert.ok(reply?.message.t === "ok" && reply.message.id !== undefined);
    return reply.message.id;
  });
  // From 0: only what jojo was there for, as without a cursor.
  assert.deepEqual(
    page(send(state, JOJO, { t: "history", id: 2, target: "team", after: 0 }))
      .texts,
    ["g1", "g2"],
  );
  assert.deepEqual(
    page(send(state, JOJO, {
      t: "history",
      id: 3,
      target: "team",
      after: ids[0]!,
    })).texts,
    ["g2"],
  );
  const privateIds = ["p1", "p2"].map((text, i) => {
    const [reply] = send(
      state,
      SOPHIA,
      { t: "msg", id: 10 + i, to: "jojo", cid: text },
      encoder.encode(text),
    );
    assert.ok(reply?.message.t === "ok" && reply.message.id !== undefined);
    return reply.message.id;
  });
  assert.deepEqual(
    page(send(state, JOJO, {
      t: "history",
      id: 4,
      target: "sophia",
      after: privateIds[0]!,
    })).texts,
    ["p2"],
  );
});

Deno.test("route history names the request on every message of its answer, and what waited for the user names none", () => {
  const state = room();
  route(state, SOPHIA, { t: "create", id: 1, group: "team" }, NONE, 10);
  route(state, JOJO, { t: "join", id: 1, group: "team" }, NONE, 11);
  route(state, SOPHIA, { t: "say", id: 2 }, encoder.encode("all"), 12);
  route(
    state,
    SOPHIA,
    { t: "gsay", id: 3, group: "team" },
    encoder.encode("g1"),
    13,
  );
  // jojo is away when sophia writes to him: it waits for his sign-in.
  disconnect(state, JOJO, 14);
  route(
    state,
    SOPHIA,
    { t: "msg", id: 4, to: "jojo" },
    encoder.encode("dm"),
    15,
  );
  const back = 20;
  connect(state, back);
  const welcome = route(
    state,
    back,
    { t: "register", id: 0, name: "jojo", key: KEY },
    NONE,
    16,
  );
  const waited = welcome.filter((o) => o.message.t === "private");
  assert.equal(waited.length, 1);
  assert.equal(
    waited[0]!.message.t === "private" && waited[0]!.message.history,
    true,
  );
  assert.equal("req" in waited[0]!.message, false);
  assert.equal("re" in waited[0]!.message, false);
  // Each names its request with `req`, never `re`: only the `ok` after
  // them is the reply (PROTOCOL.md 5.2).
  const marks = (out: Outbound[]) =>
    out.slice(0, -1).map((o) => [
      o.message.t,
      "history" in o.message ? o.message.history : undefined,
      "req" in o.message ? o.message.req : undefined,
      "re" in o.message,
    ]);
  assert.deepEqual(
    marks(send(state, back, { t: "history", id: 31 })),
    [["public", true, 31, false]],
  );
  assert.deepEqual(
    marks(send(state, back, { t: "history", id: 32, target: "team" })),
    [["group", true, 32, false]],
  );
  assert.deepEqual(
    marks(send(state, back, { t: "history", id: 33, target: "sophia" })),
    [["private", true, 33, false]],
  );
  // Live messages carry neither.
  const live = route(
    state,
    SOPHIA,
    { t: "say", id: 5 },
    encoder.encode("now"),
    17,
  )
    .filter((o) => o.message.t === "public");
  assert.equal(live.length, 1);
  assert.equal("req" in live[0]!.message, false);
  assert.equal("re" in live[0]!.message, false);
  assert.equal("history" in live[0]!.message, false);
});
