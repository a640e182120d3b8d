/// <reference lib="dom" />
/**
 * A file the web page was offering when its connection dropped waits to be
 * offered again once the page is back; meanwhile /transfers lists it, /quit
 * names it in its question (and the second /quit stops it and leaves), and
 * /cancel stops it, as the terminal's (outgoing_files.ts). Before, it was in
 * no list, and /quit ended its wait unasked. Real Chromium against a real
 * `chat serve` behind a proxy that cuts the page off and keeps it off, and a
 * real client that never answers offers. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInThrough,
  startBrowserChat,
  typeLine,
  upload,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const WAITING =
  /^ {2}1\. sending notes\.txt to termy: waiting to offer it again, resuming where it stopped$/;

Deno.test({
  name:
    "web client: a file waiting to be offered again is listed by /transfers, named by /quit's question, and stopped by /cancel",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      let offers = 0;
      let wake = () => {};
      termy.onMessage(({ message }) => {
        if (message.t === "file_offer") offers++;
        wake();
      });
      const offered = async (count: number) => {
        while (offers < count) await new Promise<void>((r) => (wake = r));
      };
      await chat.keysOf("webby");
      await typeLine(page, "/query termy");
      await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
      await upload(page, `${chat.dir}/notes.txt`);
      await offered(1);
      proxy.cut();
      await waitForLine(
        page,
        /^notes\.txt will be offered again, resuming where it stopped$/,
      );
      // Before: "No file transfers."
      await typeLine(page, "/transfers");
      await waitForLine(page, WAITING);
      // /cancel stops it: /transfers lists nothing then, /quit asks nothing.
      await typeLine(page, "/cancel 1");
      await waitForLine(page, /^Cancelled sending notes\.txt\.$/);
      await typeLine(page, "/transfers");
      await waitForLine(page, /^No file transfers\.$/);

      // Again, left to wait: /quit names it, the second /quit leaves.
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await upload(page, `${chat.dir}/notes.txt`);
      await offered(2);
      proxy.cut();
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log .line")].filter((row) =>
            /will be offered again/.test(row.textContent ?? "")
          ).length === 2,
        { timeout: WAIT_MS },
      );
      await typeLine(page, "/quit");
      // Before: "Disconnected." at once.
      await waitForLine(
        page,
        /^A file is still being sent or waiting for an answer \(notes\.txt to termy\)\. Type \/quit again to stop it and leave$/,
      );
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      // Stopped as the question said, not said again as not offered.
      assert.equal(
        await page.$$eval(
          "#log .line",
          (rows) =>
            rows.filter((row) =>
              /was not offered again/.test(row.textContent ?? "")
            ).length,
        ),
        0,
      );
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
