/// <reference lib="dom" />
/**
 * Six photos sent from the web page to one friend, four under way and two
 * held (sending_places.ts), when the page's connection drops: once it is
 * back, the four go again first, in the order sent, and the held ones after
 * them in the order sent (resume_order.ts), each once one of the four ends.
 * Before, they went again in the order their waits began, and the 6th
 * could go before the 5th; then the four in the order their ends were
 * heard (photo2 before photo1 in 1 run of 3). Real Chromium against a
 * real `chat serve` behind a proxy that cuts the page off, and a real
 * client that answers offers only when told.
 * Slow (a browser starts): in `deno task test:slow`.
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
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test({
  name:
    "web client: after the page's connection drops, the 4 files under way go again first and the 2 held after them, in the order sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offers, offered } = await webbyToTermy(
        chat,
        termy,
        proxy,
      );
      // Told apart by their sizes (their names go end to end).
      await sendPastPlaces(page, chat.dir, "termy", offered, photoSizes(6));
      proxy.cut();
      // The four under way end; the held two, never offered, wait for the
      // next connection without a word.
      for (let i = 1; i <= 4; i++) {
        await waitForLine(
          page,
          new RegExp(
            `^photo${i}\\.jpg will be offered again, resuming where it stopped$`,
          ),
        );
      }
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await offered(8);
      // In the order sent, not the order their ends were heard in.
      assert.deepEqual(
        offers.slice(4).map((o) => o.size),
        [101, 102, 103, 104],
      );
      // One of the four declined: the 5th goes, then the 6th.
      termy.post({ t: "file_decline", xfer: offers[4]!.xfer });
      await offered(9);
      termy.post({ t: "file_decline", xfer: offers[5]!.xfer });
      await offered(10);
      assert.deepEqual(offers.slice(8).map((o) => o.size), [105, 106]);
      // Before, the places the cut freed went to the held two at once, which
      // were offered on the dead connection: an ERROR each, and "will be
      // offered again, resuming where it stopped" of files never offered.
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /photo[56]\.jpg will be offered again/);
      assert.equal(log.match(/not sent: the connection/g)?.length, 4, log);
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
      await proxy.close();
    }
  },
});
