/// <reference lib="dom" />
/**
 * The web page reconnecting when its sign-in is turned away for its
 * address's sign-in rate (PROTOCOL 5.8): it waits and tries again, as the
 * terminal does, rather than stopping for good ("Could not reconnect: ERROR:
 * Too many sign-ins...", its queued lines refused), as when a class behind
 * one address comes back at once. Real Chromium, a real server in this
 * process (its own machine held to the address limits, as a LAN address is),
 * the page behind a proxy that cuts its connection (a dropped Wi-Fi). Slow
 * (a browser starts, and a sign-in token comes back in 15 s): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  openPage,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** How many rows of the page's log read exactly `text`. */
function rowsReading(page: Page, text: string): Promise<number> {
  return page.$$eval(
    "#log .line",
    (all, text) => all.filter((row) => row.textContent === text).length,
    text,
  );
}

/** Waits until `count` rows of the page's log read exactly `text`. */
async function waitForRows(
  page: Page,
  text: string,
  count: number,
  timeout: number,
): Promise<void> {
  await page.waitForFunction(
    (text: string, count: number) =>
      [...document.querySelectorAll("#log .line")].filter((row) =>
        row.textContent === text
      ).length === count,
    { timeout },
    text,
    count,
  ).catch(async (error) => {
    const status = await page.$eval("#status", (e) => e.textContent);
    throw new Error(
      `${await rowsReading(
        page,
        text,
      )} rows read '${text}', not ${count}; the status says '${status}'`,
      { cause: error },
    );
  });
}

Deno.test({
  name:
    "web client: a reconnection refused for its address's sign-in rate waits and tries again, and sends what was typed meanwhile",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer({
      connectionLimits: {
        // One sign-in, then one every 15 s.
        signInsPerMinutePerAddress: 4,
        signInBurstPerAddress: 1,
        limitNewNamesFromLoopback: true,
      },
    });
    const proxy = new HoldingProxy(server.port);
    const browser = await launchBrowser();
    try {
      const problems: string[] = [];
      const page = await openPage(
        browser,
        `http://127.0.0.1:${proxy.port}/`,
        problems,
      );
      // The address's one sign-in.
      await join(page, "webby");
      // The Wi-Fi drops a moment later: no sign-in left, and a session this
      // short owes no comeback (one of half a minute would: comebacks.ts),
      // so the server answers the sign-in `limit`.
      proxy.cutAll();
      await page.waitForFunction(
        () =>
          document.getElementById("status")?.textContent?.includes(
            "the server lets sign-ins from your address in a few at a time",
          ),
        { timeout: WAIT_MS },
      ).catch(async (error) => {
        const status = await page.$eval("#status", (e) => e.textContent);
        throw new Error(`The status says '${status}'`, { cause: error });
      });
      await page.focus("#line");
      await typeLine(page, "typed while held back");
      await waitForLine(page, /^\(queued\) typed while held back$/);
      // Back once the address has a sign-in again, the line sent.
      await waitForRows(page, "Reconnected as webby.", 1, 45_000);
      await waitForLine(page, /Broadcast message sent: typed while held back$/);
      assert.equal(
        await rowsReading(page, "ERROR: Not sent: typed while held back"),
        0,
      );
      assert.deepEqual(
        problems.filter((p) => !/WebSocket/.test(p)),
        [],
      );
    } finally {
      await browser.close();
      await proxy.close();
    }
  },
});
