/**
 * A hostile server answering a `history` request with more than one reply
 * may hold: a /history keeps what answers it until its last page has come
 * (history_pages.ts), so what the client takes as an answer must stay
 * within what a real reply holds, or a server that never stops sending
 * (or never replies) grows the client's memory without bound.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { HistoryAnswers } from "../../src/client/history_answers.ts";
import {
  DEFAULT_HISTORY,
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
} from "../../src/protocol/limits.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";

Deno.test("ChatClient takes at most a reply's worth of a hostile server's history messages as the answer to a history request", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  const answered: (number | undefined)[] = [];
  client.onMessage(({ message, answers }) => {
    if (message.t === "public") answered.push(answers);
  });
  const reply = client.request({ t: "history", limit: 5 });
  const batch = await channel.receive();
  const request = parseClientMessage(batch![0]!.header);
  assert.equal(request.t, "history");
  const re = (request as { id: number }).id;
  // A thousand history messages for a request of five, then the reply.
  const text = new TextEncoder().encode("flood");
  for (let id = 1; id <= 1000; id++) {
    channel.send(
      { t: "public", from: "mallory", ts: id, id, seq: id, history: true },
      text,
    );
  }
  channel.send({ t: "ok", re, text: "End of history." });
  assert.equal((await reply).t, "ok");
  assert.equal(answered.length, 1000);
  assert.deepEqual(answered.slice(0, 5), [re, re, re, re, re]);
  assert.ok(answered.slice(5).every((a) => a === undefined));
  await client.quit();
});

Deno.test("HistoryAnswers gives the oldest waiting request at most its limit (1 to MAX_HISTORY) of messages", () => {
  const answers = new HistoryAnswers();
  answers.asked(1, 2);
  answers.asked(2, undefined);
  assert.deepEqual([answers.answer(1), answers.answer(1)], [1, 1]);
  // The first is full and still waits for its reply: not the second's.
  assert.equal(answers.answer(1), undefined);
  answers.replied(1);
  const second = Array.from(
    { length: DEFAULT_HISTORY + 1 },
    () => answers.answer(1),
  );
  assert.equal(second.filter((a) => a === 2).length, DEFAULT_HISTORY);
  answers.replied(2);
  assert.equal(answers.answer(1), undefined);
  answers.asked(3, 0);
  assert.deepEqual([answers.answer(1), answers.answer(1)], [3, undefined]);
  answers.asked(4, 1_000_000);
  answers.replied(3);
  const fourth = Array.from(
    { length: MAX_HISTORY + 1 },
    () => answers.answer(0),
  );
  assert.equal(fourth.filter((a) => a === 4).length, MAX_HISTORY);
});

Deno.test("HistoryAnswers gives a request at most MAX_HISTORY_BYTES of bodies", () => {
  const answers = new HistoryAnswers();
  answers.asked(1, MAX_HISTORY);
  assert.equal(answers.answer(MAX_HISTORY_BYTES - 10), 1);
  assert.equal(answers.answer(11), undefined);
  assert.equal(answers.answer(10), 1);
  assert.equal(answers.answer(0), 1);
  assert.equal(answers.answer(1), undefined);
  answers.clear();
  assert.equal(answers.answer(0), undefined);
});
