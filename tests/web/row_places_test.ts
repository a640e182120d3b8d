import assert from "node:assert/strict";
import {
  ALL_VIEW,
  eventPlaces,
  fileTargetPlace,
  offerPlace,
  shownIn,
} from "../../src/web/row_places.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

const reply = { t: "ok", re: 1, text: "sent", id: 7 } as const;

Deno.test("eventPlaces puts a chat message in its conversation: the room, the other person (either way), the group", () => {
  const incoming = (message: SessionEvent & { type: "incoming" }) =>
    eventPlaces(message, "sophia", null);
  assert.deepEqual(
    incoming({
      type: "incoming",
      message: { t: "public", from: "jojo", ts: 1 },
      text: "hi",
    }),
    ["public"],
  );
  assert.deepEqual(
    incoming({
      type: "incoming",
      message: { t: "private", from: "Jojo", ts: 1 },
      text: "hi",
    }),
    ["@jojo"],
  );
  // What sophia sent, in history: the conversation with its recipient.
  assert.deepEqual(
    incoming({
      type: "incoming",
      message: {
        t: "private",
        from: "sophia",
        to: "ana",
        ts: 1,
        history: true,
      },
      text: "hi",
    }),
    ["@ana"],
  );
  assert.deepEqual(
    incoming({
      type: "incoming",
      message: { t: "group", group: "Haha", from: "jojo", ts: 1 },
      text: "hi",
    }),
    ["#haha"],
  );
});

Deno.test("eventPlaces puts a join in the room and the conversation with them, a group's membership in the group", () => {
  assert.deepEqual(
    eventPlaces(
      {
        type: "incoming",
        message: { t: "presence", name: "ana", online: true },
        text: "",
      },
      "sophia",
      null,
    ),
    ["public", "@ana"],
  );
  assert.deepEqual(
    eventPlaces(
      {
        type: "incoming",
        message: { t: "membership", group: "haha", name: "ana", joined: true },
        text: "",
      },
      "sophia",
      null,
    ),
    ["#haha"],
  );
});

Deno.test("eventPlaces shows what was sent in its conversation and where it was typed", () => {
  assert.deepEqual(
    eventPlaces(
      {
        type: "reply",
        re: 0,
        command: { kind: "msg", to: "bob", text: "hi" },
        reply,
      },
      "sophia",
      "@ana",
    ),
    ["@bob", "@ana"],
  );
  assert.deepEqual(
    eventPlaces(
      {
        type: "reply",
        re: 0,
        command: { kind: "gsay", group: "haha", text: "hi" },
        reply,
      },
      "sophia",
      "#haha",
    ),
    ["#haha"],
  );
  assert.deepEqual(
    eventPlaces(
      {
        type: "reply",
        re: 0,
        command: { kind: "say", text: "hi" },
        reply,
      },
      "sophia",
      ALL_VIEW,
    ),
    ["public", ALL_VIEW],
  );
});

Deno.test("eventPlaces shows a command's answer where it was typed, and what came unasked about the connection everywhere", () => {
  const error: SessionEvent = {
    type: "error",
    re: null,
    code: "usage",
    text: "ERROR: no",
  };
  assert.deepEqual(eventPlaces(error, "sophia", "@ana"), ["@ana"]);
  assert.deepEqual(
    eventPlaces(
      {
        type: "reply",
        re: 0,
        command: { kind: "create", group: "haha" },
        reply,
      },
      "sophia",
      "public",
    ),
    ["public"],
  );
  assert.deepEqual(eventPlaces(error, "sophia", null), []);
  assert.deepEqual(
    eventPlaces({ type: "notice", text: "Reconnected as sophia." }, "s", null),
    [],
  );
});

Deno.test("shownIn: All shows every row, a conversation its own and those of every view", () => {
  assert.equal(shownIn(["@ana"], ALL_VIEW), true);
  assert.equal(shownIn([ALL_VIEW], ALL_VIEW), true);
  assert.equal(shownIn(["@ana"], "@ana"), true);
  assert.equal(shownIn(["@ana", "public"], "public"), true);
  assert.equal(shownIn(["@ana"], "@bob"), false);
  assert.equal(shownIn([ALL_VIEW], "public"), false);
  assert.equal(shownIn([], "#haha"), true);
});

Deno.test("fileTargetPlace and offerPlace name a file's conversation", () => {
  assert.equal(fileTargetPlace({ to: "Ana" }), "@ana");
  assert.equal(fileTargetPlace({ group: "haha" }), "#haha");
  const offer: FileOfferNotice = {
    t: "file_offer",
    xfer: 1,
    from: "jojo",
    name: "a",
    size: 1,
  };
  assert.equal(offerPlace(offer), "@jojo");
  assert.equal(offerPlace({ ...offer, group: "haha" }), "#haha");
});
