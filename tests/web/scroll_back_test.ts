import assert from "node:assert/strict";
import {
  SCROLL_BACK_PAGE,
  scrollBackOutcome,
  ScrollBacks,
  scrollBackText,
} from "../../src/web/scroll_back.ts";
import { type Conversation, PUBLIC } from "../../src/client/conversations.ts";
import { MAX_PAGE_TEXT_CHARS } from "../../src/web/page_text.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

const jojo: Conversation = { kind: "user", name: "jojo" };
const team: Conversation = { kind: "group", name: "team" };

Deno.test("ScrollBacks asks for the latest page first, then for what is older than the oldest id that came, until the server says no more", () => {
  const backs = new ScrollBacks();
  assert.deepEqual(backs.start(PUBLIC, 1000), {
    command: { kind: "history", limit: SCROLL_BACK_PAGE },
    before: undefined,
  });
  backs.finish(PUBLIC, { kind: "page", more: true, oldest: 120, cut: false });
  assert.deepEqual(backs.of(PUBLIC), { kind: "older", before: 120 });
  assert.deepEqual(backs.start(PUBLIC, 1000)?.before, 120);
  backs.finish(PUBLIC, { kind: "page", more: false, oldest: 70, cut: false });
  assert.deepEqual(backs.of(PUBLIC), { kind: "start" });
  assert.equal(backs.start(PUBLIC, 1000), null);
  assert.equal(
    scrollBackText(PUBLIC, backs.of(PUBLIC), 5000),
    "Start of the public room",
  );
});

Deno.test("ScrollBacks keeps one request out at a time, for any conversation, and names the conversation's target", () => {
  const backs = new ScrollBacks();
  const ask = backs.start(jojo, 1000);
  assert.deepEqual(ask?.command, {
    kind: "history",
    target: "jojo",
    limit: SCROLL_BACK_PAGE,
  });
  assert.equal(backs.start(jojo, 1000), null);
  assert.equal(backs.start(team, 1000), null);
  assert.equal(
    scrollBackText(jojo, backs.of(jojo), 5000),
    "Loading older messages…",
  );
  backs.finish(jojo, { kind: "page", more: false, oldest: null, cut: false });
  assert.deepEqual(backs.start(team, 1000)?.command.target, "team");
  assert.equal(
    scrollBackText(jojo, backs.of(jojo), 5000),
    "Start of your conversation with jojo",
  );
});

Deno.test("ScrollBacks goes back to where it was when no reply came, and asks again", () => {
  const backs = new ScrollBacks();
  backs.start(PUBLIC, 1000);
  backs.finish(PUBLIC, { kind: "page", more: true, oldest: 9, cut: false });
  backs.start(PUBLIC, 1000);
  backs.finish(PUBLIC, { kind: "failed" });
  assert.deepEqual(backs.of(PUBLIC), { kind: "older", before: 9 });
  assert.equal(backs.start(PUBLIC, 1000)?.before, 9);
});

Deno.test("ScrollBacks stops at a refusal, until the conversation is chosen again", () => {
  const backs = new ScrollBacks();
  backs.start(team, 1000);
  const text = "ERROR: You are not a member of group 'team'";
  backs.finish(team, { kind: "refused", text });
  assert.equal(backs.start(team, 1000), null);
  assert.equal(scrollBackText(team, backs.of(team), 5000), text);
  backs.again(team);
  assert.deepEqual(backs.of(team), { kind: "latest" });
});

Deno.test("scrollBackText shows a refusal with the server's controls made visible and its length bounded", () => {
  const backs = new ScrollBacks();
  backs.start(team, 1000);
  const text = `ERROR: \u202egnp.exe\n${"x".repeat(4000)}`;
  backs.finish(team, { kind: "refused", text });
  const shown = scrollBackText(team, backs.of(team), 5000);
  assert.ok(shown.startsWith("ERROR: <U+202E>gnp.exe^Jxxx"), shown);
  assert.equal(shown.length, MAX_PAGE_TEXT_CHARS + 1);
});

Deno.test("ScrollBacks asks for no more than the log has room for, and stops every conversation once the log is full", () => {
  const backs = new ScrollBacks();
  assert.equal(backs.start(PUBLIC, 7)?.command.limit, 7);
  backs.finish(PUBLIC, { kind: "page", more: true, oldest: 40, cut: false });
  assert.equal(backs.start(PUBLIC, 0), null);
  for (const conversation of [PUBLIC, jojo, team]) {
    assert.deepEqual(backs.of(conversation), { kind: "full" });
  }
  assert.equal(
    scrollBackText(jojo, backs.of(jojo), 5000),
    "This page keeps its last 5000 lines: /history shows older messages (below)",
  );

  // Lines left out of a page, or rows pushed out by new ones, end it too.
  const cut = new ScrollBacks();
  cut.start(jojo, 10);
  cut.finish(jojo, { kind: "page", more: true, oldest: 3, cut: true });
  assert.deepEqual(cut.of(team), { kind: "full" });
  const trimmed = new ScrollBacks();
  trimmed.start(jojo, 10);
  trimmed.full();
  trimmed.finish(jojo, { kind: "page", more: true, oldest: 3, cut: false });
  assert.equal(trimmed.start(jojo, 10), null);
  assert.deepEqual(trimmed.of(jojo), { kind: "full" });
});

Deno.test("ScrollBacks stops at the start when a page's oldest id is not older than the cursor it was asked with, rather than asking the same again", () => {
  // A server that ignores 'before', or says 'more' with nothing older: the
  // next page would be the same request, asked again forever while the
  // reader stays near the top.
  for (const oldest of [120, 300]) {
    const backs = new ScrollBacks();
    backs.start(PUBLIC, 1000);
    backs.finish(PUBLIC, { kind: "page", more: true, oldest: 120, cut: false });
    assert.equal(backs.start(PUBLIC, 1000)?.before, 120);
    backs.finish(PUBLIC, { kind: "page", more: true, oldest, cut: false });
    assert.deepEqual(backs.of(PUBLIC), { kind: "start" });
    assert.equal(backs.start(PUBLIC, 1000), null);
  }
});

Deno.test("scrollBackOutcome takes a request the connection's end left unanswered as failed, to ask again, not as the server's refusal", async () => {
  await using server = await startTestServer();
  const jojo = await TestClient.connect(server, "jojo");
  await jojo.quit();
  const unanswered = await jojo.client.request({ t: "history" });
  assert.deepEqual(scrollBackOutcome(unanswered, null, false), {
    kind: "failed",
  });
  const refusal = {
    t: "error",
    re: 3,
    code: "not_member",
    text: "ERROR: You are not a member of group 'team'",
  } as const;
  assert.deepEqual(scrollBackOutcome(refusal, null, false), {
    kind: "refused",
    text: refusal.text,
  });
  assert.deepEqual(
    scrollBackOutcome(
      { t: "ok", re: 4, text: "End of history", more: true },
      17,
      true,
    ),
    { kind: "page", more: true, oldest: 17, cut: true },
  );
});
