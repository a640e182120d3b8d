/**
 * Exactly once and in order across reconnects (docs/PROTOCOL.md,
 * "Delivery"), with a real server, store and clients.
 */

import assert from "node:assert/strict";
import {
  ChatClient,
  decodeText,
  type Handling,
  HELD,
  QUIT_ACK_MS,
} from "../../src/client/chat_client.ts";
import { DeliveryLedger } from "../../src/client/delivery.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import type { Store } from "../../src/store/store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import type { TestServer } from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** Every chat message one user was shown, across its connections. */
interface Shown {
  text: string;
  history: boolean;
  late: boolean;
}

async function signIn(
  server: TestServer,
  name: string,
  identity: Identity,
  ledger: DeliveryLedger,
  shown: Shown[],
  ackDelayMs?: number,
): Promise<ChatClient> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    ...(ackDelayMs === undefined ? {} : { ackDelayMs }),
  });
  // Listening first: what waited comes right after the welcome.
  client.onMessage(({ message, body, late }) => {
    if (
      message.t === "public" || message.t === "private" ||
      message.t === "group"
    ) {
      shown.push({
        text: decodeText(body),
        history: message.history === true,
        late: late === true,
      });
    }
  });
  const welcome = await client.register(name, identity, ledger);
  assert.equal(welcome.t, "welcome");
  assert.equal(welcome.t === "welcome" && welcome.acks, true);
  return client;
}

/** Private messages "one" and "two" from sophia wait for jojo, known but offline. */
function twoWaitForJojo(store: Store): void {
  store.ensureUser("sophia", "sophia", 1);
  store.ensureUser("jojo", "jojo", 1);
  for (const text of ["one", "two"]) {
    store.appendMessage({
      kind: "private",
      toKey: "jojo",
      ts: 2,
      fromKey: "sophia",
      fromName: "sophia",
      body: new TextEncoder().encode(text),
      recipients: [{ userKey: "jojo", delivered: false }],
    });
  }
}

/**
 * jojo signed in with `key` as a script is: each private message
 * acknowledged once its listener's answer, `handled()`, settles; and
 * sophia's private `text` to him, which has reached that listener.
 */
async function jojoListening(
  server: TestServer,
  key: Identity,
  text: string,
  handled: () => Handling,
): Promise<{ jojo: ChatClient; sophia: TestClient }> {
  const jojo = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  jojo.ackWhenHandled();
  const came = Promise.withResolvers<void>();
  jojo.onMessage(({ message }) => {
    if (message.t !== "private") return;
    came.resolve();
    return handled();
  });
  assert.equal((await jojo.register("jojo", key)).t, "welcome");
  const sophia = await TestClient.connect(server, "sophia");
  assert.equal((await sophia.client.msg("jojo", text)).t, "ok");
  await came.promise;
  return { jojo, sophia };
}

