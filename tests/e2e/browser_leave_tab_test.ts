/// <reference lib="dom" />
/**
 * Closing (or reloading) the tab while a line is on its way asks first, as
 * /quit does: it closed at once, the line cut off with no word, when the
 * server may have stored it (and the others read it). Once its answer
 * came, nothing is on its way, and the tab closes without a question.
 * Real Chromium (its `beforeunload` dialog, as CDP reports it) against a
 * real `chat serve` behind a proxy that holds the server's answer to the
 * line, and a real client that hears it. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { lineOnItsWay } from "../_helpers/line_on_its_way.ts";

/**
 * Closes `page` as a user closing its tab does (its `beforeunload` run):
 * "asked" when the page asked first (the question is dismissed, the page
 * stays), "closed" when it closed without one.
 */
async function closeTab(page: Page): Promise<"asked" | "closed"> {
  const outcome = new Promise<"asked" | "closed">((resolve, reject) => {
    page.once("dialog", (dialog) => {
      if (dialog.type() !== "beforeunload") {
        reject(new Error(`A ${dialog.type()} dialog: ${dialog.message()}`));
        return;
      }
      dialog.dismiss().then(() => resolve("asked"), reject);
    });
    page.once("close", () => resolve("closed"));
  });
  await page.close({ runBeforeUnload: true });
  return await outcome;
}

Deno.test({
  name:
    "web client: closing the tab while a line is on its way asks first, and not once its answer came",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page, problems } = await lineOnItsWay(chat, proxy, sophia);
      assert.equal(await closeTab(page), "asked");
      assert.equal(page.isClosed(), false);
      // Its answer comes: nothing is on its way, the tab closes at once.
      proxy.release();
      await waitForLine(page, /line on its way$/);
      assert.equal(await closeTab(page), "closed");
      assert.deepEqual(problems, []);
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: closing the tab while a file it sends waits for its answer asks first",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await join(page, "webby");
    const termy = await chat.signedInClient("termy");
    try {
      const offered = Promise.withResolvers<string>();
      termy.onMessage(({ message }) => {
        if (message.t === "file_offer") offered.resolve(message.name);
      });
      await chat.keysOf("webby");
      await typeLine(page, "/query termy");
      await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
      const input = await page.$("#file-input");
      await (input as unknown as { uploadFile(path: string): Promise<void> })
        .uploadFile(`${chat.dir}/notes.txt`);
      // termy (a bare client) never answers the offer.
      await offered.promise;
      assert.equal(await closeTab(page), "asked");
      assert.equal(page.isClosed(), false);
      assert.deepEqual(problems, []);
      // Closed as a script closes it, without its beforeunload.
      await page.close();
    } finally {
      await termy.quit();
    }
  },
});
