/// <reference lib="dom" />
/**
 * The web page shows one conversation at a time, as web chats do, in a
 * real Chromium against a real `chat serve` and terminal users: signed in,
 * the public room; a person chosen, their messages alone, their count
 * cleared while the others' counts go up; scrolled to the top there, their
 * older messages above, up to the start; All, every row in the order it
 * came, as the terminal's one log.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  LEAK_CHECKS_OFF,
  logHead,
  NO_MESSAGE_RATE,
  olderRowsLoaded,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { SCROLL_BACK_PAGE } from "../../src/web/scroll_back.ts";

/** The text of the log's rows the reader can see (not hidden), in order. */
function visibleRows(page: Page): Promise<string[]> {
  return page.$eval(
    "#log",
    (log) =>
      [...log.querySelectorAll(".line")].filter((row) =>
        row.getClientRects().length > 0
      ).map((row) => row.textContent ?? ""),
  );
}

/** The count beside the button named `label` in the lists; "" when none. */
function badge(page: Page, label: string): Promise<string> {
  return page.$eval("#side", (side, label) => {
    const button = [...side.querySelectorAll("li > button:first-child")]
      .find((b) => b.firstChild?.textContent === label);
    if (button === undefined) throw new Error(`No button ${label}`);
    return button.querySelector(".badge")?.textContent ?? "";
  }, label);
}

/** Waits until the button named `label` has the count `count`. */
async function waitForBadge(
  page: Page,
  label: string,
  count: string,
): Promise<void> {
  await page.waitForFunction(
    (label: string, count: string) => {
      const button = [...document.querySelectorAll("#side li > button")]
        .find((b) => b.firstChild?.textContent === label);
      return (button?.querySelector(".badge")?.textContent ?? "") === count;
    },
    { timeout: WAIT_MS },
    label,
    count,
  );
}

/** Clicks the list button named `label` (a person, a group, Everyone, All). */
async function choose(page: Page, label: string): Promise<void> {
  const handle = await page.waitForFunction(
    (label: string) =>
      [...document.querySelectorAll("#side li > button")].find((b) =>
        b.firstChild?.textContent === label
      ),
    { timeout: WAIT_MS },
    label,
  );
  await (handle.asElement() as unknown as { click(): Promise<void> }).click();
}

/** ana's numbered messages among `rows`, in order. */
function anaNumbers(rows: readonly string[]): number[] {
  return rows.flatMap((row) => {
    const match = /Private message from ana: ana (\d{3})$/.exec(row);
    return match === null ? [] : [Number(match[1])];
  });
}

/** `n` in three digits. */
function three(n: number): string {
  return String(n).padStart(3, "0");
}

/** 1..n in order. */
function upTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * The chat rows among `rows` (what people said, not what the page says),
 * without their time.
 */
