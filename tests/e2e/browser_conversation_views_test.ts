/// <reference lib="dom" />
/**
 * The web page shows one conversation at a time, as web chats do, in a
 * real Chromium against a real `chat serve` and terminal users: signed in,
 * the public room; a person chosen, their messages alone, their count
 * cleared while the others' counts go up; scrolled to the top there, their
 * older messages above, up to the start; All, every row in the order it
 * came, as the terminal's one log. Each view comes back where the reader
 * left it: scrolled up, on the same line, which new messages do not move
 * (nor the oldest lines going once the log is full); at the bottom,
 * following the newest.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  inView,
  LEAK_CHECKS_OFF,
  logHead,
  NO_MESSAGE_RATE,
  olderRowsLoaded,
  reloadSignedIn,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
  waitForLogHead,
  webbyAnd,
} from "../_helpers/browser.ts";
import { SCROLL_BACK_PAGE } from "../../src/web/scroll_back.ts";
import { MAX_ROWS } from "../../src/web/log_view.ts";

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
    const { page, problems, terminal: ana } = await webbyAnd(chat, "ana");
    const bob = await chat.terminal("bob");
    // ana's past: more than a page, before the page that reads it came.
    const older = SCROLL_BACK_PAGE + 10;
    await ana.write(
      upTo(older).map((n) => `/msg webby ana ${three(n)}\n`)
        .join(""),
    );
    await waitForLine(page, new RegExp(`from ana: ana ${three(older)}$`));
    await reloadSignedIn(page, "webby");
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
    await waitForLogHead(page, "Start of your conversation with bob");
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

/**
 * The first row the reader sees at the top of the log, and how far its top
 * is below the top of the log's visible area (negative: partly above).
 */
function topRow(page: Page): Promise<{ text: string; offset: number }> {
  return page.$eval("#log", (log) => {
    const top = log.getBoundingClientRect().top + log.clientTop;
    for (const row of log.querySelectorAll(".line")) {
      const box = row.getBoundingClientRect();
      if (box.height > 0 && box.bottom > top) {
        return {
          text: row.textContent ?? "",
          offset: Math.round(box.top - top),
        };
      }
    }
    throw new Error("No row in sight");
  });
}

Deno.test({
  name:
    "web page: a view comes back where the reader left it: scrolled up in the room, on the same line, which new messages do not move; at the bottom, following the newest",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const say = async (n: number) =>
        assert.equal((await termy.say(`said ${three(n)}`)).t, "ok");
      for (const n of upTo(150)) await say(n);
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      const said = /said \d{3}$/;
      await olderRowsLoaded(page, said, 0);
      // A page more above, to have room to scroll up without reaching the
      // top (which would load more).
      const first = await page.$$eval(
        "#log .line",
        (rows) =>
          rows.filter((row) => /said \d{3}$/.test(row.textContent!)).length,
      );
      await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
      await olderRowsLoaded(page, said, first);

      // Up in the room, reading: said 110 at the top, partly scrolled past.
      await page.$eval("#log", (log) => {
        const row = [...log.querySelectorAll(".line")].find((r) =>
          r.textContent!.endsWith("said 110")
        )!;
        const top = log.getBoundingClientRect().top + log.clientTop;
        log.scrollTop += row.getBoundingClientRect().top - top + 7;
      });
      const reading = await topRow(page);
      assert.match(reading.text, /said 110$/);
      assert.equal(reading.offset, -7);
      assert.ok(
        await page.$eval("#log", (log) => log.scrollTop >= log.clientHeight),
        "too near the top",
      );

      // Another conversation, while the room goes on; then back.
      await choose(page, "termy");
      await waitForLogHead(page, "Start of your conversation with termy");
      await say(151);
      await waitForLine(page, /said 151$/);
      await choose(page, "Everyone");
      assert.deepEqual(await topRow(page), reading);
      // A new message comes below: what the reader reads does not move.
      await say(152);
      await waitForLine(page, /said 152$/);
      assert.deepEqual(await topRow(page), reading);
      assert.ok(!(await inView(page, "said 152")));

      // At the bottom, the view follows the newest, and is there again
      // after another conversation.
      await page.$eval(
        "#log",
        (log) => log.scrollTo({ top: log.scrollHeight }),
      );
      await say(153);
      await waitForLine(page, /said 153$/);
      assert.ok(await inView(page, "said 153"), "said 153 not in view");
      await choose(page, "termy");
      await say(154);
      await waitForLine(page, /said 154$/);
      await choose(page, "Everyone");
      assert.ok(await inView(page, "said 154"), "said 154 not in view");
      await say(155);
      await waitForLine(page, /said 155$/);
      assert.ok(await inView(page, "said 155"), "said 155 not in view");
      assert.deepEqual(problems, []);
    } finally {
      await termy.quit();
    }
  },
});

/**
 * Waits until the log's last row ends with `text`: many rows came, and
 * reading them all on each try would slow the page that draws them.
 */
async function lastRow(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (text: string) =>
      document.getElementById("log")?.lastElementChild?.textContent?.endsWith(
        text,
      ),
    { timeout: 5 * WAIT_MS },
    text,
  );
}

Deno.test({
  name:
    "web page: a reader scrolled up stays on their line while the full log lets its oldest lines go for new ones",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.signedInClient("termy");
    try {
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await olderRowsLoaded(page, /said \d{4}$/, 0);
      // As many as the log keeps, said while the page reads: it is full.
      const say = async (from: number, to: number) => {
        const sends = [];
        for (let n = from; n <= to; n++) {
          sends.push(termy.say(`said ${String(n).padStart(4, "0")}`));
        }
        for (const reply of await Promise.all(sends)) {
          assert.equal(reply.t, "ok");
        }
      };
      for (let n = 1; n <= MAX_ROWS; n += 500) await say(n, n + 499);
      // Under load (2 cores, load 8-13) the page took 30-50 s to draw them.
      await lastRow(page, `said ${MAX_ROWS}`);
      assert.equal(
        await page.$eval("#log", (log) => log.querySelectorAll(".line").length),
        MAX_ROWS,
      );

      // Up, reading: said 4000 at the top. More come, pushing the oldest
      // lines out above: what the reader reads does not move.
      await page.$eval("#log", (log) => {
        const row = [...log.querySelectorAll(".line")].find((r) =>
          r.textContent!.endsWith("said 4000")
        )!;
        const top = log.getBoundingClientRect().top + log.clientTop;
        log.scrollTop += row.getBoundingClientRect().top - top + 5;
      });
      const reading = await topRow(page);
      assert.match(reading.text, /said 4000$/);
      await say(MAX_ROWS + 1, MAX_ROWS + 3);
      await lastRow(page, `said ${MAX_ROWS + 3}`);
      assert.deepEqual(await topRow(page), reading);
      assert.deepEqual(problems, []);
    } finally {
      await termy.quit();
    }
  },
});
