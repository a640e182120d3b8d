/// <reference lib="dom" />
/**
 * Closing (or reloading) the tab while a line is on its way, a file is
 * being sent or one is being received asks first, as /quit does: it closed
 * at once, the line cut off with no word, when the server may have stored
 * it (and the others read it), the file cut off. Once nothing is on its
 * way, the tab closes without a question.
 * Real Chromium (its `beforeunload` dialog, as CDP reports it) against a
 * real `chat serve` behind a proxy that holds the server's answer to the
 * line, and a real client that hears it. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  closeTab,
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { lineOnItsWay } from "../_helpers/line_on_its_way.ts";
import { ChatProcess } from "../_helpers/process.ts";

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

Deno.test({
  name:
    "web client: closing the tab while it receives a file asks first, and not once the file came",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const alice = new ChatProcess([
      "connect",
      chat.url.replace(/^http:\/\/|\/$/g, ""),
      "--pub",
      `${chat.dir}/public.pem`,
      "--user",
      "alice",
    ]);
    try {
      const problems: string[] = [];
      const page = await openPage(
        chat.browser,
        `http://127.0.0.1:${proxy.port}/`,
        problems,
      );
      await join(page, "webby");
      await alice.waitFor(/SUCCESS: Username registered\./);
      await chat.keysOf("webby");
      const size = 1024 * 1024;
      const path = `${chat.dir}/big.bin`;
      await Deno.writeFile(path, new Uint8Array(size));
      await alice.write(`/file webby ${path}\n`);
      await page.waitForSelector("#log .line.offer button", {
        timeout: WAIT_MS,
      });
      // A part of the file reaches the page, the rest is held.
      proxy.holdAt(proxy.downBytes + size / 4);
      const [accept] = await page.$$("#log .line.offer button");
      await accept!.click();
      await proxy.holding();
      assert.equal(await closeTab(page), "asked");
      assert.equal(page.isClosed(), false);
      // The rest comes: nothing is on its way, the tab closes at once.
      proxy.release();
      await waitForLine(page, /^You received file big\.bin from alice\./);
      await alice.waitFor(/sent to webby successfully/, WAIT_MS);
      assert.equal(await closeTab(page), "closed");
      assert.deepEqual(problems, []);
    } finally {
      await alice.write("/quit\n").catch(() => {});
      alice.kill();
      await alice.finish();
      await proxy.close();
    }
  },
});
