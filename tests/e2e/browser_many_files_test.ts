/// <reference lib="dom" />
/**
 * Six photos dropped on the web page for one friend: the friend's client
 * takes 4 files from one sender at once (receiving_share.ts), so the page
 * holds the 5th and 6th (sending_places.ts), says so, lists them in
 * /transfers, names them when /quit asks, and offers the 5th once one of
 * the first 4 ends, under the number it was listed under while it waited
 * (which /cancel takes). Before, both were refused by the friend's client. Real
 * Chromium against a real `chat serve`, and a real client that answers
 * offers only when told. Slow (a browser starts): in `deno task test:slow`.
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

Deno.test({
  name:
    "web client: the 5th and 6th files sent to one friend at once wait on the page, listed and named by /quit, and the 5th is offered once one of the first 4 ends",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
      );
      // The 5th and 6th held. Before: offered, and refused by termy's client.
      await sendPastPlaces(page, chat.dir, "termy", offered, photoSizes(6));
      await typeLine(page, "/transfers");
      await waitForLine(
        page,
        /^ {2}\d+\. sending photo6\.jpg to termy: waiting to offer it, after one of the 4 under way to them ends$/,
      );
      assert.equal(offers.length, 4);
      const listedAs = (name: string) =>
        page.$$eval("#log .line", (rows, name) => {
          for (const row of rows) {
            const match = (row.textContent ?? "").match(
              new RegExp(`^ {2}(\\d+)\\. sending ${name}: waiting to offer`),
            );
            if (match) return Number(match[1]);
          }
          return null;
        }, name);
      const five = await listedAs("photo5\\.jpg to termy");
      const six = await listedAs("photo6\\.jpg to termy");
      assert.ok(five !== null && six !== null);
      await typeLine(page, "/quit");
      // The 2 waiting counted with the 4 offered.
      await waitForLine(
        page,
        /^6 files are still being sent or waiting for an answer \(photo1\.jpg to termy, /,
      );
      // One of the first 4 declined: the 5th is offered, not the 6th.
      termy.post({ t: "file_decline", xfer: offers[0]!.xfer });
      await offered(5);
      assert.equal(offers.length, 5);
      assert.equal(offers[4]!.size, 105);
      // /cancel of the number photo5 was listed under while it waited, with
      // no listing since, takes back its offer. Before: "ERROR: Transfer 5
      // (photo5.jpg) has already ended", and it was listed under another.
      await typeLine(page, `/cancel ${five}`);
      await waitForLine(page, /^Took back the offer of photo5\.jpg\.$/);
      // Its place goes to photo6, listed under the number it waited under.
      await offered(6);
      assert.equal(offers[5]!.size, 106);
      await typeLine(page, "/transfers");
      await waitForLine(
        page,
        new RegExp(
          `^ {2}${six}\\. offered photo6\\.jpg to termy: waiting for an answer$`,
        ),
      );
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