function chatRows(rows: readonly string[]): string[] {
  return rows.filter((row) =>
    /\[Broadcast from |Private message (from|to) |\[Receive group /.test(row)
  ).map((row) => row.replace(/^\[\d\d:\d\d\] /, ""));
}

/**
 * Waits until the page is done loading older messages (see
 * olderRowsLoaded), with more than `before` rows of ana's or at the start.
 */
function loaded(page: Page, before: number): Promise<void> {
  return olderRowsLoaded(page, /from ana: ana \d{3}$/, before);
}

Deno.test({
  name:
    "web page: choosing a person shows their conversation alone, with its older messages on scrolling up, while the others' counts go up; All shows every row in order",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const ana = await chat.terminal("ana");
    const bob = await chat.terminal("bob");
    await chat.keysOf("webby");
    // ana's past: more than a page, before the page that reads it came.
    const older = SCROLL_BACK_PAGE + 10;
    await ana.write(
      upTo(older).map((n) => `/msg webby ana ${three(n)}\n`)
        .join(""),
    );
    await waitForLine(page, new RegExp(`from ana: ana ${three(older)}$`));
    await typeLine(page, "/quit");
    await waitForLine(page, /Disconnected\.$/);
    await page.reload();
    await join(page, "webby");
    await typeLine(page, "/create crew");
    await waitForLine(page, /Group 'crew' created/);
    await bob.write("/join crew\n");
    await bob.waitFor(/Joined group 'crew'/);

    // Two people and a group say things, in this order.
    await ana.write(`/msg webby ana ${three(older + 1)}\n`);
    await waitForLine(page, new RegExp(`from ana: ana ${three(older + 1)}$`));
    await bob.write("/msg webby bob whispers\n");
    await waitForLine(page, /Private message from bob: bob whispers$/);
    await bob.write("bob says hi to all\n");
    await waitForLine(page, /\[Broadcast from bob\]: bob says hi to all$/);
    await bob.write("/group crew crew news\n");
    await waitForLine(page, /\[Receive group crew message from bob\]: crew/);
    const arrived = [
      `Private message from ana: ana ${three(older + 1)}`,
      "Private message from bob: bob whispers",
      "[Broadcast from bob]: bob says hi to all",
      "[Receive group crew message from bob]: crew news",
    ];

    // Signed in, the page shows the public room: the others are counted.
    assert.deepEqual(
      chatRows(await visibleRows(page)),
      ["[Broadcast from bob]: bob says hi to all"],
    );
    assert.equal(await badge(page, "ana"), "1");
    assert.equal(await badge(page, "bob"), "1");
    assert.equal(await badge(page, "#crew"), "1");

    // ana's conversation: hers alone, her count cleared, and her older
    // messages loaded above, a page at a time as the reader scrolls up,
    // until its start.
    await choose(page, "ana");
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      "line",
    );
    assert.equal(await badge(page, "ana"), "");
    await loaded(page, 1);
    for (
      let pages = 0;
      !(await logHead(page)).startsWith("Start of");
      pages++
    ) {
      assert.ok(pages < 5, "too many pages");
      const before = anaNumbers(await visibleRows(page)).length;
      await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
      await loaded(page, before);
    }
    assert.equal(await logHead(page), "Start of your conversation with ana");
    let rows = await visibleRows(page);
    assert.deepEqual(anaNumbers(rows), upTo(older + 1));
    assert.deepEqual(
      chatRows(rows).filter((row) => !/from ana: ana \d{3}$/.test(row)),
      [],
    );
    // Her older messages are the first rows of her view.
    assert.match(rows[0]!, /Private message from ana: ana 001$/);

    // Meanwhile, the others' messages raise their counts, not her view.
    await bob.write("/msg webby bob again\n");
    await waitForLine(page, /Private message from bob: bob again$/);
    await bob.write("/group crew more crew news\n");
    await waitForLine(page, /message from bob\]: more crew news$/);
    await bob.write("bob to all again\n");
    await waitForLine(page, /\[Broadcast from bob\]: bob to all again$/);
    arrived.push(
      "Private message from bob: bob again",
      "[Receive group crew message from bob]: more crew news",
      "[Broadcast from bob]: bob to all again",
    );
    await waitForBadge(page, "bob", "2");
    assert.equal(await badge(page, "#crew"), "2");
    assert.equal(await badge(page, "Everyone"), "1");
    rows = await visibleRows(page);
    assert.deepEqual(
      chatRows(rows).filter((row) => !/from ana: ana \d{3}$/.test(row)),
      [],
    );

    // Typed here, a /msg to someone else goes, and shows where it was typed.
    await typeLine(page, "/msg bob typed in ana's view");
    await bob.waitFor(/Private message from webby: typed in ana's view/);
    await waitForLine(page, /Private message to bob: typed in ana's view$/);
    assert.match(
      (await visibleRows(page)).at(-1)!,
      /Private message to bob: typed in ana's view$/,
    );
    arrived.push("Private message to bob: typed in ana's view");

    // All: every row, ana's past first, then everything in the order it
    // came; the counts stay for the conversations not read.
    await choose(page, "All");
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      "line",
    );
    rows = await visibleRows(page);
    assert.deepEqual(anaNumbers(rows), upTo(older + 1));
    assert.deepEqual(anaNumbers(chatRows(rows).slice(0, older)), upTo(older));
    const live = chatRows(rows).slice(older);
    assert.deepEqual(live, arrived);
    assert.equal(await badge(page, "bob"), "2");

    // bob's conversation: his messages and what was said to him.
    await choose(page, "bob");
    await page.waitForFunction(
      () =>
        document.querySelector("#log .log-head")?.textContent ===
          "Start of your conversation with bob",
      { timeout: WAIT_MS },
    );
    assert.deepEqual(
      chatRows(await visibleRows(page)),
      [
        "Private message from bob: bob whispers",
        "Private message from bob: bob again",
        "Private message to bob: typed in ana's view",
      ],
    );
    assert.equal(await badge(page, "bob"), "");
    assert.deepEqual(problems, []);
  },
});
