/// <reference lib="dom" />
/**
 * Files sent from the web page while its connection is down (it is
 * reconnecting): each is said plainly to wait for the connection, and they
 * are offered once the page is back, in the order sent. Before, each was
 * dropped with "ERROR: Not connected" while the lines typed meanwhile were
 * queued and sent once back. Real Chromium against a real `chat serve`
 * behind a proxy that cuts the page off, and a real client that is
 * offered them. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  offersTo,
  signedInThrough,
  startBrowserChat,
  typeLine,
  upload,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test({
  name:
    "web client: files sent while the page reconnects wait for the connection, said so, and are offered once back in the order sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      const { offers, offered } = offersTo(termy);
      await chat.keysOf("webby");
      await typeLine(page, "/query termy");
      proxy.cut();
      await page.waitForFunction(
        () => document.body.classList.contains("disconnected"),
        { timeout: WAIT_MS },
      );
      for (let i = 1; i <= 3; i++) {
        // Told apart by their sizes (their names go end to end).
        const path = `${chat.dir}/note${i}.txt`;
        await Deno.writeFile(path, new Uint8Array(100 + i));
        await upload(page, path);
        await waitForLine(
          page,
          new RegExp(
            `^note${i}\\.txt waits for the connection: it is offered once reconnected \\(/transfers lists it, /cancel stops it\\)$`,
          ),
        );
      }
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await offered(3);
      assert.deepEqual(offers.map((o) => o.size), [101, 102, 103]);
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /Not connected/);
      assert.doesNotMatch(log, /will be offered again/);
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
