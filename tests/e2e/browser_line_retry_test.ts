/// <reference lib="dom" />
/**
 * Lines typed in a row on the web page reach the others in the order typed
 * when the server's rate limit refuses some of them (slow_down) and the
 * connection drops under them: a refused line goes again after the
 * server's wait, in its turn, and one cut off goes again on the next
 * connection (with its cid, stored once) before the lines typed after it,
 * as the terminal's do (src/client/unconfirmed_chat.ts). Before, the page
 * said the refused ones failed and went on with the next, and one cut off
 * was queued behind the lines typed later. Real Chromium against a real
 * `chat serve`, through a proxy that cuts the page off. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInThrough,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { decodeText } from "../../src/client/chat_client.ts";

Deno.test({
  name:
    "web client: lines refused with slow_down and cut off by a dropped connection reach the others once each, in the order typed",
  ...LEAK_CHECKS_OFF,
  async fn() {
    // Four messages a second per connection, in bursts of ten: the page's
    // lines typed at once outrun it, and the first connection's wait is
    // under way when it drops.
    await using chat = await startBrowserChat("--rate", "4", "--burst", "10");
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      let wake = () => {};
      sophia.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        heard.push(decodeText(body));
        wake();
      });
      const until = async (done: () => boolean, what: string) => {
        const deadline = Date.now() + WAIT_MS;
        while (!done()) {
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new Error(`${what} never came: ${JSON.stringify(heard)}`);
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, left);
          });
          clearTimeout(timer);
        }
      };
      const { page } = await signedInThrough(chat, proxy, "webby");
      const typed = Array.from({ length: 24 }, (_, i) => `line ${i + 1}`);
      await page.$eval("#line", (field, lines) => {
        const line = field as HTMLTextAreaElement;
        for (const text of lines) {
          line.value = text;
          line.dispatchEvent(
            new KeyboardEvent("keydown", { key: "Enter", bubbles: true }),
          );
        }
      }, typed);
      // Some went; the rest wait behind one refused, or are on the wire.
      await until(() => heard.length >= 4, "line 4");
      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await until(() => heard.includes(typed.at(-1)!), typed.at(-1)!);
      assert.deepEqual(heard, typed);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
