import assert from "node:assert/strict";
import {
  MAX_HELD,
  MISSED_EARLIER,
  MISSED_HEADER,
  MISSED_LATE,
  MISSED_LATE_HEADER,
  MISSED_LIMIT,
  MissedPublic,
  missedRefused,
} from "../../src/client/missed_public.ts";
import { HistoryCounts } from "../../src/client/history_count.ts";
import type { HistoryPaging } from "../../src/client/history_pages.ts";
import type { Reply, Request } from "../../src/client/chat_client.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import { wasUnanswered } from "../../src/client/chat_client.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

/** The reply a real client makes up for a request its connection ended under. */
async function unansweredReply(): Promise<Reply> {
  await using server = await startTestServer();
  const gone = await TestClient.connect(server, "gone");
  gone.client.abort();
  await gone.client.ended;
  const reply = await gone.client.request({ t: "history" });
  assert.ok(wasUnanswered(reply), JSON.stringify(reply));
  return reply;
}

const line = (id: number, text: string, history = true): SessionEvent => ({
  type: "incoming",
  message: {
    t: "public",
    from: "sophia",
    ts: 1767225600000 + id,
    id,
    seq: id,
    ...(history ? { history: true as const } : {}),
  },
  text,
});

/**
 * A session's paging over one connection whose answer to the request is
 * `answer` (held as the session holds a history answer's lines) and its
 * reply `reply`; `during` runs while the request waits (live lines come).
 */
function paging(
  answer: SessionEvent[],
  reply: { text: string; more?: true },
  during: () => void = () => {},
): { paging: HistoryPaging; asked: Request[] } {
  const counts = new HistoryCounts();
  const connection = {};
  const asked: Request[] = [];
  return {
    asked,
    paging: {
      ask: (request) => {
        asked.push(request);
        during();
        counts.of(connection, 7).held.push(...answer);
        return Promise.resolve({
          reply: { t: "ok", re: 7, ...reply },
          asked: connection,
        });
      },
      settled: () => Promise.resolve(),
      counts,
    },
  };
}

const texts = (events: SessionEvent[]) =>
  events.map((event) =>
    event.type === "incoming" ? event.text : "text" in event ? event.text : ""
  );

Deno.test("MissedPublic with nothing shown yet only marks where the room stands at a catch-up, showing nothing (no flood for a new user)", async () => {
  const missed = new MissedPublic();
  const { paging: p, asked } = paging([line(9, "old")], {
    text: "End of history for the public room (1 message).",
  });
  const out: SessionEvent[] = [];
  await missed.catchUp(p, (event) => out.push(event));
  assert.deepEqual(asked, [{ t: "history", limit: 1 }]);
  assert.deepEqual(out, []);
  // The paging here notes no id: the room counts as empty.
  assert.equal(missed.cursor, 0);
  missed.shown(undefined);
  assert.equal(missed.cursor, 0);
});

Deno.test("MissedPublic asks after the newest id shown and shows the missed lines under the header, then the live ones held meanwhile, each once", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  missed.shown(12); // older: the cursor stays
  const out: SessionEvent[] = [];
  const { paging: p, asked } = paging(
    [line(41, "one"), line(42, "two"), line(43, "three")],
    { text: "End of history for the public room (3 messages)." },
    () => {
      // Live while the request waits: 43 is in the answer too, 44 is not.
      assert.ok(missed.hold(43, () => out.push(line(43, "three", false))));
      assert.ok(missed.hold(44, () => out.push(line(44, "four", false))));
    },
  );
  await missed.catchUp(p, (event) => out.push(event));
  assert.deepEqual(asked, [{ t: "history", limit: MISSED_LIMIT, after: 40 }]);
  assert.deepEqual(texts(out), [MISSED_HEADER, "one", "two", "three", "four"]);
  // Nothing is held once it is done.
  assert.equal(missed.hold(45, () => {}), false);
  assert.equal(missed.cursor, 43);
});

