/**
 * The web page says why nothing moves while its line waits for NATS
 * (docs/PROTOCOL.md 5.9, "Behind a line the cluster has not stored"): a
 * real `nats-server -js` (crashed once the page is in), a real
 * `chat serve --cluster` node, the page in headless Chromium. The node
 * sends `alive` every 10 s of the wait; the page shows once, at the first,
 * that it waits for the cluster, and the line goes once NATS is back.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  waitForLine,
} from "../_helpers/browser.ts";
import { natsServerPath, startNats } from "../_helpers/nats.ts";

const NATS = await natsServerPath();

const NOTICE = "Waiting for the cluster to store your message";

Deno.test({
  name:
    "web client: a line waiting for NATS is said waiting for the cluster, once, and goes once NATS is back",
  ignore: NATS === null,
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using nats = await startNats(NATS!);
    await using chat = await startBrowserChat("--cluster", nats.url);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const scripty = await chat.signedInClient("scripty");
    try {
      const heard = Promise.withResolvers<string>();
      scripty.onMessage(({ message, body }) => {
        if (message.t === "public") {
          heard.resolve(new TextDecoder().decode(body));
        }
      });
      await nats.crash();
      await page.focus("#line");
      await page.keyboard.type("while away");
      await page.keyboard.press("Enter");
      await waitForLine(page, new RegExp(NOTICE));
      await nats.restart();
      assert.equal(await heard.promise, "while away");
      const shown = await page.$$eval(
        "#log .line",
        (rows, text) =>
          rows.filter((row) => (row.textContent ?? "").includes(text)).length,
        NOTICE,
      );
      assert.equal(shown, 1);
      assert.deepEqual(problems, []);
    } finally {
      await scripty.quit();
    }
  },
});
