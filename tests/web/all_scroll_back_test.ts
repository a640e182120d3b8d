import assert from "node:assert/strict";
import {
  ALL_ASKS_OUT,
  AllScrollBack,
  allScrollBackText,
  heldLines,
  knownConversations,
  type PageLine,
} from "../../src/web/all_scroll_back.ts";
import {
  SCROLL_BACK_PAGE,
  type ScrollBack,
} from "../../src/web/scroll_back.ts";
import { type Conversation, PUBLIC } from "../../src/client/conversations.ts";

const jojo: Conversation = { kind: "user", name: "jojo" };
const team: Conversation = { kind: "group", name: "team" };
const known = [PUBLIC, jojo, team];
/** Each conversation's own view has loaded nothing. */
const untouched = (): ScrollBack => ({ kind: "latest" });

/** A page's lines: one a message, named by its id. */
function page(...ids: number[]): PageLine<string>[] {
  return ids.map((id) => ({ event: `m${id}`, id }));
}

/** `from` to `to`, one apart. */
function ids(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** What `release` shows, as conversation label -> events. */
function released(all: AllScrollBack<string>, room = 5000) {
  const { shown, cut } = all.release(room);
  return {
    shown: Object.fromEntries(
      shown.map(({ conversation, events }) => [
        "name" in conversation ? conversation.name : "public",
        events,
      ]),
    ),
    cut,
  };
}

Deno.test("AllScrollBack asks every conversation for its latest page at once, one request each out at a time", () => {
  const all = new AllScrollBack<string>();
  const asks = all.start(known, untouched, 1000);
  assert.deepEqual(asks, [
    {
      conversation: PUBLIC,
      command: { kind: "history", limit: SCROLL_BACK_PAGE },
      before: undefined,
    },
    {
      conversation: jojo,
      command: { kind: "history", target: "jojo", limit: SCROLL_BACK_PAGE },
      before: undefined,
    },
    {
      conversation: team,
      command: { kind: "history", target: "team", limit: SCROLL_BACK_PAGE },
      before: undefined,
    },
  ]);
  // All out: nothing more to ask, and the top says it is loading.
  assert.deepEqual(all.start(known, untouched, 1000), []);
  assert.equal(
    allScrollBackText(all.state(known), 5000),
    "Loading older messages…",
  );
});

Deno.test("AllScrollBack shows only what is no older than every cursor of the conversations with more, and keeps the rest for the next page", () => {
  const all = new AllScrollBack<string>();
  all.start(known, untouched, 1000);
  all.finish(PUBLIC, { kind: "page", more: true, oldest: 100, cut: false }, [
    ...page(100, 110, 130),
  ]);
  // jojo and team were not answered yet: their latest could be anything.
  assert.deepEqual(released(all), { shown: {}, cut: false });
  all.finish(jojo, { kind: "page", more: true, oldest: 120, cut: false }, [
    ...page(120, 125, 140),
  ]);
  assert.deepEqual(released(all), { shown: {}, cut: false });
  all.finish(team, { kind: "page", more: false, oldest: 50, cut: false }, [
    ...page(50, 122),
  ]);
  // The frontier is jojo's cursor, 120: team is at its start.
  assert.deepEqual(released(all), {
    shown: { public: ["m130"], jojo: ["m120", "m125", "m140"], team: ["m122"] },
    cut: false,
  });
  assert.equal(allScrollBackText(all.state(known), 5000), "");

  // Next: jojo and the room older than their cursors (jojo's holds the
  // frontier back: first); team is done.
  const asks = all.start(known, untouched, 1000);
  assert.deepEqual(
    asks.map((ask) => [ask.conversation, ask.before]),
    [[jojo, 120], [PUBLIC, 100]],
  );
  all.finish(jojo, { kind: "page", more: true, oldest: 20, cut: false }, [
    ...page(20, 105),
  ]);
  // The room's cursor (100) holds: its 100 and 110 and jojo's 105 show.
  assert.deepEqual(released(all), {
    shown: { public: ["m100", "m110"], jojo: ["m105"] },
    cut: false,
  });
  all.finish(PUBLIC, { kind: "page", more: false, oldest: 1, cut: false }, [
    ...page(1, 60),
  ]);
  // jojo's 20 now: its own, team's 50 (held since its start) and the
  // room's 60.
  assert.deepEqual(released(all), {
    shown: { public: ["m60"], jojo: ["m20"], team: ["m50"] },
    cut: false,
  });
  all.start(known, untouched, 1000);
  all.finish(jojo, { kind: "page", more: false, oldest: 5, cut: false }, [
    ...page(5),
  ]);
  // Every conversation at its start: all that is held shows.
  assert.deepEqual(released(all), {
    shown: { public: ["m1"], jojo: ["m5"] },
    cut: false,
  });
  assert.equal(
    allScrollBackText(all.state(known), 5000),
    "Start of every conversation",
  );
  assert.deepEqual(all.start(known, untouched, 1000), []);
});

Deno.test("AllScrollBack has at most ALL_ASKS_OUT requests out, asking first those that hold the frontier back most", () => {
  const all = new AllScrollBack<string>();
  const people: Conversation[] = Array.from(
    { length: ALL_ASKS_OUT + 2 },
    (_, i) => ({ kind: "user", name: `p${i}` }),
  );
  const asked = all.start(people, untouched, 1000);
  assert.deepEqual(
    asked.map((ask) => ask.conversation),
    people.slice(0, ALL_ASKS_OUT),
  );
  assert.deepEqual(all.start(people, untouched, 1000), []);
  // One answered: one more goes out, one never asked (no cursor yet) before
  // the one answered.
  all.finish(people[0]!, { kind: "page", more: true, oldest: 10, cut: false }, [
    ...page(10),
  ]);
  assert.deepEqual(
    all.start(people, untouched, 1000).map((ask) => ask.conversation),
    [people[ALL_ASKS_OUT]],
  );
});

Deno.test("AllScrollBack says the start only once every conversation is there, a new one too", () => {
  const all = new AllScrollBack<string>();
  all.start([PUBLIC], untouched, 1000);
  all.finish(PUBLIC, { kind: "page", more: false, oldest: 3, cut: false }, []);
  assert.equal(
    allScrollBackText(all.state([PUBLIC]), 5000),
    "Start of every conversation",
  );
  // A message from jojo came: his conversation is not loaded yet.
  assert.equal(allScrollBackText(all.state([PUBLIC, jojo]), 5000), "");
  assert.deepEqual(
    all.start([PUBLIC, jojo], untouched, 1000).map((ask) => ask.conversation),
    [jojo],
  );
});

Deno.test("AllScrollBack does not ask again a conversation that holds a page already, until the frontier passes it", () => {
  const all = new AllScrollBack<string>();
  all.start([PUBLIC, jojo], untouched, 1000);
  all.finish(
    PUBLIC,
    { kind: "page", more: true, oldest: 1000, cut: false },
    page(...ids(1000, 1000 + SCROLL_BACK_PAGE - 1)),
  );
  all.finish(jojo, { kind: "page", more: true, oldest: 5000, cut: false }, [
    ...page(5000),
  ]);
  // The room's page is older than jojo's cursor: held, not asked again.
  assert.deepEqual(released(all).shown, { jojo: ["m5000"] });
  assert.deepEqual(
    all.start([PUBLIC, jojo], untouched, 1000).map((ask) => ask.conversation),
    [jojo],
  );
  all.finish(jojo, { kind: "page", more: false, oldest: 4000, cut: false }, [
    ...page(4000),
  ]);
  assert.equal(released(all).shown.public?.length, SCROLL_BACK_PAGE);
  assert.deepEqual(
    all.start([PUBLIC, jojo], untouched, 1000).map((ask) => ask.before),
    [1000],
  );
});

Deno.test("AllScrollBack goes back to where it was when no reply came, and a refusal holds no one back", () => {
  const all = new AllScrollBack<string>();
  all.start([PUBLIC, team], untouched, 1000);
  all.finish(PUBLIC, { kind: "page", more: false, oldest: 7, cut: false }, [
    ...page(7),
  ]);
  all.finish(team, { kind: "failed" }, []);
  // team may still have anything: nothing shows, and it is asked again.
  assert.deepEqual(released(all).shown, {});
  assert.deepEqual(
    all.start([PUBLIC, team], untouched, 1000).map((ask) => ask.before),
    [undefined],
  );
  all.finish(team, {
    kind: "refused",
    text: "ERROR: You are not a member of group 'team'.",
  }, []);
  assert.deepEqual(released(all).shown, { public: ["m7"] });
  assert.equal(
    allScrollBackText(all.state([PUBLIC, team]), 5000),
    "ERROR: You are not a member of group 'team'.",
  );
  assert.deepEqual(all.start([PUBLIC, team], untouched, 1000), []);
  // All chosen again: asked again.
  all.again();
  assert.equal(all.start([PUBLIC, team], untouched, 1000).length, 1);
});

Deno.test("AllScrollBack goes on from what a conversation's own view loaded", () => {
  const all = new AllScrollBack<string>();
  const alone = (conversation: Conversation): ScrollBack =>
    conversation.kind === "public"
      ? { kind: "older", before: 300 }
      : { kind: "start" };
  assert.deepEqual(
    all.start([PUBLIC, jojo], alone, 1000).map((ask) => [
      ask.conversation,
      ask.before,
    ]),
    [[PUBLIC, 300]],
  );
});

Deno.test("AllScrollBack shows the newest lines the log has room for, then is full and asks nothing more", () => {
  const all = new AllScrollBack<string>();
  all.start([PUBLIC, jojo], untouched, 1000);
  all.finish(PUBLIC, { kind: "page", more: false, oldest: 1, cut: false }, [
    ...page(1, 3, 5),
  ]);
  all.finish(jojo, { kind: "page", more: false, oldest: 2, cut: false }, [
    ...page(2, 4),
  ]);
  assert.deepEqual(released(all, 3), {
    shown: { public: ["m3", "m5"], jojo: ["m4"] },
    cut: true,
  });
  assert.deepEqual(all.start([PUBLIC, jojo], untouched, 1000), []);
  assert.equal(
    allScrollBackText(all.state([PUBLIC, jojo]), 5000),
    "This page keeps its last 5000 lines: /history shows older messages (below)",
  );
  // No room at all: full without asking.
  const none = new AllScrollBack<string>();
  assert.deepEqual(none.start([PUBLIC], untouched, 0), []);
  assert.equal(none.state([PUBLIC]).kind, "full");
  // The log became full in a conversation's view: All is too.
  const other = new AllScrollBack<string>();
  assert.deepEqual(other.start([PUBLIC], () => ({ kind: "full" }), 1000), []);
  assert.equal(other.state([PUBLIC]).kind, "full");
});

Deno.test("heldLines gives a line of no message the id of the message after it, else the last one's, else the page's oldest", () => {
  const lines = [
    { event: "a", id: undefined },
    { event: "b", id: 10 },
    { event: "c", id: undefined },
    { event: "d", id: 12 },
    { event: "e", id: undefined },
  ];
  assert.deepEqual(
    heldLines(lines, 9).map((line) => [line.event, line.id]),
    [["a", 10], ["b", 10], ["c", 12], ["d", 12], ["e", 12]],
  );
  assert.deepEqual(heldLines([{ event: "x", id: undefined }], 4), [
    { event: "x", id: 4 },
  ]);
});

Deno.test("knownConversations is the room, the groups joined and the conversations the log has messages of, once each", () => {
  assert.deepEqual(
    knownConversations(["public", "@jojo", "#team", "all", "@", "#bad name"], [
      "Team",
      "crew",
    ]),
    [
      PUBLIC,
      { kind: "group", name: "Team" },
      { kind: "group", name: "crew" },
      jojo,
    ],
  );
  assert.deepEqual(knownConversations([], []), [PUBLIC]);
});
