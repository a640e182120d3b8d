/// <reference lib="dom" />
/**
 * The web page's notices, errors and file offers show the time they came,
 * `[HH:MM]` in front as a message's: they showed none while the chat lines
 * around them did. Real Chromium against a real `chat serve` and
 * `chat connect`. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** What shows before the text of the last row matching `pattern`. */
function markOf(page: Page, pattern: RegExp): Promise<string | null> {
  return page.$$eval(
    "#log .line",
    (rows, source) => {
      const row = rows.findLast((row) =>
        new RegExp(source).test(row.textContent ?? "")
      );
      return row === undefined
        ? null
        : getComputedStyle(row, "::before").content;
    },
    pattern.source,
  );
}

Deno.test({
  name:
    "web client: notices, errors and file offers show their time in front, as messages do",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    const mark = /^"\[\d\d:\d\d\] "$/;

    await typeLine(page, "/query termy");
    await waitForLine(page, /^Plain lines now go to termy/);
    assert.match(String(await markOf(page, /^Plain lines now go/)), mark);

    await typeLine(page, "/cancel 7");
    await waitForLine(page, /^ERROR: /);
    assert.match(String(await markOf(page, /^ERROR: /)), mark);

    // A message's time is in its text, not twice.
    await termy.write("/msg webby hello\n");
    await waitForLine(page, /^\[\d\d:\d\d\] .*hello$/);
    assert.equal(await markOf(page, /hello$/), "none");

    await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
    await termy.write(`/file webby ${chat.dir}/notes.txt\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });
    assert.match(String(await markOf(page, /notes\.txt/)), mark);
    assert.deepEqual(problems, []);
    await page.close();
  },
});
