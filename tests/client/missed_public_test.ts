import assert from "node:assert/strict";
import {
  MAX_HELD,
  MISSED_EARLIER,
  MISSED_HEADER,
  MISSED_LIMIT,
  MissedPublic,
} from "../../src/client/missed_public.ts";
import { HistoryCounts } from "../../src/client/history_count.ts";
import type { HistoryPaging } from "../../src/client/history_pages.ts";
import type { Request } from "../../src/client/chat_client.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";

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

Deno.test("MissedPublic asks for nothing before a message with an id was shown (no flood for a new user)", async () => {
  const missed = new MissedPublic();
  const { paging: p, asked } = paging([], { text: "No history." });
  await missed.catchUp(p, () => {});
  assert.deepEqual(asked, []);
  missed.shown(undefined);
  await missed.catchUp(p, () => {});
  assert.deepEqual(asked, []);
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
  assert.equal(out.length, MAX_HELD + 3);
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
