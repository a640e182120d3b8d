import assert from "node:assert/strict";
import {
  asClause,
  briefClause,
  briefReason,
  ChatClient,
  wasUnanswered,
} from "../../src/client/chat_client.ts";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import type { ClientMessage, Cursor } from "../../src/protocol/messages.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";

function hasControl(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f");
}

Deno.test("ChatClient.ended gives a server's goodbye sanitised for the terminal", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  channel.send({
    t: "bye",
    reason: "violation",
    text: "Disconnected by the server\x1b[2J\x1b]0;pwned\x07\u202e",
  });
  const ending = await client.ended;
  assert.equal(ending.clean, true);
  assert.equal(ending.bye, "violation");
  assert.match(ending.reason, /^Disconnected by the server/);
  for (const char of ["\x1b", "\x07", "\u202e"]) {
    assert.ok(!ending.reason.includes(char), ending.reason);
  }
});

Deno.test("ChatClient.connect opens every frame with the decode option's decoder", async () => {
  await using server = await startHostileServer();
  const opened: number[] = [];
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    decode: (plaintext) => {
      opened.push(plaintext.byteLength);
      return decodeBatch(plaintext);
    },
  });
  const channel = await server.session;
  channel.send({ t: "bye", reason: "violation", text: "Disconnected" });
  const ending = await client.ended;
  assert.equal(ending.bye, "violation");
  assert.equal(opened.length, 1);
});

Deno.test("ChatClient.ended does not quote a header that is not JSON, and requests it leaves unanswered say so in a few words", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  // Never answered: the connection ends first.
  const pending = client.request({ t: "list" });
  // A header that is not JSON: V8's parse error would quote it.
  const message = encodeMessage({ t: "pong", re: 1 });
  const header = '{"t":"pong","re":1}';
  const hostile = "\x1b[2J\x1b]0;pwned\x07".padEnd(header.length, "x");
  const at = new TextDecoder().decode(message).indexOf(header);
  message.set(new TextEncoder().encode(hostile), at);
  channel.sendEncoded(message);
  const ending = await client.ended;
  assert.equal(ending.clean, false);
  assert.equal(ending.brokeProtocol, true);
  // It authenticated: the server's own doing, not the network's.
  assert.match(
    ending.reason,
    /^The connection to the server was closed: the server broke the protocol \(Malformed batch: .*Header is not valid JSON.*\)\. The encryption checked out, so the server itself sent it, not something on the network: tell its operator\.$/,
  );
  assert.doesNotMatch(ending.reason, /pwned/);
  assert.ok(!hasControl(ending.reason), ending.reason);
  // The reason is said once, on a line of its own; what follows from it
  // says it in a few words.
  const short = "The connection to the server was closed.";
  assert.equal(briefReason(ending), short);
  // After a colon ("... stopped: "), as the end of a sentence.
  assert.equal(briefClause(ending), "the connection to the server was closed.");
  for (const reply of [await pending, await client.request({ t: "list" })]) {
    assert.ok(wasUnanswered(reply));
    assert.deepEqual(
      reply.t === "error" && [reply.code, reply.text],
      ["internal", "ERROR: Not sent: the connection to the server was closed."],
    );
  }
});

/**
 * A client of a hostile server that welcomes it as bob with `acks` and
 * records every cursor it acknowledges; `ackedWhen` resolves once one
 * passes its test. What else it sends is in `sent`; `historyAsked`
 * resolves with the next `history` request's id.
 */