Deno.test("MissedPublic says when more were missed than it shows, and keeps only what is above the cursor from a server that ignores after", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const { paging: p } = paging(
    [line(39, "seen"), line(40, "seen too"), line(41, "new")],
    { text: "End of history for the public room (3 messages).", more: true },
  );
  await missed.catchUp(p, (event) => out.push(event));
  assert.deepEqual(texts(out), [MISSED_HEADER, MISSED_EARLIER, "new"]);
});

Deno.test("MissedPublic shows no header when nothing was missed, and lets held live lines through", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const { paging: p } = paging(
    [],
    { text: "No history for the public room." },
    () => missed.hold(41, () => out.push(line(41, "live", false))),
  );
  await missed.catchUp(p, (event) => out.push(event));
  assert.deepEqual(texts(out), ["live"]);
});

Deno.test("MissedPublic.mark takes the newest public message's id as where a catch-up starts, showing nothing, and only when nothing was shown", async () => {
  const missed = new MissedPublic();
  const { paging: p, asked } = paging(
    [line(17, "said before the sign-in")],
    { text: "End of history for the public room (1 message).", more: true },
  );
  // As the session notes the id of whatever answers a request.
  const counts = p.counts;
  const ask = p.ask;
  p.ask = async (request) => {
    const answer = await ask(request);
    counts.of(answer.asked, 7).oldest = 17;
    return answer;
  };
  await missed.mark(p);
  assert.deepEqual(asked, [{ t: "history", limit: 1 }]);
  assert.equal(missed.cursor, 17);
  await missed.mark(p);
  assert.equal(asked.length, 1);
});

Deno.test("MissedPublic holds at most MAX_HELD live lines while a catch-up waits: past them they are shown at once", async () => {
  const missed = new MissedPublic();
  missed.shown(1);
  const out: SessionEvent[] = [];
  let passed = 0;
  const { paging: p } = paging(
    [],
    { text: "No history for the public room." },
    () => {
      for (let i = 0; i < MAX_HELD + 3; i++) {
        const id = 100 + i;
        const show = () => out.push(line(id, `live ${id}`, false));
        if (!missed.hold(id, show)) {
          passed++;
          show();
        }
      }
    },
  );
  await missed.catchUp(p, (event) => out.push(event));
  assert.equal(passed, 3);
  // Let go at once, said, and in order.
  assert.equal(out.length, MAX_HELD + 4);
  assert.deepEqual(texts(out.slice(0, 2)), [MISSED_LATE, "live 100"]);
  assert.equal(texts(out).at(-1), `live ${100 + MAX_HELD + 2}`);
});

Deno.test("MissedPublic.mark in an empty room starts a later catch-up from 0, and after a refusal from nowhere", async () => {
  const empty = new MissedPublic();
  await empty.mark(
    paging([], { text: "No history for the public room." }).paging,
  );
  assert.equal(empty.cursor, 0);
  const refused = new MissedPublic();
  const { paging: p } = paging([], { text: "" });
  const ask = p.ask;
  p.ask = async (request) => {
    const answer = await ask(request);
    return {
      ...answer,
      reply: {
        t: "error",
        re: 7,
        code: "slow_down",
        text: "ERROR: Slow down",
      },
    };
  };
  await refused.mark(p);
  assert.equal(refused.cursor, null);
});

/**
 * A paging whose requests wait until the test answers them: `answer(i,
 * lines, reply)` answers the i-th request asked.
 */
