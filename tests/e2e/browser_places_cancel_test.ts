/// <reference lib="dom" />
/**
 * The web page's places for files to one friend (sending_places.ts) come
 * back once each, whichever way a file ends: a held file stopped by
 * /cancel takes none, an offer taken back by /cancel gives its place to
 * the next held file, a declined one gives one back; then exactly 4 are
 * under way again (a place kept would hold the next file; one given back
 * twice would let a 5th go). Real Chromium against a real `chat serve`,
 * and a real client that answers offers only when told. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  photoHeld,
  photoSizes,
  sendPastPlaces,
  sendPhoto,
  startBrowserChat,
  transferNumber,
  typeLine,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a held file /cancel stops, an offer /cancel takes back and one declined each give their place back once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
      );
      await sendPastPlaces(page, chat.dir, "termy", offered, photoSizes(6));
      // photo5 stopped while it waits: it takes no place.
      const five = await transferNumber(
        page,
        /^ {2}\d+\. sending photo5\.jpg to termy: waiting to offer it, after/,
      );
      await typeLine(page, `/cancel ${five}`);
      await waitForLine(page, /^Cancelled sending photo5\.jpg\.$/);
      // photo1's offer taken back: photo6 takes its place.
      const one = await transferNumber(
        page,
        /^ {2}\d+\. offered photo1\.jpg to termy/,
      );
      await typeLine(page, `/cancel ${one}`);
      await waitForLine(page, /^Took back the offer of photo1\.jpg\.$/);
      await offered(5);
      assert.equal(offers[4]!.size, 106);
      // photo2 declined: one place free, and one only.
      termy.post({ t: "file_decline", xfer: offers[1]!.xfer });
      await sendPhoto(page, chat.dir, 7);
      await offered(6);
      assert.equal(offers[5]!.size, 107);
      await sendPhoto(page, chat.dir, 8);
      await photoHeld(page, 8, "termy");
      assert.equal(offers.length, 6);
      await typeLine(page, "/quit");
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      assert.deepEqual(
        problems.filter((text) => !/ERR_CONNECTION|WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      await termy.quit();
    }
  },
});
