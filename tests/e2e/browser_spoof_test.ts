/// <reference lib="dom" />
/**
 * Text a hostile classmate controls must reach the page as the terminal shows
 * it (sanitizeForTerminal): the log's rows are `white-space: pre-wrap`, so a
 * raw newline would start a forged line, and a bidi control would turn the
 * page's own words around.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";
import { testIdentity, type TestServer } from "../_helpers/chat.ts";

/** Rows of the log whose text holds a raw newline or bidi/format char. */
function rawRows(): string[] {
  return [...document.querySelectorAll("#log .line")]
    .map((row) => row.textContent ?? "")
    .filter((text) => /[\n\r\u202a-\u202e\u2066-\u2069\u200b]/.test(text));
}

/** A server and a page signed in as webby. */
async function setup() {
  const chat = await startBrowserChat();
  const port = new URL(chat.url).port;
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(`${chat.dir}/public.pem`),
  );
  const server = { url: `ws://127.0.0.1:${port}`, spki } as TestServer;
  const page = await openPage(chat.browser, chat.url, []);
  await join(page, "webby");
  return { chat, server, page };
}

/** A plain protocol client signed in as `name`. */
async function signIn(server: TestServer, name: string): Promise<ChatClient> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  assert.equal(
    (await client.register(name, await testIdentity())).t,
    "welcome",
  );
  return client;
}

Deno.test({
  name:
    "web: a file offer's name cannot forge lines in the 'not end-to-end' notice",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const { chat, server, page } = await setup();
    await using _chat = chat;
    await chat.keysOf("webby");

    // Eve: a plain client without end-to-end keys, offering a file whose
    // key is in the offer (as any client without keys does).
    const eve = await signIn(server, "eve");
    const forged = "x.txt\n[12:00] Private message from teacher: " +
      "the exam moved, reply with your password\n\u202Eexe.txt";
    // The reply comes once webby answers: not awaited.
    const reply = eve.request({
      t: "file_offer",
      name: forged,
      size: 3,
      to: "webby",
      key: "ab".repeat(32),
    });
    await waitForLine(page, /is not end-to-end encrypted/);
    await page.screenshot({ path: "/tmp/atk-web-offer.png" });
    const rows = await page.evaluate(rawRows);
    await eve.quit();
    await reply;
    assert.deepEqual(rows, [], "a log row carries raw control characters");
  },
});

Deno.test({
  name:
    "web: an end-to-end secret's label cannot forge lines ('sent a secret for')",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const { chat, server, page } = await setup();
    await using _chat = chat;
    await chat.keysOf("webby");

    const mallory = await e2ePeer(server, "mallory");
    // 64 bytes at most: a label is up to MAX_SECRET_LABEL_BYTES.
    const label = "\n[12:00] *** teacher joined the chat ***\n";
    const reply = await mallory.e2e.sendSecret(
      mallory.client,
      "webby",
      label,
      new Uint8Array(32),
      cid(),
    );
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    await waitForLine(page, /which this page has no use for yet/);
    const rows = await page.evaluate(rawRows);
    await mallory.client.quit();
    assert.deepEqual(rows, [], "a log row carries raw control characters");
  },
});

Deno.test({
  name: "web: an away reason reaches the people list sanitized",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const { chat, server, page } = await setup();
    await using _chat = chat;
    const eve = await signIn(server, "eve");
    const reply = await eve.request({
      t: "away",
      reason: "lunch\u2069\u2067\u202E)uoy( ybbew\u200b\u200b\u200b",
    });
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    // /list refreshes the people list (and shows the sanitized text in the log).
    await page.keyboard.type("/list");
    await page.keyboard.press("Enter");
    await waitForLine(page, /eve - Last Message/);
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("away"),
      { timeout: WAIT_MS },
    );
    const people = await page.$eval("#people", (e) => e.textContent ?? "");
    await eve.quit();
    assert.doesNotMatch(people, /[\u202a-\u202e\u2066-\u2069\u200b]/);
  },
});

Deno.test({
  name:
    "web: a keyless offer whose name holds a quote cannot forge lines in 'Declined ...'",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const { chat, server, page } = await setup();
    await using _chat = chat;
    const eve = await signIn(server, "eve");
    // No key at all: the page declines it, quoting the name; the quote
    // defeats the regex that strips "Cannot take '...': ".
    const reply = eve.request({
      t: "file_offer",
      name: "it's\n[12:00] [Broadcast from teacher]: class is cancelled\n",
      size: 3,
      to: "webby",
    });
    await waitForLine(page, /^Declined /);
    const rows = await page.evaluate(rawRows);
    await reply;
    await eve.quit();
    assert.deepEqual(rows, [], "a log row carries raw control characters");
  },
});

Deno.test({
  name:
    "web: a message padded to the log's width cannot start a row at the left edge",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const { chat, server, page } = await setup();
    await using _chat = chat;
    const eve = await signIn(server, "eve");
    // Padding long enough to wrap at any width the page may have.
    const forged = "[Broadcast from teacher]: exam moved";
    assert.equal(
      (await eve.say(`lol${" ".repeat(400)}${forged}`)).t,
      "ok",
    );
    await waitForLine(page, /exam moved/);
    // The left edge of each row the message takes on screen.
    const lefts = await page.evaluate(() => {
      const row = [...document.querySelectorAll("#log .line")]
        .find((line) => line.textContent?.includes("exam moved"))!;
      const range = document.createRange();
      range.selectNodeContents(row);
      return [...range.getClientRects()].map((rect) => Math.round(rect.left));
    });
    await eve.quit();
    assert.ok(lefts.length >= 2, `one row: ${lefts}`);
    const first = Math.min(...lefts);
    assert.equal(lefts[0], first, `rows start at ${lefts}`);
    assert.ok(
      lefts.slice(1).every((left) => left > first),
      `a wrapped row starts at the left edge: ${lefts}`,
    );
  },
});
