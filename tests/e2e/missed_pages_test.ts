/**
 * The pages of what waited for a user at sign-in (docs/PROTOCOL.md 5.3, 5.9)
 * against a client whose acknowledgements cross the next page on the wire:
 * a real server and store, and a client speaking the protocol by hand so
 * that the test decides what it has shown and when each `ack` leaves.
 */

import assert from "node:assert/strict";
import { MAX_HISTORY } from "../../src/protocol/limits.ts";
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

Deno.test("a sign-in's next page is never acknowledged by an ack the client sent before it came: what was not shown waits for the next sign-in", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
    },
  });
  try {
    const key = await testIdentity();
    // sophia is known, and away while jojo writes her more than a page.
    await (await signIn(server, "sophia", key)).close();
    const jojo = await TestClient.connect(server, "jojo");
    const total = PAGE + 5;
    const replies = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => jojo.client.msg("sophia", `${i}`),
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");

    // She signs in: the first page comes.
    const first = await signIn(server, "sophia", key);
    await readPrivates(first, "jojo", PAGE);
    const page = privatesFrom(first, "jojo");
    assert.deepEqual(
      page.map(({ text }) => text),
      Array.from({ length: PAGE }, (_, i) => `${i}`),
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
    await first.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: lastOfPage }],
    });
    await first.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: newest }],
    });
    // Both taken by the server (what it sends meanwhile is not shown).
    await first.request({ t: "ping" });
    const seen = new Set(shown.map(({ text }) => text));
    await first.close();

    // At the next sign-in, everything she was not shown comes.
    const second = await signIn(server, "sophia", key);
    await second.request({ t: "ping" });
    for (const { text } of privatesFrom(second, "jojo")) seen.add(text);
    const missing = [
      ...Array.from({ length: total }, (_, i) => `${i}`),
      "live",
    ].filter((text) => !seen.has(text));
    assert.deepEqual(missing, [], "messages acknowledged but never shown");
    await second.close();
    await jojo.quit();
  } finally {
    store.close();
  }
});

Deno.test("a message sent to a user while the pages of what waited are still coming arrives in the next page, in order, and live ones come live again after the last", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
    },
  });
  try {
    const key = await testIdentity();
    await (await signIn(server, "sophia", key)).close();
    const jojo = await TestClient.connect(server, "jojo");
    const total = PAGE + 5;
    const replies = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => jojo.client.msg("sophia", `${i}`),
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");
    const sophia = await signIn(server, "sophia", key);
    await readPrivates(sophia, "jojo", PAGE);
    assert.equal((await jojo.client.msg("sophia", "meanwhile")).t, "ok");
    await sophia.request({ t: "ping" });
    assert.equal(privatesFrom(sophia, "jojo").length, PAGE, "not sent live");
    // The page acknowledged: the next comes, with the one sent meanwhile.
    const seqOf = () => privatesFrom(sophia, "jojo").at(-1)!.message.seq!;
    await sophia.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: seqOf() }],
    });
    await readPrivates(sophia, "jojo", total + 1);
    const all = privatesFrom(sophia, "jojo");
    assert.deepEqual(all.map(({ text }) => text), [
      ...Array.from({ length: total }, (_, i) => `${i}`),
      "meanwhile",
    ]);
    assert.ok(all.every(({ message }) => message.history === true));
    // The last page acknowledged, a new message comes live.
    await sophia.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: seqOf() }],
    });
    await sophia.request({ t: "ping" });
    assert.equal((await jojo.client.msg("sophia", "now")).t, "ok");
    await readPrivates(sophia, "jojo", total + 2);
    const now = privatesFrom(sophia, "jojo").at(-1)!;
    assert.equal(now.text, "now");
    assert.equal(now.message.history, undefined);
    assert.equal(store.pendingFor("sophia", 10).length, 1);
    await sophia.close();
    await jojo.quit();
  } finally {
    store.close();
  }
});

Deno.test("ChatClient asking for history while the pages of what waited come still acknowledges them: the pages go on, and live messages come", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
    },
  });
  try {
    const key = await testIdentity();
    await (await signIn(server, "sophia", key)).close();
    const jojo = await TestClient.connect(server, "jojo");
    // Three pages: the second ends with the ack ceiling set again.
    const total = 2 * PAGE + 5;
    const replies = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => jojo.client.msg("sophia", `${i}`),
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");

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
        10_000,
      );
    });
    try {
      await Promise.race([heard.promise, late]);
    } finally {
      clearTimeout(timer);
    }
    await sophia.quit();
    await jojo.quit();
  } finally {
    store.close();
  }
});

Deno.test("when the last page is a whole one (exactly two pages waited), sending it ends the paging: the next message comes live", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
    },
  });
  try {
    const key = await testIdentity();
    await (await signIn(server, "sophia", key)).close();
    const jojo = await TestClient.connect(server, "jojo");
    const total = 2 * PAGE;
    const replies = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => jojo.client.msg("sophia", `${i}`),
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");
    const sophia = await signIn(server, "sophia", key);
    await readPrivates(sophia, "jojo", PAGE);
    const seqOf = () => privatesFrom(sophia, "jojo").at(-1)!.message.seq!;
    await sophia.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: seqOf() }],
    });
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
  } finally {
    store.close();
  }
});

Deno.test("signing in again while the pages of what waited are coming starts them over on the new connection: nothing held back is lost", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      messagesPerSecondPerAddress: 100_000,
      messageBurstPerAddress: 100_000,
    },
  });
  try {
    const key = await testIdentity();
    await (await signIn(server, "sophia", key)).close();
    const jojo = await TestClient.connect(server, "jojo");
    const total = PAGE + 5;
    const replies = await Promise.all(
      Array.from(
        { length: total },
        (_, i) => jojo.client.msg("sophia", `${i}`),
      ),
    );
    for (const reply of replies) assert.equal(reply.t, "ok");
    // The first connection gets the first page, and acknowledges nothing.
    const first = await signIn(server, "sophia", key);
    await readPrivates(first, "jojo", PAGE);
    assert.equal((await jojo.client.msg("sophia", "meanwhile")).t, "ok");
    await first.request({ t: "ping" });
    assert.equal(privatesFrom(first, "jojo").length, PAGE, "held back");
    // She signs in again (the server has not noticed the first is gone).
    const second = await signIn(server, "sophia", key);
    await readPrivates(second, "jojo", PAGE);
    const seqOf = () => privatesFrom(second, "jojo").at(-1)!.message.seq!;
    await second.sendMessage({
      t: "ack",
      cursors: [{ to: "jojo", seq: seqOf() }],
    });
    await readPrivates(second, "jojo", total + 1);
    assert.deepEqual(privatesFrom(second, "jojo").map(({ text }) => text), [
      ...Array.from({ length: total }, (_, i) => `${i}`),
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
  } finally {
    store.close();
  }
});
