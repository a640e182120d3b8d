/**
 * unconfirmedChat (unconfirmed_chat.ts): chat lines go out one after the
 * other, in the order typed, and one whose connection ended before the
 * server answered goes again, with its cid, on the next connection, still
 * before the lines typed after it. The connections are stand-ins that
 * answer `say` as the test says; the unanswered reply is a real client's.
 */

import assert from "node:assert/strict";
import type { ChatClient, Reply } from "../../src/client/chat_client.ts";
import { wasUnanswered } from "../../src/client/chat_client.ts";
import { unconfirmedChat } from "../../src/client/unconfirmed_chat.ts";
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

/** A connection whose `say` answers are handed out by the test. */
function connection(name: string, said: string[]) {
  const answers = new Map<string, PromiseWithResolvers<Reply>>();
  const client = {
    isOver: false,
    recognisesRetries: true,
    say: (text: string) => {
      said.push(`${text} on ${name}`);
      const answer = Promise.withResolvers<Reply>();
      answers.set(text, answer);
      return answer.promise;
    },
  };
  return {
    client: client as unknown as ChatClient,
    over: () => (client.isOver = true),
    answer: (text: string, reply: Reply) => answers.get(text)!.resolve(reply),
    asked: (text: string) => answers.has(text),
  };
}

const ok = (): Reply => ({ t: "ok", re: 1, text: "" });

Deno.test("a line whose connection ended goes again on the next one before the lines typed after it, when its answer comes once the next connection is up", async () => {
  const unanswered = await unansweredReply();
  const said: string[] = [];
  const a = connection("a", said);
  const b = connection("b", said);
  let current = a;
  const chats = unconfirmedChat({
    e2e: null,
    groupSessions: null,
    reconnect: true,
    client: () => current.client,
  });
  const first = chats.send({ kind: "say", text: "first" });
  const second = chats.send({ kind: "say", text: "second" });
  // "first" is on its way on a (a group line asking for its members, say);
  // "second" waits for its turn. a ends, b is up, then first's answer
  // comes: a's, unanswered.
  while (!a.asked("first")) await new Promise((r) => setTimeout(r, 1));
  a.over();
  current = b;
  chats.retry(b.client);
  a.answer("first", unanswered);
  // Each waits for the answer to the one before it.
  while (said.length < 2) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(said, ["first on a", "first on b"]);
  b.answer("first", ok());
  while (said.length < 3) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(said, ["first on a", "first on b", "second on b"]);
  b.answer("second", ok());
  assert.equal((await first).t, "ok");
  assert.equal((await second).t, "ok");
});