/** Waits, with a deadline, until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("a reconnect after a dropped connection shows nothing twice and loses nothing", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    const ledger = new DeliveryLedger();
    const shown: Shown[] = [];
    const texts = () => shown.map((s) => s.text);
    // Acknowledgements held back, so that the drop surely loses them.
    let jojo = await signIn(server, "jojo", key, ledger, shown, 60_000);
    const sophia = await TestClient.connect(server, "sophia");
    assert.equal(
      (await sophia.client.request({ t: "create", group: "team" })).t,
      "ok",
    );
    assert.equal((await jojo.request({ t: "join", group: "team" })).t, "ok");
    for (let i = 1; i <= 3; i++) {
      assert.equal((await sophia.client.msg("jojo", `dm ${i}`)).t, "ok");
      assert.equal((await sophia.client.gsay("team", `team ${i}`)).t, "ok");
    }
    await until(() => shown.length === 6, "the live messages");
    // Cut off unheard: the server still owes all six.
    jojo.abort();
    await jojo.ended;
    await sophia.waitFor((m) =>
      m.message.t === "presence" && !m.message.online
    );
    assert.equal(store.pendingFor("jojo", 100).length, 6);
    assert.equal((await sophia.client.msg("jojo", "while away")).t, "ok");
    assert.equal((await sophia.client.gsay("team", "team away")).t, "ok");

    jojo = await signIn(server, "jojo", key, ledger, shown);
    await until(() => shown.length === 8, "what was missed");
    // A round trip: anything sent twice would have arrived by now.
    assert.equal((await jojo.request({ t: "ping" })).t, "pong");
    assert.deepEqual(texts(), [
      "dm 1",
      "team 1",
      "dm 2",
      "team 2",
      "dm 3",
      "team 3",
      "while away",
      "team away",
    ]);
    assert.deepEqual(
      shown.slice(6).map((s) => [s.history, s.late]),
      [[true, false], [true, false]],
      "missed while away: history, in order, not late",
    );
    // A goodbye acknowledges what was shown: nothing waits any more.
    await jojo.quit();
    await until(
      () => store.pendingFor("jojo", 100).length === 0,
      "the acknowledgement",
    );

    // Even a fresh client (no ledger) is sent nothing again.
    const fresh: Shown[] = [];
    jojo = await signIn(server, "jojo", key, new DeliveryLedger(), fresh);
    assert.equal((await jojo.request({ t: "ping" })).t, "pong");
    assert.deepEqual(fresh, []);
    await jojo.quit();
    await sophia.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("acknowledgements go in batches while connected: what was shown is not sent again", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  try {
    const key = await testIdentity();
    const shown: Shown[] = [];
    const jojo = await signIn(
      server,
      "jojo",
      key,
      new DeliveryLedger(),
      shown,
      20,
    );
    const sophia = await TestClient.connect(server, "sophia");
    const sent = await Promise.all(
      Array.from({ length: 100 }, (_, i) => sophia.client.msg("jojo", `${i}`)),
    );
    assert.ok(sent.every((r) => r.t === "ok"));
    await until(() => shown.length === 100, "the messages");
    assert.deepEqual(
      shown.map((s) => s.text),
      Array.from({ length: 100 }, (_, i) => `${i}`),
    );
    // Acknowledged without a goodbye: the connection can drop now.
    await until(
      () => store.pendingFor("jojo", 200).length === 0,
      "the acknowledgements",
    );
    jojo.abort();
    await jojo.ended;
    await sophia.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("what waited comes before a newer live message, even while the welcome waits for the disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-order-" });
  const real = openStore(`${dir}/chat.db`, { synchronous: "FULL" });
  // The real store, but the sync after the `count`th next call to durable()
  // is seen to finish only when released.
  let count = 0;
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  const store = new Proxy(real, {
    get(target, prop) {
      if (prop === "durable") {
        return () => {
          const synced = target.durable();
          if (count === 0 || --count > 0 || synced === null) return synced;
          return Promise.all([synced, hold]).then(() => {});
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    const shown: Shown[] = [];
    await (await signIn(server, "jojo", key, new DeliveryLedger(), [])).quit();
    const sophia = await TestClient.connect(server, "sophia");
    assert.equal((await sophia.client.msg("jojo", "waited")).t, "ok");
    // jojo signs in: the challenge's sync goes by, the welcome's is held.
    count = 2;
    const jojo = signIn(server, "jojo", key, new DeliveryLedger(), shown);
    await sophia.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "jojo" &&
      m.message.online
    );
    // Registered on the server, welcome not sent: this one is live.
    assert.equal((await sophia.client.msg("jojo", "live")).t, "ok");
    release();
    const client = await jojo;
    await until(() => shown.length === 2, "both messages");
    assert.deepEqual(shown, [
      { text: "waited", history: true, late: false },
      { text: "live", history: false, late: false },
    ]);
    await client.quit();
    await sophia.quit();
  } finally {
    release();
    await server.shutdown();
    real.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an ack over the rate limit gets no reply and counts no refusal", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      messagesPerSecond: 1,
      messageBurst: 4,
      floodStrikes: 3,
    },
  });
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  try {
    // register and prove take two of the four tokens.
    assert.equal((await raw.register("jojo", { acks: true })).t, "welcome");
    const ping = (id: number) => ({ header: { t: "ping", id } });
    const ack = { header: { t: "ack", cursors: [{ to: "nana", seq: 1 }] } };
    // Two pings take the last tokens; then more acks than the strikes that
    // would end the session, then a ping that is refused.
    raw.send(
      await raw.seal(ping(100), ping(101), ack, ack, ack, ack, ack, ping(102)),
    );
    const refused = await raw.replyTo(102);
    assert.equal(refused.t === "error" && refused.code, "slow_down");
    const answers = raw.messages.map(({ message }) => message);
    assert.deepEqual(
      answers.filter((m) => m.t === "pong").map((m) => m.t === "pong" && m.re),
      [100, 101],
    );
    assert.deepEqual(
      answers.filter((m) => m.t === "error" && m.re === null),
      [],
      "nothing answered the acks",
    );
    assert.ok(!raw.isClosed, "still connected");
  } finally {
    await raw.close();
  }
});

Deno.test("an ack over the rate limit is held and applied when the connection ends: a fresh client is not sent again what was acknowledged", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 1,
      messageBurst: 4,
      floodStrikes: 3,
    },
  });
  try {
    twoWaitForJojo(store);
    const raw = await RawClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    // register and prove take two of the four tokens.
    assert.equal((await raw.register("jojo", { acks: true })).t, "welcome");
    const shown = () =>
      raw.messages.filter(({ message }) => message.t === "private");
    while (shown().length < 2) await raw.receiveMessages();
    const last = shown()[1]!.message;
    assert.ok(last.t === "private" && last.seq === 2);
    const ping = (id: number) => ({ header: { t: "ping", id } });
    const ack = {
      header: { t: "ack", cursors: [{ to: "sophia", seq: last.seq }] },
    };
    // The pings take the last tokens: the ack is over the limit.
    raw.send(await raw.seal(ping(100), ping(101), ack, ping(102)));
    const refused = await raw.replyTo(102);
    assert.equal(refused.t === "error" && refused.code, "slow_down");
    assert.equal(store.pendingFor("jojo", 10).length, 2, "held, not applied");
    await raw.close();
    // What a fresh client would be sent at its next sign-in: nothing.
    await until(
      () => store.pendingFor("jojo", 10).length === 0,
      "the held acknowledgement",
    );
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("what a history request asked for is shown even when it was shown before, not as late, and counts as shown: nothing waits for it after", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    const ledger = new DeliveryLedger();
    const shown: Shown[] = [];
    // Acknowledgements only when the client is done.
    const jojo = await signIn(server, "jojo", key, ledger, shown, 60_000);
    const sophia = await TestClient.connect(server, "sophia");
    for (let i = 1; i <= 3; i++) {
      assert.equal((await sophia.client.msg("jojo", `dm ${i}`)).t, "ok");
    }
    await until(() => shown.length === 3, "the live messages");
    const reply = await jojo.request({
      t: "history",
      target: "sophia",
      limit: 2,
    });
    assert.equal(reply.t, "ok");
    assert.deepEqual(shown.slice(3), [
      { text: "dm 2", history: true, late: false },
      { text: "dm 3", history: true, late: false },
    ]);
    // The goodbye acknowledges all of it.
    await jojo.quit();
    await until(
      () => store.pendingFor("jojo", 100).length === 0,
      "the acknowledgement",
    );
    await sophia.quit();
  } finally {
    store.close();
  }
});

Deno.test("what waited is not acknowledged by a client that ends before anything listens: a fresh client is sent it again", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    twoWaitForJojo(store);
    const identity = await testIdentity();
    // No listener: as `chat connect` whose keys would not open, which stops
    // right after the welcome, before its chat view listens. It quits with
    // a goodbye, which sends every acknowledgement it owes first.
    const early = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    assert.equal((await early.register("jojo", identity)).t, "welcome");
    // A round trip: what waited (sent right after the welcome) has come.
    await early.request({ t: "list" });
    await early.quit();
    assert.equal(store.pendingFor("jojo", 10).length, 2, "not acknowledged");

    const shown: Shown[] = [];
    const later = await signIn(
      server,
      "jojo",
      identity,
      new DeliveryLedger(),
      shown,
    );
    await until(() => shown.length === 2, "what waited, again");
    assert.deepEqual(shown.map((s) => s.text), ["one", "two"]);
    await later.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("quit acknowledges what was shown while its last ping went: nothing comes again at the next sign-in", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const proxy = new HoldingProxy(server.port);
  try {
    const key = await testIdentity();
    const shown: Shown[] = [];
    // Acknowledgements held back: the quit sends them.
    const jojo = await signIn(
      { ...server, url: `ws://127.0.0.1:${proxy.port}` },
      "jojo",
      key,
      new DeliveryLedger(),
      shown,
      60_000,
    );
    const sophia = await TestClient.connect(server, "sophia");
    assert.equal((await sophia.client.msg("jojo", "first")).t, "ok");
    await until(() => shown.length === 1, "the first message");
    // The server's next frames wait in the proxy: "second" reaches jojo
    // after the quit's acknowledgement went, before the ping's answer.
    proxy.holdAt(proxy.downBytes);
    assert.equal((await sophia.client.msg("jojo", "second")).t, "ok");
    await proxy.holding();
    const quitting = jojo.quit();
    await until(() => store.pendingFor("jojo", 10).length === 1, "the ack");
    proxy.release();
    await quitting;
    assert.deepEqual(shown.map((s) => s.text), ["first", "second"]);
    await until(
      () => store.pendingFor("jojo", 10).length === 0,
      "the acknowledgement of what was shown during the quit",
    );
    await sophia.quit();
  } finally {
    await proxy.close();
    await server.shutdown();
    store.close();
  }
});

Deno.test("quit with nothing owed yet waits for a line still being written (a script's stdout): it is acknowledged, and not shown again at the next sign-in", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    // As a script or --json: acknowledged once its line is written.
    const written = Promise.withResolvers<void>();
    const { jojo, sophia } = await jojoListening(
      server,
      key,
      "hi",
      () => written.promise,
    );
    // Nothing is owed yet: the script's input ends while its one line is
    // on its way to stdout; the line is written once the quit began.
    const quitting = jojo.quit();
    written.resolve();
    await quitting;
    await until(
      () => store.pendingFor("jojo", 10).length === 0,
      "the acknowledgement of the line written during the quit",
    );

    // Signed in again: "after" comes, and "hi" did not before it (what
    // waits comes before a newer live message).
    const shown: Shown[] = [];
    const again = await signIn(
      server,
      "jojo",
      key,
      new DeliveryLedger(),
      shown,
    );
    assert.equal((await sophia.client.msg("jojo", "after")).t, "ok");
    await until(() => shown.length > 0, "the live message");
    assert.deepEqual(shown.map((s) => s.text), ["after"]);
    await again.quit();
    await sophia.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("quit does not wait for a message a listener left for keys another process holds (HELD): it goes at once, and the message waits for the next sign-in", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    // As `chat connect` without the keys, another of the same name having
    // them (session_e2e.ts `leaveFor`): never acknowledged, on purpose.
    const { jojo, sophia } = await jojoListening(
      server,
      key,
      "kept",
      () => HELD,
    );
    const started = performance.now();
    await jojo.quit();
    // Waiting for it would take the whole QUIT_ACK_MS (and show what came
    // meanwhile): nothing here would ever settle it.
    const took = performance.now() - started;
    assert.ok(took < QUIT_ACK_MS, `quit took ${Math.round(took)} ms`);
    assert.equal(store.pendingFor("jojo", 10).length, 1, "not acknowledged");

    const shown: Shown[] = [];
    const again = await signIn(
      server,
      "jojo",
      key,
      new DeliveryLedger(),
      shown,
    );
    await until(() => shown.length > 0, "what waited, again");
    assert.deepEqual(shown.map((s) => s.text), ["kept"]);
    await again.quit();
    await sophia.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});

Deno.test("quit({ showing: false }) (the reader of stdout gone) does not wait for a line that will never be written: it stays for the next sign-in", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  try {
    const key = await testIdentity();
    // As stdout_queue.ts `written` once stdout cannot be written any more.
    const { jojo, sophia } = await jojoListening(
      server,
      key,
      "unwritten",
      () => new Promise<void>(() => {}),
    );
    const started = performance.now();
    await jojo.quit({ showing: false });
    const took = performance.now() - started;
    assert.ok(took < QUIT_ACK_MS, `quit took ${Math.round(took)} ms`);
    assert.equal(store.pendingFor("jojo", 10).length, 1, "not acknowledged");
    await sophia.quit();
  } finally {
    await server.shutdown();
    store.close();
  }
});
