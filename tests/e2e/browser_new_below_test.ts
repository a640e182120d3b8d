/// <reference lib="dom" />
/**
 * The "N new lines ↓" button, in real Chromium against a real `chat serve`:
 * a reader scrolled up learns of every line that comes below, a notice (a
 * person who joined) and a file offered as well as a message (it counted
 * messages only, so a reader scrolled up never saw that a file waited for
 * their answer); what the reader asked for does not count. Slow (a browser
 * starts): in `deno task test:slow`.
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

/** Waits until the button says `text` ("" : hidden). */
async function waitForButton(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (text: string) => {
        const button = document.querySelector<HTMLButtonElement>(
          ".new-below button",
        )!;
        return text === "" ? button.hidden : !button.hidden &&
          button.textContent === text;
      },
      { timeout: WAIT_MS },
      text,
    );
  } catch (error) {
    const now = await page.$eval(
      ".new-below button",
      (b) => `${(b as HTMLButtonElement).hidden}: ${b.textContent}`,
    );
    throw new Error(`The button is ${now}, not '${text}'`, { cause: error });
  }
}

Deno.test({
  name:
    "web client: a reader scrolled up is told of notices and file offers below, not only of messages",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    // Lines enough to scroll: the help.
    await typeLine(page, "/help");
    await waitForLine(page, /^Type \/help <command> for one command\.$/);
    await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
    await page.waitForFunction(
      () => {
        const log = document.getElementById("log")!;
        return log.scrollTop === 0 && log.scrollHeight > 2 * log.clientHeight;
      },
      { timeout: WAIT_MS },
    );
    await waitForButton(page, "");

    // Someone joins: a notice below.
    const termy = await chat.terminal("termy");
    await waitForLine(page, /termy/);
    await waitForButton(page, "1 new line \u2193");

    // A file offered: a line with its question, below.
    await Deno.writeTextFile(`${chat.dir}/hi.txt`, "hi");
    await termy.write(`/file webby ${chat.dir}/hi.txt\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });
    await waitForButton(page, "2 new lines \u2193");

    // A message of two lines: two lines more.
    const scripty = await chat.signedInClient("scripty");
    try {
      await waitForButton(page, "3 new lines \u2193");
      assert.equal((await scripty.say("one\ntwo")).t, "ok");
      await waitForButton(page, "5 new lines \u2193");
    } finally {
      await scripty.quit();
    }

    // The button takes the reader there, and goes.
    await page.click(".new-below button");
    await waitForButton(page, "");
    assert.ok(
      await page.$eval(
        "#log",
        (log) => log.scrollTop + log.clientHeight >= log.scrollHeight - 4,
      ),
    );
    assert.deepEqual(problems, []);
  },
});
