/// <reference lib="dom" />
/**
 * What `/trust` sends on the web page (the private messages held while a
 * key change was not accepted) follows the page's line queue, as the
 * terminal's does (session_commands.ts, `chats.follow`): cut off by a
 * dropped connection before its answer, it goes again with its cid once the
 * page is back, and is stored once. Before, the page said it not sent and
 * nothing sent it again. Real Chromium against a real `chat serve` behind a
 * proxy that holds the server's answers and then cuts the connection, and a
 * real `chat connect` whose name went to a new key. Slow (a browser starts,
 * the server restarts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  type BrowserChat,
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ChatProcess } from "../_helpers/process.ts";

/**
 * webby at a page behind `proxy`, with a private message to termy held
 * because termy's name went to a new key (released by the host), and the
 * real `chat connect` now holding that name.
 */
async function heldForTrust(chat: BrowserChat, proxy: HoldingProxy) {
  const problems: string[] = [];
  const page = await openPage(
    chat.browser,
    `http://127.0.0.1:${proxy.port}/`,
    problems,
  );
  await join(page, "webby");
  const termy = await chat.terminal("termy");
  await chat.keysOf("webby");
  const termyKey = await chat.keysOf("termy");
  // The page learns termy's identity key.
  await typeLine(page, "/msg termy before");
  await termy.waitFor(/Private message from webby: before/);
  await termy.write("/quit\n");
  await termy.finish();

  await chat.stop();
  const release = new ChatProcess([
    "admin",
    "release",
    "termy",
    "--data",
    `${chat.dir}/chat-data`,
  ]);
  assert.equal((await release.finish()).code, 0, release.stderr);
  await chat.start();
  await waitForLine(page, /Reconnected as webby\.$/);
  const newTermy = await chat.terminalIn(
    await Deno.makeTempDir({ dir: chat.dir, prefix: "config-" }),
    "termy",
  );
  await chat.keysOf("termy", termyKey);
  await typeLine(page, "/msg termy held line");
  await waitForLine(page, /Not sent yet: termy's identity key has changed/);
  return { page, problems, newTermy };
}

/**
 * Once the page is back: the held line shown sent, termy got it once (a
 * line typed after it arrives, and the held one only once), and the page
 * said nothing was not sent.
 */
async function deliveredOnce(
  page: Page,
  newTermy: ChatProcess,
  problems: string[],
): Promise<void> {
  await waitForLine(
    page,
    /termy's new identity key .* is accepted; 1 held message\(s\) sent/,
  );
  await newTermy.waitFor(/Private message from webby: held line/);
  await waitForLine(page, /Private message to termy: held line$/);
  await typeLine(page, "/msg termy after");
  await newTermy.waitFor(/Private message from webby: after/);
  assert.equal(
    newTermy.stdout.split("Private message from webby: held line").length - 1,
    1,
  );
  assert.equal(
    await page.$eval(
      "#log",
      (log) =>
        [...log.querySelectorAll(".line")].filter((row) =>
          row.textContent?.includes("Not sent:")
        ).length,
    ),
    0,
  );
  assert.deepEqual(
    problems.filter((p) => !/ERR_CONNECTION|WebSocket/.test(p)),
    [],
  );
  await page.close();
}

Deno.test({
  name:
    "web client: a message /trust sends, cut off by a dropped connection before it went, goes once back",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    try {
      const { page, problems, newTermy } = await heldForTrust(chat, proxy);
      // Every answer from /trust on is held (the first, that of termy's
      // keys, which the line waits for), and the connection is cut.
      proxy.holdAfterUp(proxy.upBytes + 1);
      await typeLine(page, "/trust termy");
      await proxy.holding();
      proxy.cutAll();
      await deliveredOnce(page, newTermy, problems);
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: a message /trust sent whose answer a dropped connection cut off goes again once back and is stored once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    try {
      const { page, problems, newTermy } = await heldForTrust(chat, proxy);
      // termy's keys are fetched first (an 80-byte request); the sealed
      // line (over 400 bytes) goes up, and its answer is held: termy has
      // it, the page has not heard so when the connection is cut.
      proxy.holdAfterUp(proxy.upBytes + 200);
      await typeLine(page, "/trust termy");
      await newTermy.waitFor(/Private message from webby: held line/);
      await proxy.holding();
      proxy.cutAll();
      await deliveredOnce(page, newTermy, problems);
    } finally {
      await proxy.close();
    }
  },
});
