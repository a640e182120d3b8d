/// <reference lib="dom" />
/**
 * The web page's held file given its place waits for the offer of the one
 * given its place before it (to that friend) to be passed on (files reach
 * the wire in the order sent, FilesWaiting.offerTurn). While it waits, it is
 * listed still, as the terminal's: /transfers shows it under its number,
 * /quit counts it, /cancel of its number stops it. Before, it was in no list
 * for as long as the earlier offer took. Real Chromium against a real
 * `chat serve`, the page behind a proxy that holds what the server sends it
 * once two of its four offers are taken back (so photo5's offer is never
 * passed on), and a real client that answers nothing. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  photoSizes,
  sendPastPlaces,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";

Deno.test({
  name:
    "web client: a held file waiting for the earlier one's offer is listed by /transfers, counted by /quit and stopped by /cancel",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
        proxy,
      );
      await sendPastPlaces(page, chat.dir, "termy", offered, photoSizes(6));
      // Numbered: photo1..4 offered are 1..4, photo5 and photo6 5 and 6.
      await typeLine(page, "/transfers");
      await waitForLine(page, /6\. sending photo6\.jpg to termy: waiting/);
      // From now on nothing the server sends reaches the page: photo5's
      // offer is never passed on, and photo6 waits for it.
      proxy.holdAt(proxy.downBytes);
      await typeLine(page, "/cancel 1");
      await waitForLine(page, /^Took back the offer of photo1\.jpg\.$/);
      await typeLine(page, "/cancel 2");
      await waitForLine(page, /^Took back the offer of photo2\.jpg\.$/);
      await proxy.holding();
      await typeLine(page, "/transfers");
      // Listed under its number as a held file waiting for photo5's offer
      // (it has its place). Before, it was in no list; then it said it
      // waited for one of the 4 under way to end (as in the first list).
      await waitForLine(page, /5\. offered photo5\.jpg/);
      await page.waitForFunction(() =>
        [...document.querySelectorAll("#log .line")].filter((row) =>
          /6\. sending photo6\.jpg to termy: waiting to offer it, once the file sent before it to them is offered/
            .test(row.textContent ?? "")
        ).length === 1
      ).catch(async (error) => {
        const log = await page.$eval("#log", (e) => e.textContent);
        throw new Error(`photo6 not listed again:\n${log}`, { cause: error });
      });
      await typeLine(page, "/quit");
      // photo3, photo4, photo5 and photo6. Before, 3: photo6 left out.
      await waitForLine(page, /^4 files are still being sent/);
      await typeLine(page, "/cancel 6");
      await waitForLine(page, /^Cancelled sending photo6\.jpg\.$/);
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /Transfer 6 \(photo6\.jpg\) has already ended/);
      // The rest were named already: this /quit stops them and leaves.
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      proxy.release();
      assert.equal(offers.some((o) => o.size === 106), false);
      assert.deepEqual(
        problems.filter((text) => !/ERR_CONNECTION|WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
      await termy.quit();
    }
  },
});
