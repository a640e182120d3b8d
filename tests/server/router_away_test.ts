import assert from "node:assert/strict";
import { JOJO, NANA, NONE, room, SOPHIA } from "../_helpers/router_room.ts";
import { MAX_AWAY_CHARS } from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { type Delivered as Outbound, route } from "../_helpers/delivered.ts";

const HI = new TextEncoder().encode("hi");

function replyTo(out: Outbound[], id: number): ServerMessage | undefined {
  return out.find((o) => o.to.includes(id) && "re" in o.message)?.message;
}

Deno.test("route away marks the user away in /list and back with no reason", () => {
  const state = room();
  state.setFingerprint(JOJO, "SHA256:" + "j".repeat(43));
  assert.deepEqual(
    replyTo(
      route(state, JOJO, { t: "away", id: 5, reason: " lunch " }, NONE, 9),
      JOJO,
    ),
    { t: "ok", re: 5, text: "You are marked as away: lunch" },
  );
  const list = replyTo(
    route(state, SOPHIA, { t: "list", id: 6 }, NONE, 9),
    SOPHIA,
  );
  assert.ok(list?.t === "users");
  assert.deepEqual(list.users.find((u) => u.name === "jojo"), {
    name: "jojo",
    lastMessageAt: null,
    away: "lunch",
    fingerprint: "SHA256:" + "j".repeat(43),
  });
  assert.deepEqual(list.users.find((u) => u.name === "sophia"), {
    name: "sophia",
    lastMessageAt: null,
  });
  assert.deepEqual(
    replyTo(route(state, JOJO, { t: "away", id: 7 }, NONE, 9), JOJO),
    { t: "ok", re: 7, text: "You are no longer marked as away" },
  );
  assert.deepEqual(
    replyTo(
      route(state, JOJO, { t: "away", id: 8, reason: "" }, NONE, 9),
      JOJO,
    ),
    { t: "ok", re: 8, text: "You were not marked as away" },
  );
  const after = replyTo(
    route(state, SOPHIA, { t: "list", id: 9 }, NONE, 9),
    SOPHIA,
  );
  assert.ok(after?.t === "users");
  assert.equal(after.users.find((u) => u.name === "jojo")?.away, undefined);
});

Deno.test("route msg to an away user tells each sender the reason once, and still delivers", () => {
  const state = room();
  route(state, JOJO, { t: "away", id: 1, reason: "lunch" }, NONE, 5);
  const first = route(state, SOPHIA, { t: "msg", id: 2, to: "JOJO" }, HI, 6);
  assert.deepEqual(replyTo(first, SOPHIA), {
    t: "ok",
    re: 2,
    text: "jojo is away: lunch",
    name: "jojo",
  });
  assert.ok(
    first.some((o) => o.to.includes(JOJO) && o.message.t === "private"),
  );
  const second = route(state, SOPHIA, { t: "msg", id: 3, to: "jojo" }, HI, 7);
  assert.deepEqual(replyTo(second, SOPHIA), {
    t: "ok",
    re: 3,
    text: "",
    name: "jojo",
  });
  assert.ok(
    second.some((o) => o.to.includes(JOJO) && o.message.t === "private"),
  );
  const nana = route(state, NANA, { t: "msg", id: 4, to: "jojo" }, HI, 8);
  assert.deepEqual(replyTo(nana, NANA), {
    t: "ok",
    re: 4,
    text: "jojo is away: lunch",
    name: "jojo",
  });
  // Away again: everyone is told again.
  route(state, JOJO, { t: "away", id: 5, reason: "meeting" }, NONE, 9);
  const again = route(state, SOPHIA, { t: "msg", id: 6, to: "jojo" }, HI, 10);
  assert.deepEqual(replyTo(again, SOPHIA), {
    t: "ok",
    re: 6,
    text: "jojo is away: meeting",
    name: "jojo",
  });
});

Deno.test("route away refuses a reason over the limit", () => {
  const state = room();
  const out = route(
    state,
    JOJO,
    {
      t: "away",
      id: 1,
      reason: "x".repeat(MAX_AWAY_CHARS + 1),
    },
    NONE,
    5,
  );
  assert.equal(replyTo(out, JOJO)?.t, "error");
  assert.equal(state.session(JOJO)?.away, null);
});