async function ackingServer() {
  const server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    ackDelayMs: 1,
  });
  const channel = await server.session;
  const acks: Cursor[] = [];
  type Waiter = { until: (c: Cursor) => boolean; then: () => void };
  const waiter: { current: Waiter | null } = { current: null };
  /** Resolves when an acknowledged cursor passes `until`. */
  const ackedWhen = (until: (c: Cursor) => boolean) =>
    new Promise<void>((then) => {
      waiter.current = { until, then };
      if (acks.some(until)) then();
    });
  const sent: ClientMessage[] = [];
  let asked = Promise.withResolvers<number>();
  const historyAsked = async () => {
    const id = await asked.promise;
    asked = Promise.withResolvers<number>();
    return id;
  };
  void answerSignIn(channel, { name: "bob", acks: true }, (message) => {
    if (message.t === "history") asked.resolve(message.id);
    if (message.t !== "ack") {
      sent.push(message);
      return;
    }
    acks.push(...message.cursors);
    const current = waiter.current;
    if (current !== null && message.cursors.some(current.until)) {
      current.then();
    }
  });
  return {
    client,
    channel,
    acks,
    ackedWhen,
    sent,
    historyAsked,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("ChatClient acknowledges an end-to-end message only once its listener is done with it, and nothing after it in its conversation before", async () => {
  await using fixture = await ackingServer();
  const { client, channel, acks, ackedWhen } = fixture;
  assert.equal((await client.register("bob")).t, "welcome");
  const opening = Promise.withResolvers<void>();
  const seen: string[] = [];
  client.onMessage(({ message }) => {
    seen.push(message.t);
    // Opened slowly: held until the test lets it go.
    return message.t === "e2e_private" ? opening.promise : undefined;
  });
  const from = (name: string, id: number, seq: number) => ({
    from: name,
    ts: 1,
    id,
    seq,
  });
  channel.send(
    { t: "e2e_private", fingerprint: "SHA256:x", ...from("alice", 1, 1) },
    new Uint8Array(8),
  );
  channel.send(
    { t: "private", ...from("alice", 2, 2) },
    new TextEncoder().encode("hi"),
  );
  channel.send(
    { t: "private", ...from("carol", 3, 1) },
    new TextEncoder().encode("yo"),
  );
  // Carol's conversation is acknowledged; Alice's waits behind seq 1.
  await ackedWhen((c) => "to" in c && c.to === "carol");
  assert.deepEqual(seen, ["e2e_private", "private", "private"]);
  assert.ok(
    !acks.some((c) => "to" in c && c.to === "alice"),
    JSON.stringify(acks),
  );
  // Done with: both of Alice's are acknowledged at once.
  const alice = ackedWhen((c) => "to" in c && c.to === "alice");
  opening.resolve();
  await alice;
  assert.deepEqual(acks.filter((c) => "to" in c && c.to === "alice"), [
    { to: "alice", seq: 2 },
  ]);
  await client.quit();
});

Deno.test("ChatClient.listening replays what came before any listener to every listener it adds, in order, and acknowledges it once all are done", async () => {
  await using fixture = await ackingServer();
  const { client, channel, acks, ackedWhen } = fixture;
  assert.equal((await client.register("bob")).t, "welcome");
  // Before anyone listens: an offer, and a message opened slowly; the pong
  // after them says the client read both.
  const { id, reply } = client.numberedRequest({ t: "ping" });
  channel.send({ t: "file_offer", xfer: 1, from: "alice", name: "a", size: 1 });
  channel.send(
    {
      t: "e2e_private",
      fingerprint: "SHA256:x",
      from: "alice",
      ts: 1,
      id: 1,
      seq: 1,
    },
    new Uint8Array(8),
  );
  channel.send({ t: "pong", re: id });
  await reply;
  const seen: string[] = [];
  const opening = Promise.withResolvers<void>();
  client.listening(() => {
    client.onMessage(({ message }) => void seen.push(`session ${message.t}`));
    // Added second, as a session's file receiver is.
    client.onMessage(({ message }) => {
      seen.push(`files ${message.t}`);
      return message.t === "e2e_private" ? opening.promise : undefined;
    });
  });
  assert.deepEqual(seen, [
    "session file_offer",
    "files file_offer",
    "session e2e_private",
    "files e2e_private",
  ]);
  // Acknowledged once the second listener is done with it too.
  channel.send(
    { t: "private", from: "carol", ts: 1, id: 2, seq: 1 },
    new TextEncoder().encode("yo"),
  );
  await ackedWhen((c) => "to" in c && c.to === "carol");
  assert.ok(!acks.some((c) => "to" in c && c.to === "alice"));
  const alice = ackedWhen((c) => "to" in c && c.to === "alice");
  opening.resolve();
  await alice;
  await client.quit();
});

Deno.test("ChatClient with ackWhenHandled acknowledges a plain message only once its listener is done with it (a --json line written), and nothing after it in its conversation before", async () => {
  await using fixture = await ackingServer();
  const { client, channel, acks, ackedWhen } = fixture;
  client.ackWhenHandled();
  assert.equal((await client.register("bob")).t, "welcome");
  const opening = Promise.withResolvers<void>();
  const seen: string[] = [];
  client.onMessage(({ message }) => {
    seen.push(message.t);
    // Alice's first is written slowly: held until the test lets it go.
    return message.t === "private" && message.id === 1
      ? opening.promise
      : Promise.resolve();
  });
  const from = (name: string, id: number, seq: number) => ({
    from: name,
    ts: 1,
    id,
    seq,
  });
  channel.send(
    { t: "private", ...from("alice", 1, 1) },
    new TextEncoder().encode("first"),
  );
  channel.send(
    { t: "private", ...from("alice", 2, 2) },
    new TextEncoder().encode("hi"),
  );
  channel.send(
    { t: "private", ...from("carol", 3, 1) },
    new TextEncoder().encode("yo"),
  );
  // Carol's conversation is acknowledged; Alice's waits behind seq 1.
  await ackedWhen((c) => "to" in c && c.to === "carol");
  assert.deepEqual(seen, ["private", "private", "private"]);
  assert.ok(
    !acks.some((c) => "to" in c && c.to === "alice"),
    JSON.stringify(acks),
  );
  // Done with: both of Alice's are acknowledged at once.
  const alice = ackedWhen((c) => "to" in c && c.to === "alice");
  opening.resolve();
  await alice;
  assert.deepEqual(acks.filter((c) => "to" in c && c.to === "alice"), [
    { to: "alice", seq: 2 },
  ]);
  await client.quit();
});

Deno.test("ChatClient asks for history after a ping, as an ack (its own, or one the server held) may bring a page of what waited, and takes only what comes after its pong as the answer", async () => {
  await using fixture = await ackingServer();
  const { client, channel, ackedWhen, sent, historyAsked } = fixture;
  assert.equal((await client.register("bob")).t, "welcome");
  const answered: [number, number | undefined][] = [];
  client.onMessage(({ message, answers }) => {
    if (message.t === "private") answered.push([message.id!, answers]);
  });
  const types = () => sent.map((m) => m.t).join(" ");
  const private_ = (id: number, history?: true) =>
    channel.send(
      {
        t: "private",
        from: "alice",
        ts: 1,
        id,
        seq: id,
        ...(history ? { history } : {}),
      },
      new TextEncoder().encode("hi"),
    );
  // Shown and acknowledged: a page may follow that ack.
  private_(1);
  await ackedWhen((c) => "to" in c && c.seq === 1);
  const reply = client.request({ t: "history", target: "alice" });
  const re = await historyAsked();
  assert.equal(types(), "ping history");
  const ping = sent[0] as Extract<ClientMessage, { t: "ping" }>;
  // The page the ack brought comes before the pong; the answer after.
  private_(2, true);
  channel.send({ t: "pong", re: ping.id });
  private_(1, true);
  channel.send({ t: "ok", re, text: "End of history." });
  assert.equal((await reply).t, "ok");
  assert.deepEqual(answered, [[1, undefined], [2, undefined], [1, re]]);
  // The page is acknowledged too. Nothing since, and still a ping: an ack
  // the server held over the rate brings its page whenever it applies it.
  await ackedWhen((c) => "to" in c && c.seq === 2);
  const next = client.request({ t: "history", target: "alice" });
  const nextRe = await historyAsked();
  assert.equal(types(), "ping history ping history");
  channel.send({ t: "pong", re: (sent[2] as { id: number }).id });
  channel.send({ t: "ok", re: nextRe, text: "No history." });
  await next;
  const last = client.request({ t: "history", target: "alice" });
  const lastRe = await historyAsked();
  assert.equal(types(), "ping history ping history ping history");
  // A page held back by an ack the server held comes before the pong.
  private_(3, true);
  channel.send({ t: "pong", re: (sent[4] as { id: number }).id });
  channel.send({ t: "ok", re: lastRe, text: "No history." });
  await last;
  assert.deepEqual(answered.at(-1), [3, undefined]);
  await client.quit();
});

Deno.test("ChatClient: a copy in a history answer of an end-to-end message still being opened does not let the cursor pass it", async () => {
  await using fixture = await ackingServer();
  const { client, channel, acks, ackedWhen, historyAsked, sent } = fixture;
  assert.equal((await client.register("bob")).t, "welcome");
  const never = new Promise<void>(() => {});
  client.onMessage(({ message, answers }) =>
    // The first copy is left (for the keys, say); the answer's is dealt with.
    message.t === "e2e_private" && answers === undefined ? never : undefined
  );
  const sealed = (history?: true) =>
    channel.send({
      t: "e2e_private",
      fingerprint: "SHA256:x",
      from: "alice",
      ts: 1,
      id: 1,
      seq: 1,
      ...(history ? { history } : {}),
    }, new Uint8Array(8));
  sealed();
  const reply = client.request({ t: "history", target: "alice" });
  const re = await historyAsked();
  const ping = sent.find((m) => m.t === "ping") as { id: number };
  channel.send({ t: "pong", re: ping.id });
  sealed(true);
  channel.send({ t: "ok", re, text: "End of history." });
  assert.equal((await reply).t, "ok");
  channel.send(
    { t: "private", from: "carol", ts: 1, id: 2, seq: 1 },
    new TextEncoder().encode("yo"),
  );
  await ackedWhen((c) => "to" in c && c.to === "carol");
  assert.ok(
    !acks.some((c) => "to" in c && c.to === "alice"),
    JSON.stringify(acks),
  );
  await client.quit();
});

Deno.test("asClause lower-cases an ordinary first word, not a name or an acronym", () => {
  assert.equal(
    asClause("The connection to the server was lost."),
    "the connection to the server was lost.",
  );
  assert.equal(asClause("ERROR: No such user: bob"), "no such user: bob");
  assert.equal(
    asClause("Cannot save e2e.json: disk full"),
    "cannot save e2e.json: disk full",
  );
  // A name keeps its capital, whatever follows it.
  assert.equal(
    asClause("Bob's keys are not valid: bad signature"),
    "Bob's keys are not valid: bad signature",
  );
  assert.equal(asClause("ERROR: Alice is not online"), "Alice is not online");
  // A user called No: a starter, but followed by 's, a name.
  assert.equal(
    asClause("No's keys are not valid: x"),
    "No's keys are not valid: x",
  );
  assert.equal(asClause("OpenSSL failed"), "OpenSSL failed");
  assert.equal(asClause(""), "");
});
