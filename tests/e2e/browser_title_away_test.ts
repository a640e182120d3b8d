/// <reference lib="dom" />
/**
 * The tab's title counts the private messages that came while the page
 * was away, once it is back, as it counts those that come live: the server
 * sends them after the sign-in marked as history, and the page counted only
 * live ones, so a tab in the background that reconnected said nothing of
 * them. Real Chromium against a real `chat serve` and `chat connect`, the
 * page behind a proxy that cuts it off. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import {
  LEAK_CHECKS_OFF,
  signedInThrough,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test({
  name:
    "web client: private messages that came while a background tab was away count in its title once it is back",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    try {
      const { page } = await signedInThrough(chat, proxy, "webby");
      const termy = await chat.terminal("termy");
      await chat.keysOf("webby");
      // Another tab in front: webby's is in the background.
      const other = await chat.browser.newPage();
      await other.bringToFront();
      // Polled: a tab in the background has no animation frames.
      const until = (check: () => boolean) =>
        page.waitForFunction(check, { timeout: WAIT_MS, polling: 100 });
      await until(() => document.hidden);
      const logSays = (text: string) =>
        page.waitForFunction(
          (text: string) =>
            [...document.querySelectorAll("#log .line")].some((row) =>
              row.textContent?.includes(text)
            ),
          { timeout: WAIT_MS, polling: 100 },
          text,
        );

      proxy.cut();
      await logSays("The connection to the server was lost.");
      await termy.write("/msg webby while you were out\n");
      await termy.waitFor(/Private message to webby: while you were out/);
      await termy.write("/msg webby and again\n");
      await termy.waitFor(/Private message to webby: and again/);
      proxy.down = false;
      await logSays("Reconnected as webby.");
      await logSays("and again");
      await until(() => document.title === "(2) chat").catch(async () => {
        throw new Error(
          `The title says ${
            JSON.stringify(await page.title())
          }, not "(2) chat"`,
        );
      });
      await other.close();
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});
