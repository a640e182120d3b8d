/**
 * Chat lines go out one after the other in the order typed
 * (src/client/unconfirmed_chat.ts), across a lost connection too: a real
 * server whose rate limit refuses a line with slow_down (with_patience.ts
 * tries it again after a pause) and real connections, the first behind a
 * proxy that cuts it off.
 */

import assert from "node:assert/strict";
import {
  ChatClient,
  newClientId,
  type Reply,
} from "../../src/client/chat_client.ts";
import {
  emptyGroupState,
  GroupSessions,
} from "../../src/client/group_sessions.ts";
import {
  lateRefusal,
  unconfirmedChat,
} from "../../src/client/unconfirmed_chat.ts";
import { linesOwed } from "../../src/client/lines_owed.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { ChaosProxy } from "../_helpers/chaos_proxy.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import { pendingOf, stillPending } from "../../src/client/answer_within.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { createKeyring, publishPrekeys } from "../../src/client/e2e_keys.ts";
import { notSentWithout, OwnKeysPublisher } from "../../src/client/own_keys.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";
import { WAIT_MS } from "../_helpers/patience.ts";
import { until } from "../_helpers/bystanders.ts";

type TestServer = Awaited<ReturnType<typeof startTestServer>>;
type Channel = Awaited<
  Awaited<ReturnType<typeof startHostileServer>>["session"]
>;

/** Ten messages a connection, then one each 20 s: none comes back during a test. */
function startSlowServer(): Promise<TestServer> {
  return startTestServer({
    connectionLimits: { messagesPerSecond: 1 / 20, messageBurst: 10 },
  });
}

/** A client of `server`'s, straight or through a proxy at `url`. */
function connectTo(
  server: { url: string; spki: Uint8Array },
  url = server.url,
): Promise<ChatClient> {
  return ChatClient.connect(url, { pinnedSpki: server.spki });
}

/** `client`'s tokens spent: its next line is refused with slow_down. */
async function spendTokens(client: ChatClient): Promise<void> {
  for (let i = 0;; i++) {
    const reply = await client.say(`drain ${i}`);
    if (reply.t === "error" && reply.code === "slow_down") break;
    assert.equal(reply.t, "ok", JSON.stringify(reply));
  }
}

/** What sophia read in the room, but the lines that spent the tokens. */
function saidBesidesDrain(sophia: TestClient): string[] {
  return sophia.chat().map(([, , text]) => text).filter((text) =>
    !text.startsWith("drain")
  );
}

/** The server's next batch read, or an error saying `held()` at `deadline`. */
async function receiveBefore(
  channel: Channel,
  deadline: AbortSignal,
  held: () => string,
) {
  const batch = await Promise.race([
    channel.receive(),
    new Promise<never>((_, reject) =>
      deadline.addEventListener("abort", () => reject(new Error(held())))
    ),
  ]);
  if (batch === null) throw new Error("closed");
  return batch;
}

