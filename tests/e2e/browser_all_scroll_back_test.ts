/// <reference lib="dom" />
/**
 * The web page's All view in a real Chromium against a real `chat serve`:
 * scrolled to the top, it loads the older messages of every conversation
 * the page knows (the public room, a person's and a group's, both end to
 * end), merged in the order they were said, once each, without a gap that
 * reads as the whole past, until the start of every conversation.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  logHead,
  NO_MESSAGE_RATE,
  olderRowsLoaded,
  reloadSignedIn,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";
import { SCROLL_BACK_PAGE } from "../../src/web/scroll_back.ts";

/** The rows this test counts: `said 001`, `whisper 001`, `crew 001`. */
const ROW = /\b((?:said|whisper|crew) \d{3})$/;

/** The log's rows that ROW matches, as it names them, top to bottom. */
function counted(page: Page): Promise<string[]> {
  return page.$eval(
    "#log",
    (log, source) =>
      [...log.querySelectorAll(".line")].flatMap((row) => {
        const match = new RegExp(source).exec(row.textContent ?? "");
        return match === null ? [] : [match[1]!];
      }),
    ROW.source,
  );
}

/** What watchGaps keeps in the page. */
interface Watched {
  gaps: string[];
}

/**
 * Watches the page's log from now on: each change after which its rows
 * (see `counted`) are not in the order of `said`, or leave out one said
 * after the first row of a person or the group shown (a gap that reads as
 * the whole past), is noted in `window.gaps`.
 */
async function watchGaps(page: Page, said: string[]): Promise<void> {
  await page.evaluate(
    (said: string[], source: string) => {
      const log = document.getElementById("log")!;
      const gaps: string[] = [];
      (window as unknown as Watched).gaps = gaps;
      new MutationObserver(() => {
        const shown = [...log.querySelectorAll(".line")].flatMap((row) => {
          const match = new RegExp(source).exec(row.textContent ?? "");
          return match === null ? [] : [match[1]!];
        });
        const set = new Set(shown);
        if (said.filter((row) => set.has(row)).join() !== shown.join()) {
          gaps.push(`out of order: ${shown.join()}`);
        }
        const first = shown.find((row) => !row.startsWith("said"));
        if (first === undefined) return;
        const missing = said.slice(said.indexOf(first)).find((row) =>
          !set.has(row)
        );
        if (missing !== undefined) {
          gaps.push(`${missing} missing below ${first}`);
        }
      }).observe(log, { childList: true });
    },
    said,
    ROW.source,
  );
}

/** `n` in three digits. */
function three(n: number): string {
  return String(n).padStart(3, "0");
}

Deno.test({
  name:
    "web page: in All, scrolling back loads the older messages of the room, a person and a group together, merged in the order they were said, once each, until the start of every conversation",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const { page, problems, terminal: termy } = await webbyAnd(chat, "termy");
    await typeLine(page, "/create crew");
    await waitForLine(page, /Group 'crew' created/);
    await termy.write("/join crew\n");
    await termy.waitFor(/Joined group 'crew'/);

    // termy says things in the room, to webby and to the group, ten at a
    // time in turn: more than a page of each, before the page that reads
    // them comes.
    const lineFor = {
      said: (text: string) => `${text}\n`,
      whisper: (text: string) => `/msg webby ${text}\n`,
      crew: (text: string) => `/group crew ${text}\n`,
    };
    const said: string[] = [];
    const each = 10;
    for (let round = 0; each * round <= SCROLL_BACK_PAGE; round++) {
      for (const kind of ["said", "whisper", "crew"] as const) {
        const texts = Array.from(
          { length: each },
          (_, i) => `${kind} ${three(each * round + i + 1)}`,
        );
        await termy.write(texts.map(lineFor[kind]).join(""));
        // Stored before the next ten are sent: the order is this one.
        await waitForLine(page, new RegExp(`: ${texts.at(-1)}$`));
        said.push(...texts);
      }
    }

    // A new page: signed in, the room's latest page. Then a whisper and a
    // group message, live: the page has rows of both conversations.
    await reloadSignedIn(page, "webby");
    // The new page knows its own group from the server's groups reply
    // (joined), before any row of it comes.
    await page.waitForFunction(
      () => document.querySelector("#groups li") !== null,
      { timeout: WAIT_MS },
    );
    assert.equal(
      await page.$eval("#groups li button.small", (b) => b.textContent),
      "Leave",
    );
    await olderRowsLoaded(page, ROW, 0);
    const last = each * (SCROLL_BACK_PAGE / each + 1) + 1;
    for (const kind of ["whisper", "crew"] as const) {
      const text = `${kind} ${three(last)}`;
      await termy.write(lineFor[kind](text));
      await waitForLine(page, new RegExp(`: ${text}$`));
      said.push(text);
    }
    const before = await counted(page);
    assert.ok(!before.includes("whisper 001"), "whisper 001 shown already");

    // All, scrolled to the top a page at a time: every conversation's
    // older messages come, in the order they were said, and what the page
    // adds never leaves out a message newer than a person's or the group's
    // it shows (watched at every change of the log).
    await watchGaps(page, said);
    await page.click("#view-all");
    for (
      let pages = 0;
      (await logHead(page)) !== "Start of every conversation";
      pages++
    ) {
      assert.ok(pages < 12, `too many pages; the top: ${await logHead(page)}`);
      const count = (await counted(page)).length;
      await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
      await olderRowsLoaded(page, ROW, count);
    }
    assert.deepEqual(
      await page.evaluate(() => (window as unknown as Watched).gaps),
      [],
    );
    assert.deepEqual(await counted(page), said);
    assert.deepEqual(problems, []);
  },
});
