/**
 * A hostile server answering a `history` request with more than one reply
 * may hold: a /history keeps what answers it until its last page has come
 * (history_pages.ts), so what the client takes as an answer must stay
 * within what a real reply holds, or a server that never stops sending
 * (or never replies) grows the client's memory without bound.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { HistoryAnswers, ORDER_MS } from "../../src/client/history_answers.ts";
import {
  DEFAULT_HISTORY,
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
} from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import {
  answerSignIn,
  type HostileServer,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

/**
 * Reads what the client sends until its `history` request, which it
 * returns with the `ping`s before it (the client's first request of a
 * connection goes after one: a page of what waited may be on its way).
 */
async function historyRequest(
  channel: SecureChannel,
): Promise<{ re: number; pings: number[] }> {
  const pings: number[] = [];
  for (;;) {
    const batch = await channel.receive();
    assert.ok(batch !== null, "the client went before asking");
    for (const { header } of batch) {
      const request = parseClientMessage(header);
      if (request.t === "ping") pings.push(request.id);
      if (request.t === "history") return { re: request.id, pings };
    }
  }
}

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
  const { re, pings } = await historyRequest(channel);
  for (const ping of pings) channel.send({ t: "pong", re: ping });
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

Deno.test("ChatClient does not take history that comes before the pong of the ping before a history request for its answer", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  const answered: [string, number | undefined][] = [];
  client.onMessage(({ message, body, answers }) => {
    if (message.t === "private") {
      answered.push([new TextDecoder().decode(body), answers]);
    }
  });
  const reply = client.request({ t: "history", target: "sophia", limit: 5 });
  const { re, pings } = await historyRequest(channel);
  assert.equal(pings.length, 1, "a ping first");
  const history = (id: number, text: string) =>
    channel.send(
      { t: "private", from: "sophia", ts: id, id, seq: id, history: true },
      new TextEncoder().encode(text),
    );
  // What the server sent before it read the ping (a page of what waited)
  // is history too; what it sends after the pong answers the request.
  history(7, "waited");
  channel.send({ t: "pong", re: pings[0]! });
  history(3, "older");
  channel.send({ t: "ok", re, text: "End of history." });
  assert.equal((await reply).t, "ok");
  assert.deepEqual(answered, [["waited", undefined], ["older", re]]);
  // Nothing was acknowledged since, and still a ping: an ack the server
  // held over the rate brings its page whenever it applies it.
  const again = client.request({ t: "history", target: "sophia" });
  const next = await historyRequest(channel);
  assert.equal(next.pings.length, 1);
  channel.send({ t: "pong", re: next.pings[0]! });
  channel.send({ t: "ok", re: next.re, text: "No history." });
  await again;
  await client.quit();
});

Deno.test("HistoryAnswers takes nothing for a request before the reply to the ping sent before it", () => {
  const answers = new HistoryAnswers();
  answers.asked(2, 5, { after: 1 });
  assert.equal(answers.answer(1), undefined);
  answers.replied(1);
  assert.equal(answers.answer(1), 2);
  // A later request waits for its own ping, also once the first is done.
  answers.asked(4, 5, { after: 3 });
  answers.replied(2);
  assert.equal(answers.answer(1), undefined);
  answers.replied(3);
  assert.equal(answers.answer(1), 4);
});

Deno.test("HistoryAnswers takes a message for the request its req names, and none without req once a server named one", () => {
  const answers = new HistoryAnswers();
  answers.asked(2, 5, { after: 1 });
  answers.asked(4, 5, { after: 3 });
  // Named: the ping before it need not have been answered, nor the older
  // request (the sign-in marker, say) replied to.
  assert.equal(answers.answer(1, { req: 4 }), 4);
  // A request that does not wait (replied, or never asked) takes nothing.
  assert.equal(answers.answer(1, { req: 9 }), undefined);
  // This server names its answers: one without req is what waited.
  answers.replied(1);
  assert.equal(answers.answer(1), undefined);
  assert.equal(answers.answer(1, { req: 2 }), 2);
  // Its allowance holds for named messages too.
  answers.asked(6, 1, { after: 5 });
  assert.deepEqual(
    [answers.answer(1, { req: 6 }), answers.answer(1, { req: 6 })],
    [
      6,
      undefined,
    ],
  );
  // A new connection: no name seen yet, the order counts again.
  answers.clear();
  answers.asked(8, 5, { after: 7 });
  answers.replied(7);
  assert.equal(answers.answer(1), 8);
});

