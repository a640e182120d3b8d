/// <reference lib="dom" />
/**
 * The web page's /quit while a file it sends is between its key and its
 * offer (its key gone end to end, the server's answer not in yet): the
 * first /quit names it, and the second stops it there, as the terminal's
 * (767d3fe): nothing is said of it after, and it is never offered. Real
 * Chromium against a real `chat serve`, the page behind a proxy that holds
 * what the server sends it from the file on, termy a real `chat connect`
 * with end-to-end keys. Slow (a browser starts): in `deno task test:slow`.
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
import { HoldingProxy } from "../_helpers/holding_proxy.ts";

Deno.test({
  name:
    "web client: the second /quit stops a file between its key and its offer",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    try {
      const termy = await chat.terminal("termy");
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      await chat.keysOf("webby");
      await chat.keysOf("termy");
      await typeLine(page, "/query termy");
      // termy's keys fetched, so the file's key is one end-to-end message
      // whose answer the server sends back.
      await typeLine(page, "hello");
      await termy.waitFor(/hello/);
      await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
      // What the server answers from now on is held: the file's key goes,
      // and its answer (so its offer) does not come.
      proxy.holdAt(proxy.downBytes);
      await upload(page, `${chat.dir}/notes.txt`);
      await proxy.holding();
      await typeLine(page, "/quit");
      await waitForLine(page, /\(notes\.txt to termy\)/);
      await typeLine(page, "/quit");
      await waitForLine(page, /^Disconnected\.$/);
      // Back on a new connection: what the old one's end brought is said
      // by then. Before, "ERROR: notes.txt not sent: disconnected." came
      // after "Disconnected.": the file had gone on.
      proxy.release();
      await page.click("#connect-again");
      await waitForLine(page, /^Connected again as webby\.$/);
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /notes\.txt not sent/);
      assert.doesNotMatch(termy.stdout, /notes\.txt/);
      assert.deepEqual(
        problems.filter((text) => !/ERR_CONNECTION|WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});