function waitingPaging() {
  const counts = new HistoryCounts();
  const asked: Request[] = [];
  const waiting: PromiseWithResolvers<
    { reply: Reply; asked: object }
  >[] = [];
  const requested: PromiseWithResolvers<void>[] = [
    Promise.withResolvers(),
  ];
  const paging: HistoryPaging = {
    ask: (request) => {
      asked.push(request);
      const wait = Promise.withResolvers<{ reply: Reply; asked: object }>();
      waiting.push(wait);
      requested.at(-1)!.resolve();
      requested.push(Promise.withResolvers());
      return wait.promise;
    },
    settled: () => Promise.resolve(),
    counts,
  };
  return {
    paging,
    asked,
    /** Settles once `n` requests were asked. */
    asking: async (n: number) => {
      while (asked.length < n) await requested.at(-1)!.promise;
    },
    answer: (i: number, lines: SessionEvent[], reply: Reply) => {
      const connection = {};
      if (reply.re !== null) {
        counts.of(connection, reply.re).held.push(...lines);
      }
      waiting[i]!.resolve({ reply, asked: connection });
    },
  };
}

Deno.test("MissedPublic says so when the server refuses the catch-up (slow_down after the retries), and still shows the live lines held meanwhile", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const p = waitingPaging();
  const done = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(1);
  assert.ok(missed.hold(41, () => out.push(line(41, "live", false))));
  p.answer(0, [], {
    t: "error",
    re: 7,
    code: "slow_down",
    text: "ERROR: slow down",
  });
  await done;
  // Where the missed lines would have been: before the live ones.
  assert.deepEqual(texts(out), [
    missedRefused("ERROR: slow down"),
    "live",
  ]);
  assert.equal(
    missedRefused("ERROR: slow down"),
    "ERROR: Could not fetch what was said while you were away (slow down): /history to read it.",
  );
  assert.equal(out[0]?.type, "error");
});

Deno.test("MissedPublic: a second reconnection while a catch-up still waits asks again, and the live lines held across both come once, after the missed ones", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const p = waitingPaging();
  const first = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(1);
  assert.ok(missed.hold(41, () => out.push(line(41, "live one", false))));
  // The connection is lost and another made before the first answer came.
  const second = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(2);
  assert.deepEqual(p.asked[1], {
    t: "history",
    limit: MISSED_LIMIT,
    after: 40,
  });
  assert.ok(missed.hold(43, () => out.push(line(43, "live two", false))));
  // The first one's connection ended: no word of it (the second asks).
  p.answer(0, [], {
    t: "error",
    re: 7,
    code: "internal",
    text: "ERROR: Not sent: the connection was lost.",
  });
  await first;
  assert.deepEqual(out, []);
  p.answer(1, [line(41, "live one"), line(42, "missed")], {
    t: "ok",
    re: 8,
    text: "End of history for the public room (2 messages).",
  });
  await second;
  assert.deepEqual(texts(out), [
    MISSED_HEADER,
    "live one",
    "missed",
    "live two",
  ]);
  assert.equal(missed.hold(44, () => {}), false);
  assert.equal(missed.cursor, 42);
});

Deno.test("MissedPublic shows a hostile server's answer bounded: public lines only, above the cursor, at most MISSED_LIMIT", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const p = waitingPaging();
  const done = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(1);
  const flood = Array.from(
    { length: 10_000 },
    (_, i) => line(41 + i, `flood ${41 + i}`),
  );
  const secret: SessionEvent = {
    type: "incoming",
    message: {
      t: "private",
      from: "mallory",
      to: "jojo",
      ts: 1767225600000,
      id: 20_000,
      seq: 1,
      history: true,
    },
    text: "not a public line",
  };
  p.answer(0, [line(3, "old"), secret, ...flood], {
    t: "ok",
    re: 7,
    text: "End of history for the public room (10002 messages).",
  });
  await done;
  const shown = texts(out);
  assert.equal(shown.length, MISSED_LIMIT + 2);
  assert.deepEqual(shown.slice(0, 3), [
    MISSED_HEADER,
    MISSED_EARLIER,
    `flood ${41 + 10_000 - MISSED_LIMIT}`,
  ]);
  assert.equal(shown.at(-1), `flood ${40 + 10_000}`);
  assert.ok(!shown.includes("not a public line"));
  assert.ok(!shown.includes("old"));
});