Deno.test("a line refused with slow_down whose connection is lost during its pause goes on the new one before the lines typed after it", async () => {
  await using server = await startSlowServer();
  const proxy = new GateProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const first = await connectTo(server, `ws://127.0.0.1:${proxy.port}`);
  const second = await connectTo(server);
  try {
    assert.equal((await first.register("alice")).t, "welcome");
    assert.ok(first.recognisesRetries);
    // The first connection's tokens spent: its next line is refused.
    await spendTokens(first);
    assert.equal((await second.register("alice2")).t, "welcome");

    let current = first;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => current,
    });
    const replies = ["a", "b", "c"].map((text) =>
      chats.send({ kind: "say", text })
    );
    // Answered in order: "a" was refused by now, and waits out its pause.
    await first.request({ t: "ping" });
    // The connection is lost and another takes over before "a" is tried
    // again (as a session's reconnection does: link, then retry).
    proxy.cut();
    current = second;
    chats.retry(second);
    for (const reply of await Promise.all(replies)) {
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }

    await sophia.waitFor(({ text }) => text === "c");
    await sophia.waitFor(({ text }) => text === "a");
    assert.deepEqual(saidBesidesDrain(sophia), ["a", "b", "c"]);
  } finally {
    await second.quit();
    await first.quit().catch(() => {});
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("a line cut off goes again before the line holding the turn across the reconnection, and before the lines typed after it", async () => {
  // As in the test above: the first connection's next line is refused.
  await using server = await startSlowServer();
  const proxy = new GateProxy(server.port);
  const hung = new ChaosProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const first = await connectTo(server, `ws://127.0.0.1:${proxy.port}`);
  const second = await connectTo(server);
  // A connection before the first, on a network that hangs.
  const zero = await connectTo(server, `ws://127.0.0.1:${hung.port}`);
  try {
    assert.equal((await zero.register("alice0")).t, "welcome");
    assert.equal((await first.register("alice")).t, "welcome");
    await spendTokens(first);
    assert.equal((await second.register("alice2")).t, "welcome");

    let current = first;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => current,
    });
    // "x" went out on the hung connection and was said pending (as /trust
    // hands its lines over): the server never got it.
    hung.stall();
    const cid = newClientId();
    const x = chats.follow(
      zero,
      { kind: "say", text: "x" },
      cid,
      stillPending("everyone", zero.say("x", cid)),
    );
    const replies = ["a", "b", "c"].map((text) =>
      chats.send({ kind: "say", text })
    );
    // "a" was refused by now, and waits out its pause in its turn.
    await first.request({ t: "ping" });
    // The hung connection drops: "x" is due again, on the first.
    hung.cut();
    await zero.ended;
    // The first drops too, and the second takes over before "a" is tried
    // again (a session's reconnection: link, then retry).
    proxy.cut();
    await first.ended;
    current = second;
    chats.retry(second);
    const late = pendingOf(await x);
    assert.ok(late !== undefined, "x is said pending");
    for (const reply of [await late.answer, ...await Promise.all(replies)]) {
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }

    await sophia.waitFor(({ text }) => text === "x");
    await sophia.waitFor(({ text }) => text === "c");
    assert.deepEqual(saidBesidesDrain(sophia), ["x", "a", "b", "c"]);
  } finally {
    await second.quit();
    await first.quit().catch(() => {});
    await zero.quit().catch(() => {});
    await sophia.quit();
    await proxy.close();
    await hung.close();
  }
});

Deno.test("a line whose send throws (its end-to-end state could not be saved) is answered 'Not sent' with the reason, and the lines after it still go", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const sophia = await TestClient.connect(server, "sophia");
  try {
    // alice alone in her group: no member to give her chain to, then the
    // state with her new chain is saved before anything is sealed.
    assert.equal(
      (await alice.client.request({ t: "create", group: "team" })).t,
      "ok",
    );
    const groups = new GroupSessions({
      state: emptyGroupState(),
      save: () => Promise.reject(new Error("No space left on device")),
      sendSecret: () => Promise.reject(new Error("no member to give it to")),
      knownKey: () => null,
      notify: () => {},
      late: () => {},
    });
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: groups,
      reconnect: false,
      client: () => alice.client,
    });
    let answered: Reply | undefined;
    const failed = chats.send({ kind: "gsay", group: "team", text: "secret" })
      .then((reply) => answered = reply);
    const next = await chats.send({ kind: "say", text: "after" });
    assert.equal(next.t, "ok", JSON.stringify(next));
    // Its turn was over before the next line went: answered by then.
    assert.ok(answered !== undefined, "the failed line was never answered");
    assert.deepEqual(await failed, {
      t: "error",
      re: null,
      code: "internal",
      text: "ERROR: Not sent: no space left on device",
    });
    await sophia.waitFor(({ text }) => text === "after");
    assert.equal(chats.waiting(), 0);
  } finally {
    await sophia.quit();
    await alice.quit();
  }
});

