/**
 * A group's `history` costs one lookup per message looked at (may the
 * requester see it?), and a requester who may see none of a big group's
 * messages (a newcomer, or one who left while it was flooded) had the server
 * read the whole group for every request: a million messages took about a
 * second, the whole server waiting, three times a second from one address.
 * Now a request looks at no more than MAX_HISTORY_SCAN of them and says
 * where it stopped; the pager asks on from there.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import {
  HistoryCounts,
  noteHistoryId,
} from "../../src/client/history_count.ts";
import { pageHistory } from "../../src/client/history_pages.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import { MAX_HISTORY_SCAN } from "../../src/protocol/limits.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import type { Store } from "../../src/store/store.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Team, alice's group: one message mallory was a member for ("old"), then
 * MAX_HISTORY_SCAN + 10 sent while she was not; she is a member again now.
 */
function floodedGroup(): { store: Store; old: number } {
  const store = openStore(":memory:");
  store.ensureUser("alice", "alice", 1);
  store.ensureUser("mallory", "mallory", 1);
  store.createGroup("team", "team", "alice", 1);
  store.addMember("team", "alice", "alice", 1);
  store.addMember("team", "mallory", "mallory", 1);
  const group = {
    kind: "group",
    groupKey: "team",
    fromKey: "alice",
    fromName: "alice",
  } as const;
  let old = 0;
  store.transaction(() => {
    old = store.appendMessage({
      ...group,
      ts: 2,
      body: text("old"),
      recipients: [{ userKey: "mallory", delivered: true }],
    }).id;
    store.removeMember("team", "mallory", 2);
    for (let i = 0; i < MAX_HISTORY_SCAN + 10; i++) {
      store.appendMessage({
        ...group,
        ts: 3 + i,
        body: text("not for mallory"),
        recipients: [],
      });
    }
  });
  store.addMember("team", "mallory", "mallory", 20_000);
  return { store, old };
}

Deno.test("startServer: a group's history looks at no more than MAX_HISTORY_SCAN messages, says where it stopped (before on its ok), and pages on from there", async () => {
  const { store, old } = floodedGroup();
  await using server = await startTestServer({
    store,
    connectionLimits: { historyPerSecond: 0, historyPerSecondPerAddress: 0 },
  });
  const mallory = await TestClient.connect(server, "mallory");
  const first = await mallory.client.request({
    t: "history",
    target: "team",
    limit: 5,
  });
  assert.equal(first.t, "ok");
  assert.equal(first.text, "No history for group 'team'.");
  assert.equal(first.more, true);
  // The oldest of the MAX_HISTORY_SCAN newest: the 11th message after "old".
  assert.equal(first.before, old + 11);
  const next = await mallory.client.request({
    t: "history",
    target: "team",
    limit: 5,
    before: first.before,
  });
  assert.equal(next.t, "ok");
  assert.deepEqual(
    [next.text, next.more, next.before],
    ["End of history for group 'team' (1 message).", undefined, undefined],
  );
  const found = await mallory.waitFor(({ message }) =>
    message.t === "group" && message.id === old
  );
  assert.equal(found.text, "old");
  await mallory.quit();
});

Deno.test("pageHistory asks on below where a group's reply stopped looking, and ends with what it found", async () => {
  const { store } = floodedGroup();
  await using server = await startTestServer({
    store,
    connectionLimits: { historyPerSecond: 0, historyPerSecondPerAddress: 0 },
  });
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  assert.equal((await client.register("mallory")).t, "welcome");
  // What a session does with each message that answers a request.
  const counts = new HistoryCounts();
  client.onMessage(({ message, body, answers }) => {
    if (answers === undefined || message.t !== "group") return;
    const count = counts.of(client, answers);
    noteHistoryId(count, message.id!);
    count.shown++;
    count.held.push({
      type: "incoming",
      message,
      text: new TextDecoder().decode(body),
    });
  });
  const { showLines, reply } = await pageHistory(
    { kind: "history", target: "team", limit: 5 },
    {
      ask: async (request) => ({
        reply: await client.request(request),
        asked: client,
      }),
      settled: () => Promise.resolve(),
      counts,
    },
  );
  const lines: SessionEvent[] = [];
  showLines((event) => lines.push(event));
  assert.deepEqual(
    lines.map((event) => event.type === "incoming" && event.text),
    ["old"],
  );
  assert.deepEqual(
    reply.t === "ok" && [reply.text, reply.more],
    ["End of history for group 'team' (1 message).", undefined],
  );
  await client.quit();
});

Deno.test("startServer: a newcomer to a big group is not told older ones remain, nor asked on below the window: none of them is theirs", async () => {
  const { store } = floodedGroup();
  store.ensureUser("nina", "nina", 1);
  store.addMember("team", "nina", "nina", 30_000);
  await using server = await startTestServer({
    store,
    connectionLimits: { historyPerSecond: 0, historyPerSecondPerAddress: 0 },
  });
  const nina = await TestClient.connect(server, "nina");
  const reply = await nina.client.request({
    t: "history",
    target: "team",
    limit: 5,
  });
  assert.equal(reply.t, "ok");
  // Before: more and before, and /history said "older ones remain" (or
  // paged on ten times, to "older ones remain after 10 requests").
  assert.deepEqual(
    [reply.text, reply.more, reply.before],
    ["No history for group 'team'.", undefined, undefined],
  );
  await nina.quit();
});
