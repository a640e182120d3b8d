/**
 * The pages of what waited for a user at sign-in (docs/PROTOCOL.md 5.3, 5.9)
 * against a client whose acknowledgements cross the next page on the wire:
 * a real server and store, and a client speaking the protocol by hand so
 * that the test decides what it has shown and when each `ack` leaves.
 */

import assert from "node:assert/strict";
import { MAX_HISTORY, MAX_TEXT_BYTES } from "../../src/protocol/limits.ts";
import { MAX_MISSED_BYTES } from "../../src/server/router.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { ChatClient, type Reply } from "../../src/client/chat_client.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const decoder = new TextDecoder();

/** A page: what one sign-in sends at most before an acknowledgement. */
const PAGE = 2 * MAX_HISTORY;

type Private = Extract<ServerMessage, { t: "private" }>;

/** The private messages from `from` among what `client` has opened so far. */
function privatesFrom(client: RawClient, from: string) {
  return client.messages.flatMap(({ message, body }) =>
    message.t === "private" && message.from === from
      ? [{ message: message as Private, text: decoder.decode(body) }]
      : []
  );
}

/** Signs `name` in over a raw connection that acknowledges. */
async function signIn(
  server: TestServer,
  name: string,
  identity: Identity,
): Promise<RawClient> {
  const client = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const welcome = await client.register(name, { acks: true, identity });
  assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
  return client;
}

/** Reads until `client` has opened `count` private messages from `from`. */
async function readPrivates(
  client: RawClient,
  from: string,
  count: number,
): Promise<void> {
  while (privatesFrom(client, from).length < count) {
    await client.receiveMessages();
  }
}

/**
 * Acknowledges the private messages from `from` up to `seq`: by default the
 * last `client` opened.
 */
async function ack(
  client: RawClient,
  from: string,
  seq = privatesFrom(client, from).at(-1)!.message.seq!,
): Promise<void> {
  await client.sendMessage({ t: "ack", cursors: [{ to: from, seq }] });
}