Deno.test("a public line whose answer does not come within the wait is said pending, the lines typed after it go behind it on the same connection, and its late answer is its own", async () => {
  // A live server stuck on one line: it answers the others.
  await using server = await startHostileServer();
  const client = await connectTo(server);
  try {
    const channel = await server.session;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 100,
    });
    const first = chats.send({ kind: "say", text: "stuck" });
    const second = chats.send({ kind: "say", text: "after" });
    const third = chats.send({ kind: "msg", to: "sophia", text: "private" });
    // What the server reads, in order; "stuck" is left unanswered.
    const read: string[] = [];
    let stuck: number | undefined;
    const deadline = AbortSignal.timeout(WAIT_MS);
    while (read.length < 3) {
      const batch = await receiveBefore(
        channel,
        deadline,
        () =>
          `the lines after an unanswered one were held: the server read ${
            JSON.stringify(read)
          }`,
      );
      for (const { header, body } of batch) {
        const message = header as ClientMessage;
        if (message.t !== "say" && message.t !== "msg") continue;
        const text = new TextDecoder().decode(body);
        read.push(text);
        if (text === "stuck") stuck = message.id;
        else channel.send({ t: "ok", re: message.id, text: "" });
      }
    }
    assert.deepEqual(read, ["stuck", "after", "private"]);
    const pending = pendingOf(await first);
    assert.ok(pending !== undefined, "the stuck line is said pending");
    assert.equal(pending.to, "everyone");
    assert.equal((await second).t, "ok");
    assert.equal((await third).t, "ok");
    assert.equal(chats.pending(), 1);
    // Its answer comes late, and is the stuck line's.
    channel.send({ t: "ok", re: stuck!, text: "", id: 7 });
    const late = await pending.answer;
    assert.equal(late.t, "ok");
    assert.equal((late as { id?: number }).id, 7);
    assert.equal(chats.pending(), 0);
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("pending lines whose connection is cut before the server read them go again on the next one in the order typed, each once", async () => {
  // The lines after a pending one go out behind it on the same connection,
  // which the server reads and answers in order: none of them can be
  // answered while it is not, so when the connection drops, all of them
  // are cut off together and go again from the first.
  await using server = await startTestServer();
  const proxy = new ChaosProxy(server.port);
  const sophia = await TestClient.connect(server, "sophia");
  const first = await connectTo(server, `ws://127.0.0.1:${proxy.port}`);
  const second = await connectTo(server);
  try {
    assert.equal((await first.register("alice")).t, "welcome");
    assert.ok(first.recognisesRetries);
    assert.equal((await second.register("alice2")).t, "welcome");
    let current = first;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => current,
      answerWaitMs: 100,
    });
    // A network that hangs: nothing reaches the server, nothing comes back.
    proxy.stall();
    const replies = await Promise.all(
      ["a", "b", "c"].map((text) => chats.send({ kind: "say", text })),
    );
    const pending = replies.map((reply) => pendingOf(reply));
    assert.ok(
      pending.every((one) => one !== undefined),
      `each line said pending in turn, behind the one before: ${
        JSON.stringify(replies)
      }`,
    );
    assert.equal(chats.pending(), 3);
    // Then it drops; a new connection takes over (link, then retry).
    proxy.cut();
    await first.ended;
    current = second;
    chats.retry(second);
    for (const answer of await Promise.all(pending.map((one) => one!.answer))) {
      assert.equal(answer.t, "ok", JSON.stringify(answer));
    }
    assert.equal(chats.pending(), 0);
    await sophia.waitFor(({ text }) => text === "c");
    assert.deepEqual(sophia.chat().map(([, , text]) => text), ["a", "b", "c"]);
  } finally {
    await second.quit();
    await first.quit().catch(() => {});
    await sophia.quit();
    await proxy.close();
  }
});

