/// <reference lib="dom" />
/**
 * A public line on the web page whose answer does not come within 10 s is
 * said pending as the terminal says it: it goes again by itself (with its
 * cid) if the connection drops, which the page's line queue does since it
 * is the terminal's (unconfirmed_chat.ts); and its answer, when it comes
 * after what came meanwhile, is marked late (lateNotice). Before, the page
 * said nothing of the resend, and showed the late answer unmarked. Real
 * Chromium against a real `chat serve` behind a proxy that holds the
 * server's answers, and a real client that hears the line. Slow (a browser
 * starts, and the wait is the product's 10 s): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInThrough,
  startBrowserChat,
  typeAnswerHeld,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { decodeText } from "../../src/client/chat_client.ts";
import { SEND_WAIT_MS } from "../../src/client/answer_within.ts";

Deno.test({
  name:
    "web client: a public line unanswered for 10 s is said pending and resent if cut off, and its answer is marked late",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      sophia.onMessage(({ message, body }) => {
        if (message.t === "public") heard.push(decodeText(body));
      });
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      // The server's answer to the line is held.
      await typeAnswerHeld(chat, proxy, page, "slow line");
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log .line")].some((row) =>
            row.textContent?.includes("still pending")
          ),
        { timeout: SEND_WAIT_MS + 10_000 },
      );
      await waitForLine(
        page,
        /The server has not answered your message to everyone within 10 seconds: it is still pending, and shown as sent when the answer comes \(it goes again by itself if the connection drops\); do not type it again$/,
      );
      proxy.release();
      await waitForLine(
        page,
        /Late answer to your message to everyone, said pending above \(what came after it may be shown before it\):$/,
      );
      assert.deepEqual(heard, ["slow line"]);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
