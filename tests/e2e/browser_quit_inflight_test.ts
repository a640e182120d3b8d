/// <reference lib="dom" />
/**
 * /quit on the web page while a line it sent is on its way (no answer yet,
 * not yet said pending) asks first, as for a pending one: leaving cut it
 * off and said `ERROR: Not sent: disconnected.` when the server had stored
 * it and the others had read it, so that typed again it came twice. Once
 * its answer comes, /quit leaves. Real Chromium against a real `chat serve`
 * behind a proxy that holds the server's answer to the line, and a real
 * client that hears it. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { lineOnItsWay } from "../_helpers/line_on_its_way.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test({
  name:
    "web client: /quit while a line is on its way asks first, and does not say it was not sent when the others read it",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page, problems } = await lineOnItsWay(chat, proxy, sophia);
      await typeLine(page, "/quit");
      // Asked, or (before) left with the line said not sent.
      const outcome = await page.waitForFunction(
        () => {
          const rows = [...document.querySelectorAll("#log .line")].map((
            row,
          ) => row.textContent ?? "");
          if (
            rows.some((text) =>
              text.startsWith(
                "1 line you sent has no answer from the server yet: if you leave now, it may or may not be delivered",
              )
            )
          ) return "asked";
          if (rows.some((text) => text.startsWith("ERROR: Not sent"))) {
            return "not sent";
          }
          return false;
        },
        { timeout: WAIT_MS },
      );
      assert.equal(await outcome.jsonValue(), "asked");
      // Its answer comes: shown sent, and /quit leaves without a question.
      proxy.release();
      await waitForLine(page, /line on its way$/);
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      const said = await page.$eval("#log", (log) => log.textContent ?? "");
      assert.doesNotMatch(said, /Not sent/);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: /quit twice while a line is on its way leaves saying it may or may not be delivered, not that it was not sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page, problems } = await lineOnItsWay(chat, proxy, sophia);
      await typeLine(page, "/quit");
      await waitForLine(
        page,
        /^1 line you sent has no answer from the server yet/,
      );
      // Left anyway, the answer still held: the others read the line, so
      // "Not sent" would have it typed again, a second message.
      await typeLine(page, "/quit");
      await waitForLine(
        page,
        /^1 line you sent had no answer from the server when you left: it may or may not be delivered/,
      );
      await waitForLine(page, /^Disconnected\.$/);
      const said = await page.$eval("#log", (log) => log.textContent ?? "");
      assert.doesNotMatch(said, /Not sent/);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