/** The texts of jojo's first `count` messages: "0", "1", … */
function numbered(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i}`);
}

/**
 * A real server and store with no flood limits, sophia known there (her
 * `key`) and away, and `total` private messages jojo wrote her meanwhile
 * ({@link numbered}, each number made into a text by `text`), all taken. jojo stays signed in.
 */
async function waitingForSophia(
  total: number,
  text: (n: string) => string = (n) => n,
) {
  await using stack = new AsyncDisposableStack();
  const store = openStore(":memory:");
  stack.defer(() => store.close());
  const server = stack.use(
    await startTestServer({
      store,
      // jojo writes hundreds at once.
      connectionLimits: {
        messagesPerSecond: 100_000,
        messageBurst: 100_000,
        messagesPerSecondPerAddress: 100_000,
        messageBurstPerAddress: 100_000,
      },
    }),
  );
  const key = await testIdentity();
  await (await signIn(server, "sophia", key)).close();
  const jojo = await TestClient.connect(server, "jojo");
  const replies = await Promise.all(
    numbered(total).map((n) => jojo.client.msg("sophia", text(n))),
  );
  for (const reply of replies) assert.equal(reply.t, "ok");
  // The server, then the store.
  const owned = stack.move();
  return {
    store,
    server,
    key,
    jojo,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test("a sign-in's next page is never acknowledged by an ack the client sent before it came: what was not shown waits for the next sign-in", async () => {
  // sophia is known, and away while jojo writes her more than a page.
  const total = PAGE + 5;
  await using waiting = await waitingForSophia(total);
  const { server, key, jojo } = waiting;

  // She signs in: the first page comes.
  const first = await signIn(server, "sophia", key);
  await readPrivates(first, "jojo", PAGE);
  const page = privatesFrom(first, "jojo");
  assert.deepEqual(
    page.map(({ text }) => text),
    numbered(PAGE),
  );
  // jojo writes again; whatever the server sends her for it is here
  // once her ping is answered (it was routed before).
  assert.equal((await jojo.client.msg("sophia", "live")).t, "ok");
  await first.request({ t: "ping" });
  const shown = privatesFrom(first, "jojo");
  const lastOfPage = page.at(-1)!.message.seq!;
  const newest = Math.max(...shown.map(({ message }) => message.seq!));
  // An honest client acknowledges what it showed: its ack timer fired
  // after the page (A), then it showed whatever came after (B). Both
  // leave before the next page arrives; then the client is killed.
  await ack(first, "jojo", lastOfPage);
  await ack(first, "jojo", newest);
  // Both taken by the server (what it sends meanwhile is not shown).
  await first.request({ t: "ping" });
  const seen = new Set(shown.map(({ text }) => text));
  await first.close();

  // At the next sign-in, everything she was not shown comes.
  const second = await signIn(server, "sophia", key);
  await second.request({ t: "ping" });
  for (const { text } of privatesFrom(second, "jojo")) seen.add(text);
  const missing = [
    ...numbered(total),
    "live",
  ].filter((text) => !seen.has(text));
  assert.deepEqual(missing, [], "messages acknowledged but never shown");
  await second.close();
  await jojo.quit();
});

Deno.test("a message sent to a user while the pages of what waited are still coming arrives in the next page, in order, and live ones come live again after the last", async () => {
  const total = PAGE + 5;
  await using waiting = await waitingForSophia(total);
  const { store, server, key, jojo } = waiting;
  const sophia = await signIn(server, "sophia", key);
  await readPrivates(sophia, "jojo", PAGE);
  assert.equal((await jojo.client.msg("sophia", "meanwhile")).t, "ok");
  await sophia.request({ t: "ping" });
  assert.equal(privatesFrom(sophia, "jojo").length, PAGE, "not sent live");
  // The page acknowledged: the next comes, with the one sent meanwhile.
  await ack(sophia, "jojo");
  await readPrivates(sophia, "jojo", total + 1);
  const all = privatesFrom(sophia, "jojo");
  assert.deepEqual(all.map(({ text }) => text), [
    ...numbered(total),
    "meanwhile",
  ]);
  assert.ok(all.every(({ message }) => message.history === true));
  // The last page acknowledged, a new message comes live.
  await ack(sophia, "jojo");
  await sophia.request({ t: "ping" });
  assert.equal((await jojo.client.msg("sophia", "now")).t, "ok");
  await readPrivates(sophia, "jojo", total + 2);
  const now = privatesFrom(sophia, "jojo").at(-1)!;
  assert.equal(now.text, "now");
  assert.equal(now.message.history, undefined);
  assert.equal(store.pendingFor("sophia", 10).length, 1);
  await sophia.close();
  await jojo.quit();
});

Deno.test("ChatClient asking for history while the pages of what waited come still acknowledges them: the pages go on, and live messages come", async () => {
  // Three pages: the second ends with the ack ceiling set again.
  const total = 2 * PAGE + 5;
  await using waiting = await waitingForSophia(total);
  const { server, key, jojo } = waiting;

  const sophia = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    ackDelayMs: 1,
  });
  const texts = new Set<string>();
  const asked = Promise.withResolvers<Promise<Reply>>();
  let asking = false;
  const heard = Promise.withResolvers<void>();
  sophia.onMessage(({ message, body }) => {
    if (message.t !== "private" || message.from !== "jojo") return;
    texts.add(decoder.decode(body));
    // The first message of the second page: she asks for history (a
    // person typing /history jojo while the pages come), and the rest of
    // the page arrives before its answer.
    if (texts.size === PAGE + 1 && !asking) {
      asking = true;
      asked.resolve(
        sophia.request({ t: "history", target: "jojo", limit: 1 }),
      );
    }
    if (texts.has("live") && texts.size === total + 1) heard.resolve();
  });
  const welcome = await sophia.register("sophia", key);
  assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
  assert.equal((await await asked.promise).t, "ok");
  assert.equal((await jojo.client.msg("sophia", "live")).t, "ok");
  // Lost for this connection if a page is never acknowledged: the next
  // page never comes, and nothing private comes live meanwhile.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `heard ${texts.size} of ${total} waiting, ${
              texts.has("live") ? "and" : "not"
            } the live one`,
          ),
        ),
      WAIT_MS,
    );
  });
  try {
    await Promise.race([heard.promise, late]);
  } finally {
    clearTimeout(timer);
  }
  await sophia.quit();
  await jojo.quit();
});

Deno.test("when the last page is a whole one (exactly two pages waited), sending it ends the paging: the next message comes live", async () => {
  const total = 2 * PAGE;
  await using waiting = await waitingForSophia(total);
  const { server, key, jojo } = waiting;
  const sophia = await signIn(server, "sophia", key);
  await readPrivates(sophia, "jojo", PAGE);
  await ack(sophia, "jojo");
  await readPrivates(sophia, "jojo", total);
  // Nothing of the second page acknowledged yet, and nothing more waits.
  assert.equal((await jojo.client.msg("sophia", "now")).t, "ok");
  await sophia.request({ t: "ping" });
  const all = privatesFrom(sophia, "jojo");
  assert.equal(all.length, total + 1);
  assert.equal(all.at(-1)!.text, "now");
  assert.equal(all.at(-1)!.message.history, undefined);
  await sophia.close();
  await jojo.quit();
});

Deno.test("signing in again while the pages of what waited are coming starts them over on the new connection: nothing held back is lost", async () => {
  const total = PAGE + 5;
  await using waiting = await waitingForSophia(total);
  const { server, key, jojo } = waiting;
  // The first connection gets the first page, and acknowledges nothing.
  const first = await signIn(server, "sophia", key);
  await readPrivates(first, "jojo", PAGE);
  assert.equal((await jojo.client.msg("sophia", "meanwhile")).t, "ok");
  await first.request({ t: "ping" });
  assert.equal(privatesFrom(first, "jojo").length, PAGE, "held back");
  // She signs in again (the server has not noticed the first is gone).
  const second = await signIn(server, "sophia", key);
  await readPrivates(second, "jojo", PAGE);
  await ack(second, "jojo");
  await readPrivates(second, "jojo", total + 1);
  assert.deepEqual(privatesFrom(second, "jojo").map(({ text }) => text), [
    ...numbered(total),
    "meanwhile",
  ]);
  // The last page sent: live again.
  assert.equal((await jojo.client.msg("sophia", "now")).t, "ok");
  await readPrivates(second, "jojo", total + 2);
  const now = privatesFrom(second, "jojo").at(-1)!;
  assert.equal(now.text, "now");
  assert.equal(now.message.history, undefined);
  await first.close().catch(() => {});
  await second.close();
  await jojo.quit();
});

/** `n` padded to the largest text a message may hold (16,000 bytes). */
function padded(n: string): string {
  return n.padEnd(MAX_TEXT_BYTES, ".");
}

Deno.test("a sign-in's page holds at most 1 MiB of bodies: one address signing a name owed megabytes in again and again makes the server read little more than that each time, and the pages still bring every message once, in order", async () => {
  // 300 messages of 16,000 bytes (4.8 MB): before, each sign-in read them
  // all from the store and sealed them, read by the client or not.
  const total = 300;
  await using waiting = await waitingForSophia(total, padded);
  const { store, server, key, jojo } = waiting;
  let read = 0;
  const pendingFor = store.pendingFor.bind(store);
  store.pendingFor = (...args) => {
    const found = pendingFor(...args);
    for (const message of found) read += message.body.byteLength;
    return found;
  };
  // Whoever has sophia's key (a classmate's own account, say) signs
  // her in ten times and drops each connection; the page was routed with
  // the welcome, so it was read by the time the welcome came.
  for (let i = 0; i < 10; i++) {
    read = 0;
    const dropped = await signIn(server, "sophia", key);
    await dropped.close();
    assert.ok(
      read <= MAX_MISSED_BYTES + 32 * MAX_TEXT_BYTES,
      `sign-in ${i} read ${read} bytes of bodies from the store`,
    );
  }

  // An honest client: the first page is at most 1 MiB, the rest comes a
  // page per acknowledgement, every message once and in order.
  const sophia = await signIn(server, "sophia", key);
  await sophia.request({ t: "ping" });
  const page = privatesFrom(sophia, "jojo");
  const bytes = page.reduce((sum, { text }) => sum + text.length, 0);
  assert.ok(page.length > 0 && page.length < total, `${page.length} sent`);
  assert.ok(bytes <= MAX_MISSED_BYTES, `a page of ${bytes} bytes`);
  let pages = 1;
  while (privatesFrom(sophia, "jojo").length < total) {
    await ack(sophia, "jojo");
    await sophia.request({ t: "ping" });
    pages++;
    assert.ok(pages <= total, "the pages stopped coming");
  }
  const all = privatesFrom(sophia, "jojo");
  assert.deepEqual(all.map(({ text }) => text), numbered(total).map(padded));
  assert.equal(new Set(all.map(({ message }) => message.id)).size, total);
  assert.ok(all.every(({ message }) => message.history === true));
  await ack(sophia, "jojo");
  await sophia.request({ t: "ping" });
  assert.equal(store.pendingFor("sophia", 10).length, 0);
  await sophia.close();
  await jojo.quit();
});
