/// <reference lib="dom" />
/**
 * /quit typed on the web page while it is cut off and trying to reconnect
 * (twice: the first asks about the line typed while away) leaves: the page stops trying, says what it typed while away is not sent,
 * and offers Connect again, as after a /quit while connected. Before, the
 * loop went on and signed in again once the server could be reached: what
 * was typed while away (and lines cut off) went out after /quit, and the
 * page stayed signed in. Real Chromium against a real `chat serve` behind a
 * proxy that cuts the page off, and a real client that would hear the line.
 * Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInThrough,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { decodeText } from "../../src/client/chat_client.ts";

Deno.test({
  name:
    "web client: /quit while reconnecting stops reconnecting, and what was typed while away is said not sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      const back = Promise.withResolvers<void>();
      sophia.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        heard.push(decodeText(body));
        if (heard.includes("back")) back.resolve();
      });
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await typeLine(page, "typed while away");
      await typeLine(page, "/quit");
      // Asked first (browser_quit_queued_test); the second /quit leaves.
      await waitForLine(page, /^1 line you typed while disconnected /);
      await typeLine(page, "/quit");
      // Before: nothing said, and the loop went on trying.
      await waitForLine(page, /^ERROR: Not sent: typed while away$/);
      await waitForLine(page, /^Disconnected\.$/);
      await page.waitForSelector("#again:not([hidden])", { timeout: WAIT_MS });
      // The server reachable again: nothing signs in by itself, and a line
      // typed now is refused, as after a /quit while connected.
      proxy.down = false;
      await typeLine(page, "typed after quit");
      await waitForLine(page, /^ERROR: Not connected\. Click Connect again/);
      // sophia hears the next line webby sends once connected again, and
      // only that: nothing typed before went out meanwhile.
      await page.click("#connect-again");
      await waitForLine(page, /^Connected again as webby\.$/);
      await typeLine(page, "back");
      await waitForLine(page, /back$/);
      await back.promise;
      assert.deepEqual(heard, ["back"]);
      // The tries while the proxy refused are the browser's own errors.
      assert.deepEqual(
        problems.filter((text) => !text.includes("WebSocket connection")),
        [],
      );
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