Deno.test("HistoryAnswers stops taking messages by order for a request passed over by a later reply, or unanswered for ORDER_MS", () => {
  const answers = new HistoryAnswers();
  const t0 = 1_000_000;
  // The sign-in marker (2, after ping 1), never answered.
  answers.asked(2, 1, { after: 1, now: t0 });
  answers.replied(1);
  // The user's /history (4, after ping 3): the pong of 3 says the server
  // went past 2 (it answers in turn), so the lines after it are 4's.
  answers.asked(4, 5, { after: 3, now: t0 + 100 });
  answers.replied(3);
  assert.deepEqual(
    [
      answers.answer(1, { now: t0 + 200 }),
      answers.answer(1, { now: t0 + 200 }),
    ],
    [4, 4],
  );
  answers.replied(4);
  assert.equal(answers.answer(1, { now: t0 + 300 }), undefined);

  // Nothing else asked: a page of what waited that an ack brings later is
  // not taken for an unanswered request once ORDER_MS passed.
  const alone = new HistoryAnswers();
  alone.asked(2, 5, { after: 1, now: t0 });
  alone.replied(1);
  assert.equal(alone.answer(1, { now: t0 + ORDER_MS - 1 }), 2);
  assert.equal(alone.answer(1, { now: t0 + ORDER_MS }), undefined);
  // Named, it is still its answer.
  assert.equal(alone.answer(1, { req: 2, now: t0 + ORDER_MS + 1 }), 2);
});

Deno.test("the server names the request on each message of a history answer over a real connection, and the client takes them for it by that", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  for (const text of ["one", "two"]) {
    await sophia.client.request({ t: "say" }, new TextEncoder().encode(text));
  }
  const answered: [string, number | undefined, number | undefined][] = [];
  jojo.client.onMessage(({ message, body, answers }) => {
    if (message.t === "public" && message.history === true) {
      answered.push([new TextDecoder().decode(body), message.req, answers]);
    }
  });
  const { id, reply } = jojo.client.numberedRequest({
    t: "history",
    limit: 5,
  });
  assert.equal((await reply).t, "ok");
  assert.deepEqual(answered, [["one", id, id], ["two", id, id]]);
  await jojo.quit();
  await sophia.quit();
});

Deno.test("HistoryAnswers gives a request for the public room only public messages, and one for a target none", () => {
  const answers = new HistoryAnswers();
  // The sign-in marker, unanswered, with no later reply yet: a private
  // message that waited (a page an ack brought) is not its answer.
  answers.asked(2, 1, { after: 1, room: true });
  answers.replied(1);
  assert.equal(answers.answer(1, { room: false }), undefined);
  assert.equal(answers.answer(1, { room: true }), 2);
  const target = new HistoryAnswers();
  target.asked(2, 5, { after: 1, room: false });
  target.replied(1);
  assert.equal(target.answer(1, { room: true }), undefined);
  assert.equal(target.answer(1, { room: false }), 2);
  // Named, the kind must match too.
  assert.equal(target.answer(1, { req: 2, room: true }), undefined);
  assert.equal(target.answer(1, { req: 2, room: false }), 2);
});

Deno.test("ChatClient does not take a private message that waited for the answer of an unanswered request for the public room", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  const answered: [string, number | undefined][] = [];
  const both = Promise.withResolvers<void>();
  client.onMessage(({ message, body, answers }) => {
    if (message.t === "private" || message.t === "public") {
      answered.push([new TextDecoder().decode(body), answers]);
      if (answered.length === 2) both.resolve();
    }
  });
  // The marker every client asks at its sign-in; this server answers its
  // ping and never the request.
  void client.request({ t: "history", limit: 1 });
  const { re, pings } = await historyRequest(channel);
  for (const ping of pings) channel.send({ t: "pong", re: ping });
  // A page of what waited, from a server that names no request: shown at
  // once, not held as the marker's answer.
  channel.send(
    { t: "private", from: "carol", ts: 1, id: 40, seq: 1, history: true },
    new TextEncoder().encode("while you were out"),
  );
  channel.send(
    { t: "public", from: "carol", ts: 2, id: 41, seq: 1, history: true },
    new TextEncoder().encode("in the room"),
  );
  await both.promise;
  assert.deepEqual(answered, [
    ["while you were out", undefined],
    ["in the room", re],
  ]);
  await client.quit();
});

Deno.test("HistoryAnswers, told its server names every answer, takes nothing without req, whatever its order", () => {
  const answers = new HistoryAnswers();
  answers.named();
  // The sign-in marker, its ping answered, nothing later asked: in its
  // first ORDER_MS, by order alone, it would take this message.
  answers.asked(2, 1, { after: 1, room: true });
  answers.replied(1);
  assert.equal(answers.answer(1, { room: true }), undefined);
  assert.equal(answers.answer(1, { req: 2, room: true }), 2);
});

/**
 * bob signed in (ChatClient.register) to a hostile server whose welcome
 * says `"reqs":true` or not; `nextHistory` answers the client's pings and
 * gives the id of its next `history` request.
 */
