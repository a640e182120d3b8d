/// <reference lib="dom" />
/**
 * What a new user found using the web page, in real Chromium against a real
 * `chat serve` and `chat connect`: on a phone, the log left the newest
 * messages out of sight once it got shorter (the server key unfolded above
 * it). Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  inView,
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a log at its newest line stays there when it gets shorter (a phone's server key unfolded), and shows what comes next",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await join(page, "webby");
    for (let i = 1; i <= 40; i++) await termy.write(`line ${i}\n`);
    await waitForLine(page, /\]: line 40$/);
    await page.waitForFunction(
      () => {
        const log = document.getElementById("log")!;
        return log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      },
      { timeout: WAIT_MS },
    );
    assert.ok(await inView(page, "line 40"), "line 40 is out of sight");

    // Folded on a phone: a tap unfolds it, and the log gets shorter.
    const before = await page.$eval("#log", (log) => log.clientHeight);
    await page.click("#key summary");
    await page.waitForFunction(
      (before: number) => document.getElementById("log")!.clientHeight < before,
      { timeout: WAIT_MS },
      before,
    );
    await termy.write("after the key\n");
    await waitForLine(page, /\]: after the key$/);
    assert.ok(
      await inView(page, "after the key"),
      "the line that came after the log got shorter is out of sight",
    );
    assert.deepEqual(problems, []);
  },
});
