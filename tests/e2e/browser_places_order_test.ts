/// <reference lib="dom" />
/**
 * The web page's held files freed at the same moment reach the wire in the
 * order sent, as the terminal's (outgoing_files.ts): each held file's offer
 * goes once the one given its place before it (to that friend) is passed on
 * by the server or ends. Before, each went as soon as it had read its file
 * and sent its key: a large 5th, freed with a small 6th, was offered after
 * it. Real Chromium against a real `chat serve`, and a real client that
 * answers offers only when told. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  sendPastPlaces,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";

/** photo5's size: its reading and digest take the page a while. */
const LARGE = 48 * 1024 * 1024;

Deno.test({
  name:
    "web client: held files freed at the same moment are offered in the order sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
      );
      const sizes = [101, 102, 103, 104, LARGE, 106];
      await sendPastPlaces(page, chat.dir, "termy", offered, sizes);
      // Two declines heard one after the other free both places: photo5
      // first, then photo6, which is ready long before photo5 is.
      termy.post({ t: "file_decline", xfer: offers[0]!.xfer });
      termy.post({ t: "file_decline", xfer: offers[1]!.xfer });
      await offered(6);
      // Before: 106 (photo6) first, then photo5.
      assert.deepEqual(offers.slice(4).map((o) => o.size), [LARGE, 106]);
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
