/// <reference lib="dom" />
/**
 * Lines typed on the web page while it is cut off wait for the next
 * connection; leaving drops them. /quit asks about them first, as about
 * lines on their way (leave_questions.ts), and asks again once another was
 * typed after its question; closing the tab asks too. Before, /quit left at
 * once and said "Not sent" only after, and the tab closed without a word.
 * Real Chromium against a real `chat serve` behind a proxy that cuts the
 * page off and keeps it off. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  closeTab,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInThrough,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

/** How many rows of the page's log match `pattern`. */
function rows(page: Page, pattern: RegExp): Promise<number> {
  return page.$$eval(
    "#log .line",
    (all, source, flags) =>
      all.filter((row) => new RegExp(source, flags).test(row.textContent ?? ""))
        .length,
    pattern.source,
    pattern.flags,
  );
}

Deno.test({
  name:
    "web client: /quit while cut off asks about the lines typed meanwhile, again once another is typed, then leaves",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    try {
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await typeLine(page, "typed while away");
      await typeLine(page, "/quit");
      // Before: "ERROR: Not sent: typed while away" and "Disconnected.".
      await waitForLine(
        page,
        /^1 line you typed while disconnected has not gone out yet, waiting for the connection: if you leave now, it is not sent\. Type \/quit again to leave anyway$/,
      );
      // A line typed after the question: the next /quit asks again.
      await typeLine(page, "typed after the question");
      await typeLine(page, "/quit");
      await waitForLine(
        page,
        /^2 lines you typed while disconnected have not gone out yet, waiting for the connection: if you leave now, they are not sent\. Type \/quit again to leave anyway$/,
      );
      // Each /quit is run as typed, in order: none left yet.
      assert.equal(await rows(page, /^Disconnected\.$/), 0);
      assert.equal(await rows(page, /^ERROR: Not sent: /), 0);
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      await waitForLine(page, /^ERROR: Not sent: typed while away$/);
      await waitForLine(page, /^ERROR: Not sent: typed after the question$/);
      await page.waitForSelector("#again:not([hidden])", { timeout: WAIT_MS });
      assert.deepEqual(
        problems.filter((text) => !text.includes("WebSocket connection")),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: closing the tab while a line typed cut off waits for the connection asks first",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    try {
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await typeLine(page, "typed while away");
      await waitForLine(page, /typed while away/);
      // Before: closed at once, the line dropped without a word.
      assert.equal(await closeTab(page), "asked");
      assert.equal(page.isClosed(), false);
      assert.deepEqual(
        problems.filter((text) => !text.includes("WebSocket connection")),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});