async function signedIn(server: HostileServer, reqs: boolean) {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  const sent: ClientMessage[] = [];
  let arrived = Promise.withResolvers<void>();
  void answerSignIn(
    channel,
    { name: "bob", ...(reqs ? { reqs: true } : {}) },
    (message) => {
      sent.push(message);
      arrived.resolve();
    },
  );
  const welcome = await client.register("bob");
  assert.equal(welcome.t === "welcome" && welcome.reqs, reqs || undefined);
  const nextHistory = async (): Promise<number> => {
    for (;;) {
      const message = sent.shift();
      if (message === undefined) {
        await arrived.promise;
        arrived = Promise.withResolvers<void>();
      } else if (message.t === "ping") {
        channel.send({ t: "pong", re: message.id });
      } else if (message.t === "history") return message.id;
    }
  };
  return { client, channel, nextHistory };
}

/** The texts and `answers` of the first `n` chat messages a client gets. */
function collect(client: ChatClient, n: number) {
  const got: [string, number | undefined][] = [];
  const all = Promise.withResolvers<void>();
  client.onMessage(({ message, body, answers }) => {
    if (message.t !== "public" && message.t !== "private") return;
    got.push([new TextDecoder().decode(body), answers]);
    if (got.length === n) all.resolve();
  });
  return { got, all: all.promise };
}

/** A history message `text` with position `id`, naming request `req` or none. */
function sendHistory(
  channel: SecureChannel,
  t: "public" | "private",
  id: number,
  text: string,
  req?: number,
): void {
  const mark = {
    history: true,
    ...(req === undefined ? {} : { req }),
  } as const;
  const position = { ts: id, id, seq: id, ...mark };
  channel.send(
    t === "public"
      ? { t, from: "carol", ...position }
      : { t, from: "sophia", ...position },
    new TextEncoder().encode(text),
  );
}

Deno.test("ChatClient, welcomed with reqs, does not take a public history line for the sign-in marker its server leaves unanswered; without reqs it still does", async () => {
  for (const reqs of [false, true]) {
    await using server = await startHostileServer();
    const { client, channel, nextHistory } = await signedIn(server, reqs);
    const { got, all } = collect(client, 1);
    // The marker every client asks at its sign-in: its ping answered, the
    // request not, and one old public line without req within ORDER_MS.
    const marker = client.request({ t: "history", limit: 1 });
    const re = await nextHistory();
    sendHistory(channel, "public", 41, "said before");
    await all;
    assert.deepEqual(
      got,
      [["said before", reqs ? undefined : re]],
      `reqs: ${reqs}`,
    );
    channel.send({ t: "ok", re, text: "No history for the public room." });
    assert.equal((await marker).t, "ok");
    await client.quit();
  }
});

Deno.test("ChatClient, welcomed with reqs, does not take a page an ack brings between a history request's pong and its answer; without reqs it still does", async () => {
  for (const reqs of [false, true]) {
    await using server = await startHostileServer();
    const { client, channel, nextHistory } = await signedIn(server, reqs);
    const { got, all } = collect(client, 2);
    const reply = client.request({ t: "history", target: "sophia" });
    const re = await nextHistory();
    // After the pong: a page of what waited (no req), then the answer,
    // which only a server that names its answers marks with req.
    sendHistory(channel, "private", 7, "waited");
    sendHistory(channel, "private", 3, "asked for", reqs ? re : undefined);
    channel.send({ t: "ok", re, text: "End of history." });
    assert.equal((await reply).t, "ok");
    await all;
    assert.deepEqual(
      got,
      [["waited", reqs ? undefined : re], ["asked for", re]],
      `reqs: ${reqs}`,
    );
    await client.quit();
  }
});

Deno.test("ChatClient takes nothing as an answer from a server that says reqs and sends its history without req", async () => {
  await using server = await startHostileServer();
  const { client, channel, nextHistory } = await signedIn(server, true);
  const { got, all } = collect(client, 2);
  const reply = client.request({ t: "history", limit: 5 });
  const re = await nextHistory();
  sendHistory(channel, "public", 1, "one");
  sendHistory(channel, "public", 2, "two");
  channel.send({ t: "ok", re, text: "End of history." });
  assert.equal((await reply).t, "ok");
  await all;
  // Shown as history the server sends unasked: at once, held for nobody.
  assert.deepEqual(got, [["one", undefined], ["two", undefined]]);
  await client.quit();
});

Deno.test("HistoryAnswers times ORDER_MS on the clock it is given", () => {
  let now = 5_000;
  const answers = new HistoryAnswers(() => now);
  answers.asked(2, 5, { after: 1 });
  answers.replied(1);
  now += ORDER_MS - 1;
  assert.equal(answers.answer(1), 2);
  now += 1;
  assert.equal(answers.answer(1), undefined);
});

Deno.test("HistoryAnswers still takes a request's messages by order after the wall clock jumps forward", () => {
  const answers = new HistoryAnswers();
  answers.asked(2, 5, { after: 1 });
  answers.replied(1);
  // The wall clock set a day forward (NTP, a laptop waking) while the
  // request waits its answer: no time passed for it.
  const wall = Date.now;
  const jumped = wall() + 24 * 60 * 60 * 1000;
  Date.now = () => jumped;
  try {
    assert.equal(answers.answer(1), 2);
  } finally {
    Date.now = wall;
  }
});