Deno.test("a private line waiting for this client's keys to be published, which the server never answers, is refused after the wait and the lines after it go (the web page's sealing)", async () => {
  await using server = await startHostileServer();
  const client = await connectTo(server);
  try {
    const channel = await server.session;
    const keyring = await createKeyring(await seededIdentity(1));
    // As the web page: its keys published at sign-in, and a sealed line
    // sent only once they are (web/main.ts `sealing`).
    const ownKeys = new OwnKeysPublisher<ChatClient>(async (joined) => {
      await publishPrekeys(joined, keyring);
    }, 200);
    void ownKeys.start(client);
    const sealed = async (to: string): Promise<Reply> => {
      const refusal = notSentWithout(await ownKeys.ready(client), {
        kind: "msg",
        to,
      });
      assert.ok(refusal !== null, "the keys were never published");
      return { t: "error", re: null, code: "no_keys", text: refusal };
    };
    const chats = unconfirmedChat({
      e2e: { sendText: (_client, to) => sealed(to) },
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 200,
    });
    const first = chats.send({ kind: "msg", to: "sophia", text: "sealed" });
    const second = chats.send({ kind: "say", text: "after" });
    // The key publish is read and never answered; the public line after
    // the private one is answered once it comes.
    const read: string[] = [];
    const deadline = AbortSignal.timeout(WAIT_MS);
    while (!read.includes("say")) {
      const batch = await receiveBefore(
        channel,
        deadline,
        () =>
          `the line after one waiting for the keys was held: the server read ${
            JSON.stringify(read)
          }`,
      );
      for (const { header } of batch) {
        const message = header as ClientMessage;
        read.push(message.t);
        if (message.t === "say") {
          channel.send({ t: "ok", re: message.id, text: "" });
        }
      }
    }
    assert.deepEqual(read, ["e2e_keys", "say"]);
    const refused = await first;
    assert.equal(refused.t, "error");
    assert.equal(
      (refused as { text: string }).text,
      "ERROR: Not sent: your end-to-end keys could not be published (the server has not answered within 0.2 seconds), and private messages go only once they are, never in the clear. Try again; each try publishes them again",
    );
    assert.equal((await second).t, "ok");
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("a line refused with slow_down and waiting out its pause counts as not gone out, and once the user left neither it nor the line after it goes", async () => {
  await using server = await startSlowServer();
  const sophia = await TestClient.connect(server, "sophia");
  const alice = await connectTo(server);
  const other = await connectTo(server);
  try {
    assert.equal((await alice.register("alice")).t, "welcome");
    assert.equal((await other.register("alice2")).t, "welcome");
    await spendTokens(alice);
    const chats = linesOwed(unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => alice,
    }));
    const replies = ["a", "b"].map((text) => chats.send({ kind: "say", text }));
    // Answered in order: "a" was refused by now, and waits out its pause
    // once its refusal is taken (the reactions queued with it: on a loaded
    // machine more than one task later, so waited for, not assumed).
    await alice.request({ t: "ping" });
    await until(
      () => chats.waiting() === 2,
      "both lines waiting out the pause",
    );
    // Neither has gone out: leaving would not send them (not "may or may
    // not be delivered": the server stored neither).
    assert.equal(chats.waiting(), 2);
    assert.deepEqual([...chats.unanswered()], []);
    assert.equal(chats.owed().size, 2);
    chats.leave();
    for (const reply of await Promise.all(replies)) {
      assert.equal(reply.t, "error");
      assert.equal(
        (reply as { text: string }).text,
        "ERROR: Not sent: you left before it went out",
      );
    }
    assert.equal(chats.waiting(), 0);
    // Whatever alice sent was read before this is answered.
    await alice.request({ t: "ping" });
    assert.equal((await other.say("marker")).t, "ok");
    await sophia.waitFor(({ text }) => text === "marker");
    assert.deepEqual(saidBesidesDrain(sophia), ["marker"]);
  } finally {
    await alice.quit().catch(() => {});
    await other.quit().catch(() => {});
    await sophia.quit();
  }
});

/**
 * The say lines the hostile server's `channel` reads until `count` are
 * read, each with its id; `answer` answers those it names at once.
 */
async function readSays(
  channel: {
    receive: () => Promise<{ header: unknown; body: Uint8Array }[] | null>;
  },
  count: number,
  answer: (text: string, id: number) => boolean,
  send: (reply: Reply) => void,
): Promise<{ text: string; id: number; cid: string | undefined }[]> {
  const read: { text: string; id: number; cid: string | undefined }[] = [];
  const deadline = AbortSignal.timeout(WAIT_MS);
  while (read.length < count) {
    const batch = await Promise.race([
      channel.receive(),
      new Promise<never>((_, reject) =>
        deadline.addEventListener("abort", () =>
          reject(
            new Error(`the server read only ${JSON.stringify(read)}`),
          ))
      ),
    ]);
    if (batch === null) throw new Error("closed");
    for (const { header, body } of batch) {
      const message = header as ClientMessage;
      if (message.t !== "say") continue;
      const text = new TextDecoder().decode(body);
      read.push({ text, id: message.id!, cid: message.cid });
      if (answer(text, message.id!)) {
        send({ t: "ok", re: message.id!, text: "" });
      }
    }
  }
  return read;
}

const slowDown = (re: number): Reply => ({
  t: "error",
  re,
  code: "slow_down",
  text: "ERROR: slow down",
});

Deno.test("a line said pending whose late answer is slow_down goes again, same cid, when nothing was typed after it, and its answer is the retry's", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 100,
    });
    const first = chats.send({ kind: "say", text: "stuck" });
    const [stuck] = await readSays(
      channel,
      1,
      () => false,
      (reply) => channel.send(reply),
    );
    const pending = pendingOf(await first);
    assert.ok(pending !== undefined, "the stuck line is said pending");
    channel.send(slowDown(stuck!.id));
    // Before: the refusal was its answer, and it never went again.
    const [again] = await readSays(
      channel,
      1,
      () => true,
      (reply) => channel.send(reply),
    );
    assert.equal(again!.text, "stuck");
    assert.equal(again!.cid, stuck!.cid);
    assert.equal((await pending.answer).t, "ok");
    assert.equal(chats.pending(), 0);
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("a line said pending whose late answer is internal goes again, same cid, to a server that stores a cid once, when nothing was typed after it", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const says: { id: number; cid: string | undefined }[] = [];
    let said = Promise.withResolvers<void>();
    void answerSignIn(channel, { name: "alice", cids: true }, (message) => {
      if (message.t !== "say") return;
      says.push({ id: message.id, cid: message.cid });
      said.resolve();
    });
    assert.equal((await client.register("alice")).t, "welcome");
    assert.ok(client.recognisesRetries);
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 100,
    });
    const pending = pendingOf(await chats.send({ kind: "say", text: "stuck" }));
    assert.ok(pending !== undefined, "the stuck line is said pending");
    await said.promise;
    said = Promise.withResolvers<void>();
    // Its store (or log) refused it once it was said pending: not stored.
    channel.send({
      t: "error",
      re: says[0]!.id,
      code: "internal",
      text: "ERROR: The server could not save that; try again",
    });
    // Before: the refusal was its answer, typed again it was sealed anew.
    await Promise.race([
      said.promise,
      pending.answer.then((reply) => {
        throw new Error(`answered, not sent again: ${JSON.stringify(reply)}`);
      }),
    ]);
    assert.equal(says[1]!.cid, says[0]!.cid);
    channel.send({ t: "ok", re: says[1]!.id, text: "" });
    assert.equal((await pending.answer).t, "ok");
    assert.equal(chats.pending(), 0);
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("a line refused with internal by a server that keeps no cid (its welcome said no cids) is answered with the error, not sent again: it may have been stored after all", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const says: number[] = [];
    void answerSignIn(channel, { name: "alice" }, (message) => {
      if (message.t !== "say") return;
      says.push(message.id);
      channel.send({
        t: "error",
        re: message.id,
        code: "internal",
        text: "ERROR: The server could not save that; try again",
      });
    });
    assert.equal((await client.register("alice")).t, "welcome");
    assert.equal(client.recognisesRetries, false);
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
    });
    const reply = await chats.send({ kind: "say", text: "once" });
    assert.equal(reply.t === "error" && reply.code, "internal");
    // Its retry would have been read before the line after it.
    const after = chats.send({ kind: "say", text: "after" });
    await after;
    assert.equal(says.length, 2);
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("a line said pending whose late answer is slow_down after a line typed after it went is said not delivered, and how to send it, not sent again out of order", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 100,
    });
    const first = chats.send({ kind: "say", text: "stuck" });
    const second = chats.send({ kind: "say", text: "after" });
    const read = await readSays(
      channel,
      2,
      (text) => text === "after",
      (reply) => channel.send(reply),
    );
    assert.deepEqual(read.map(({ text }) => text), ["stuck", "after"]);
    const pending = pendingOf(await first);
    assert.ok(pending !== undefined, "the stuck line is said pending");
    assert.equal((await second).t, "ok");
    channel.send(slowDown(read[0]!.id));
    const late = await pending.answer;
    assert.equal(late.t, "error");
    assert.equal((late as { code: string }).code, "slow_down");
    // Before: `ERROR: slow down`, the line said pending ("do not type it
    // again") and never sent.
    assert.equal((late as { text: string }).text, lateRefusal);
    assert.equal(chats.pending(), 0);
    // Nothing goes again: a line typed now is the next the server reads.
    const third = chats.send({ kind: "say", text: "third" });
    const [next] = await readSays(
      channel,
      1,
      () => true,
      (reply) => channel.send(reply),
    );
    assert.equal(next!.text, "third");
    assert.equal((await third).t, "ok");
  } finally {
    await client.quit().catch(() => {});
  }
});

