import assert from "node:assert/strict";
import type { Reply } from "../../src/client/chat_client.ts";
import {
  addressed,
  perform,
  queryNote,
  type Requester,
  writtenTo,
} from "../../src/client/command_requests.ts";
import { parseInput } from "../../src/client/commands.ts";

/** Records what a command sends, answering every request with ok. */
function recorder(): { client: Requester; sent: unknown[] } {
  const sent: unknown[] = [];
  const ok = (): Promise<Reply> =>
    Promise.resolve({ t: "ok", re: 1, text: "" });
  const client: Requester = {
    say: (text, cid) => (sent.push({ say: text, cid }), ok()),
    msg: (to, text, cid) => (sent.push({ msg: to, text, cid }), ok()),
    gsay: (group, text, cid) => (sent.push({ gsay: group, text, cid }), ok()),
    request: (request) => (sent.push(request), ok()),
  };
  return { client, sent };
}

Deno.test("perform sends the request each typed command asks for", () => {
  const cases: [string, unknown][] = [
    ["/msg bob hi there", { msg: "bob", text: "hi there", cid: "c1" }],
    ["/group team hello", { gsay: "team", text: "hello", cid: "c1" }],
    ["/list", { t: "list" }],
    ["/showgroups", { t: "groups" }],
    ["/join team", { t: "join", group: "team" }],
    ["/showgroupmembers team", { t: "members", group: "team" }],
    ["/history bob 5", { t: "history", target: "bob", limit: 5 }],
    ["/away lunch", { t: "away", reason: "lunch" }],
  ];
  for (const [line, expected] of cases) {
    const { client, sent } = recorder();
    const command = parseInput(line);
    assert.ok(command !== null, line);
    assert.ok(perform(client, command, "c1") !== null, line);
    assert.deepEqual(sent, [expected], line);
  }
});

Deno.test("perform leaves local commands to the caller and sends nothing", () => {
  for (const line of ["/help", "/query bob", "/ignore", "/quit", "/nope"]) {
    const { client, sent } = recorder();
    const command = parseInput(line);
    assert.ok(command !== null, line);
    assert.equal(perform(client, command), null, line);
    assert.deepEqual(sent, [], line);
  }
});

Deno.test("addressed sends a plain line to the current conversation", () => {
  assert.deepEqual(addressed("hi", { kind: "public" }), {
    kind: "say",
    text: "hi",
  });
  assert.deepEqual(addressed("hi", { kind: "user", name: "bob" }), {
    kind: "msg",
    to: "bob",
    text: "hi",
  });
  assert.deepEqual(addressed("hi", { kind: "group", name: "team" }), {
    kind: "gsay",
    group: "team",
    text: "hi",
  });
  assert.match(queryNote({ kind: "group", name: "team" }), /group team/);
});

Deno.test("writtenTo names the conversation a message or file goes to, and none for other commands", () => {
  const to = (line: string) => writtenTo(parseInput(line)!);
  assert.deepEqual(to("/msg jojo hi"), { kind: "user", name: "jojo" });
  assert.deepEqual(to("/file jojo a.txt"), { kind: "user", name: "jojo" });
  assert.deepEqual(to("/group haha hi"), { kind: "group", name: "haha" });
  assert.deepEqual(to("/groupfile haha a.txt"), {
    kind: "group",
    name: "haha",
  });
  assert.deepEqual(to("hello"), { kind: "public" });
  assert.equal(to("/list"), null);
  assert.equal(to("/join haha"), null);
  assert.equal(to("/query jojo"), null);
});

Deno.test("perform sends a private message through sendPrivate when given, always with a client id", async () => {
  const { client, sent } = recorder();
  const via: [string, string, string][] = [];
  const command = parseInput("/msg bob secret");
  assert.ok(command !== null);
  const reply = await perform(client, command, undefined, (to, text, cid) => {
    via.push([to, text, cid]);
    return Promise.resolve({ t: "ok", re: 2, text: "" });
  });
  assert.deepEqual(reply, { t: "ok", re: 2, text: "" });
  assert.deepEqual(sent, []);
  assert.equal(via.length, 1);
  assert.deepEqual(via[0]!.slice(0, 2), ["bob", "secret"]);
  assert.match(via[0]![2], /^[0-9a-f]{32}$/);
});
