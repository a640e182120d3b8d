/// <reference lib="dom" />
/**
 * The web page's places for files to one friend (sending_places.ts) all
 * come back when the second /quit stops the files: four offers taken back
 * and a fifth held. Connected again (same page, same places), the next
 * file to that friend is offered at once, not held behind four places
 * kept by files long stopped. Real Chromium against a real `chat serve`,
 * and a real client that answers offers only when told. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  photoSizes,
  sendPastPlaces,
  sendPhoto,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: the second /quit gives back the places of the files it stops, and once connected again the next file is offered at once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
      );
      await sendPastPlaces(page, chat.dir, "termy", offered, photoSizes(5));
      await typeLine(page, "/quit");
      await waitForLine(page, /^5 files are still being sent or waiting/);
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      await page.click("#connect-again");
      await waitForLine(page, /^Connected again as webby\.$/);
      await typeLine(page, "/query termy");
      await sendPhoto(page, chat.dir, 6);
      // With the stopped files' places kept: held behind them, never offered
      // ("photo6.jpg waits: 4 files to termy ...").
      await waitForLine(page, /^Offering photo6\.jpg/);
      await offered(5);
      assert.equal(offers.at(-1)!.size, 106);
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /photo6\.jpg waits/);
      assert.deepEqual(
        problems.filter((text) => !/WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      await termy.quit();
    }
  },
});