Deno.test("a line said pending whose late answer is slow_down after a file offer took its turn is said not delivered, not sent again after the offer", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const chats = unconfirmedChat({
      e2e: null,
      groupSessions: null,
      reconnect: true,
      client: () => client,
      answerWaitMs: 100,
    });
    const first = chats.send({ kind: "say", text: "stuck" });
    // A file offer's place (the terminal's /file, the page's file), taken
    // after the line: ready once the line was said pending.
    const offer = chats.turn();
    const [stuck] = await readSays(
      channel,
      1,
      () => false,
      (reply) => channel.send(reply),
    );
    const pending = pendingOf(await first);
    assert.ok(pending !== undefined, "the stuck line is said pending");
    await offer.ready;
    offer.done();
    channel.send(slowDown(stuck!.id));
    // Before (no place taken): sent again after the pause, behind the
    // offer, and waiting for an answer this server never gives.
    const deadline = AbortSignal.timeout(WAIT_MS);
    const late = await Promise.race([
      pending.answer,
      new Promise<never>((_, reject) =>
        deadline.addEventListener(
          "abort",
          () => reject(new Error("no late answer: the line went again")),
        )
      ),
    ]);
    assert.equal((late as { text: string }).text, lateRefusal);
    assert.equal(chats.pending(), 0);
    const next = chats.send({ kind: "say", text: "next" });
    const [read] = await readSays(
      channel,
      1,
      () => true,
      (reply) => channel.send(reply),
    );
    assert.equal(read!.text, "next");
    assert.equal((await next).t, "ok");
  } finally {
    await client.quit().catch(() => {});
  }
});