Deno.test("MissedPublic lets the live lines go after holdMs, and shows the missed ones late, after them, none twice", async () => {
  const missed = new MissedPublic({ holdMs: 1 });
  missed.shown(40);
  const out: SessionEvent[] = [];
  const p = waitingPaging();
  const done = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(1);
  const live = (id: number) => () => {
    out.push(line(id, `live ${id}`, false));
    missed.shown(id);
  };
  assert.ok(missed.hold(43, live(43)));
  await missed.whenLetGo();
  assert.deepEqual(texts(out), [MISSED_LATE, "live 43"]);
  // From now on live lines come as they come.
  assert.equal(missed.hold(44, live(44)), false);
  live(44)();
  p.answer(0, [line(41, "missed 41"), line(42, "missed 42"), line(43, "x")], {
    t: "ok",
    re: 7,
    text: "End of history for the public room (3 messages).",
  });
  await done;
  assert.deepEqual(texts(out), [
    MISSED_LATE,
    "live 43",
    "live 44",
    MISSED_LATE_HEADER,
    "missed 41",
    "missed 42",
  ]);
  assert.equal(missed.cursor, 44);
  // The next catch-up starts from there, and holds again.
  const next = missed.catchUp(p.paging, () => {});
  await p.asking(2);
  assert.deepEqual(p.asked[1], {
    t: "history",
    limit: MISSED_LIMIT,
    after: 44,
  });
  p.answer(1, [], { t: "ok", re: 8, text: "No history for the public room." });
  await next;
});

Deno.test("MissedPublic: a connection lost after the live lines were let go asks again from where the lost catch-up started, and shows nothing twice", async () => {
  const missed = new MissedPublic({ holdMs: 1 });
  missed.shown(40);
  const out: SessionEvent[] = [];
  const p = waitingPaging();
  const first = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(1);
  const live = (id: number) => () => {
    out.push(line(id, `live ${id}`, false));
    missed.shown(id);
  };
  assert.ok(missed.hold(45, live(45)));
  await missed.whenLetGo();
  assert.equal(missed.hold(46, live(46)), false);
  live(46)();
  // The connection ends: the request is answered as a client answers it then.
  p.answer(0, [], await unansweredReply());
  await first;
  const second = missed.catchUp(p.paging, (event) => out.push(event));
  await p.asking(2);
  // Not after 46: 41 to 44 were never shown.
  assert.deepEqual(p.asked[1], {
    t: "history",
    limit: MISSED_LIMIT,
    after: 40,
  });
  p.answer(
    1,
    [41, 44, 45, 46, 47].map((id) => line(id, `missed ${id}`)),
    {
      t: "ok",
      re: 8,
      text: "End of history for the public room (5 messages).",
    },
  );
  await second;
  assert.deepEqual(texts(out), [
    MISSED_LATE,
    "live 45",
    "live 46",
    MISSED_HEADER,
    "missed 41",
    "missed 44",
    "missed 47",
  ]);
  assert.equal(missed.cursor, 47);
});

Deno.test("MissedPublic leaves the client's own lines out of a catch-up: one in flight when the connection dropped is confirmed by its own reply, often after the answer", async () => {
  const missed = new MissedPublic();
  missed.shown(40);
  const out: SessionEvent[] = [];
  const own: SessionEvent = {
    type: "incoming",
    message: {
      t: "public",
      from: "Me",
      ts: 1767225600042,
      id: 42,
      seq: 42,
      history: true,
    },
    text: "mine, in flight",
  };
  const { paging: p } = paging(
    [line(41, "one"), own, line(43, "three")],
    { text: "End of history for the public room (3 messages)." },
  );
  await missed.catchUp(p, (event) => out.push(event), "me");
  // "Broadcast message sent: mine, in flight" comes with its reply.
  assert.deepEqual(texts(out), [MISSED_HEADER, "one", "three"]);
});
