/// <reference lib="dom" />
/**
 * Leaving the web page (/quit) while a file it sends waits for its answer
 * asks first, as the terminal does (leave_questions.ts), and the second
 * /quit takes the offers back and leaves; a file whose offer the dropped
 * connection cut off is named in its error (it said "Not sent: the
 * connection ..." of no file in particular), and offered again once the
 * page is back (files_view.ts). Real Chromium against a real
 * `chat serve` and a real client that does not answer offers, the page
 * behind a proxy that cuts it off. Slow (a browser starts): in
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

Deno.test({
  name:
    "web client: /quit while a file waits for its answer asks first, and a file cut off by a dropped connection is named in its error",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    try {
      const { page } = await signedInThrough(chat, proxy, "webby");
      // Offers reach termy, who never answers them (a bare client).
      const termy = await chat.signedInClient("termy");
      const offered: string[] = [];
      const withdrawn: number[] = [];
      let wake = () => {};
      termy.onMessage(({ message }) => {
        if (message.t === "file_offer") offered.push(message.name);
        if (message.t === "file_cancel") withdrawn.push(message.xfer);
        wake();
      });
      const until = async (done: () => boolean) => {
        while (!done()) await new Promise<void>((r) => (wake = r));
      };
      await chat.keysOf("webby");
      await typeLine(page, "/query termy");
      await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
      await Deno.writeTextFile(`${chat.dir}/plans.txt`, "some plans\n");

      // Cut off while its offer waits for termy: the error names it, and
      // it is offered again once back.
      await upload(page, `${chat.dir}/notes.txt`);
      await until(() => offered.length === 1);
      proxy.cut();
      await waitForLine(page, /^ERROR: notes\.txt not sent: /);
      await waitForLine(
        page,
        /^notes\.txt will be offered again, resuming where it stopped$/,
      );
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await until(() => offered.length === 2);
      assert.deepEqual(offered, ["notes.txt", "notes.txt"]);

      // Asked once; the second /quit takes the offers back and leaves.
      await upload(page, `${chat.dir}/plans.txt`);
      await until(() => offered.length === 3);
      await typeLine(page, "/quit");
      await waitForLine(
        page,
        /^2 files are still being sent or waiting for an answer \(notes\.txt to termy, plans\.txt to termy\)\. Type \/quit again to stop them and leave$/,
      );
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      // The offer taken back: termy hears it ended.
      await until(() => withdrawn.length > 0);
      await page.close();
      await termy.quit();
    } finally {
      await proxy.close();
    }
  },
});
