/// <reference lib="dom" />
/**
 * The web page's log with the keyboard alone, in real Chromium against a
 * real `chat serve` and `chat connect`: a user tester found that Tab went
 * through every Accept, Decline and Save in the log before the lists, so
 * that in a busy room a person was dozens of presses away. The log is one
 * Tab stop now; the arrow keys, Home and End go between its buttons and
 * links, Enter and Space answer, and the focus stays in the log after an
 * answer. On a phone, Tab goes from the log to the input's row, then to the
 * lists at the bottom. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { KeyInput, Page } from "puppeteer-core";
import {
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** What a screen reader hears of the focused element (its label or text). */
function focusedLabel(page: Page): Promise<string> {
  return page.evaluate(() => {
    const active = document.activeElement;
    if (active === null || active === document.body) return "<body>";
    return active.getAttribute("aria-label") ?? active.textContent ?? "";
  });
}

/** Presses `key` and returns what then has the focus (see focusedLabel). */
async function press(page: Page, key: KeyInput): Promise<string> {
  await page.keyboard.press(key);
  return await focusedLabel(page);
}

const OFFERS = 20;

Deno.test({
  name:
    "web client: the log is one Tab stop with 20 file offers in it; the arrow keys, Home and End go between their buttons, Enter and Space answer, and the focus stays in the log",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    // 20 files offered at once from five pages (a terminal offers one at
    // a time, each after the last was answered; a user has 8 transfers at
    // most, and a page takes 4 coming in from one sender at most).
    const senders = ["ana", "bob", "cyd", "dee", "eve"];
    for (const [k, sender] of senders.entries()) {
      const from = await signedInPage(chat, sender, problems);
      await typeLine(from, "/query webby");
      const paths: string[] = [];
      for (let i = 1 + k; i <= OFFERS; i += senders.length) {
        paths.push(`${chat.dir}/f${i}.txt`);
        await Deno.writeTextFile(paths.at(-1)!, "some notes\n");
      }
      const input = await from.$("#file-input");
      await (input as unknown as {
        uploadFile(...paths: string[]): Promise<void>;
      }).uploadFile(...paths);
      // Offered: each sender's in turn, in the time a wait allows (polled:
      // webby's page is behind the others, with no animation frames).
      await page.waitForFunction(
        (sender: string, count: number) =>
          [...document.querySelectorAll("#log .line.offer")].filter(
            (row) =>
              row.textContent?.startsWith(sender) &&
              row.querySelectorAll("button").length === 2,
          ).length === count,
        { timeout: WAIT_MS, polling: 100 },
        `${sender} wants to send you `,
        paths.length,
      );
    }
    await page.bringToFront();
    // Their buttons top to bottom, by what a screen reader hears of each
    // ("Accept f3.txt (11 B) from ana"): the offers come in any order.
    const buttons = await page.$$eval(
      "#log .line.offer button",
      (all) => all.map((b) => b.getAttribute("aria-label") ?? b.textContent),
    );
    const last = buttons.length - 1;

    // From the input, Tab reaches a person in a few presses (Send, File…,
    // the conversations): it went through 40 buttons in the log first.
    await page.focus("#line");
    let presses = 0;
    while (presses < 12) {
      await page.keyboard.press("Tab");
      presses++;
      const inPeople = await page.evaluate(() =>
        document.getElementById("people")!.contains(document.activeElement)
      );
      if (inPeople) break;
    }
    assert.ok(
      presses <= 6,
      `${presses} presses of Tab and the focus is on '${await focusedLabel(
        page,
      )}', not on a person`,
    );
    // Into the log and out of it: one stop, then the input's row.
    await page.focus("#forget");
    assert.equal(await press(page, "Tab"), "Messages");
    assert.equal(await press(page, "Tab"), "Writing to everyone");

    // Each says which offer it answers (20 said "Accept").
    assert.match(
      buttons[0]!,
      /^Accept f\d+\.txt \(11 B\) from (ana|bob|cyd|dee|eve)$/,
    );
    // In the log, the arrow keys: up from the log to the newest offer's
    // last button, then along the offers; Home and End to either end.
    await page.focus("#log");
    assert.equal(await press(page, "ArrowUp"), buttons[last]);
    assert.equal(await press(page, "ArrowLeft"), buttons[last - 1]);
    assert.equal(await press(page, "ArrowUp"), buttons[last - 2]);
    assert.equal(await press(page, "Home"), buttons[0]);
    assert.equal(await press(page, "ArrowUp"), buttons[0]);
    assert.equal(await press(page, "ArrowDown"), buttons[1]);
    assert.equal(await press(page, "ArrowRight"), buttons[2]);
    assert.equal(await press(page, "End"), buttons[last]);
    // The focused button is drawn with a ring, and in sight.
    const ring = await page.evaluate(() => {
      const active = document.activeElement as HTMLElement;
      const log = document.getElementById("log")!.getBoundingClientRect();
      const box = active.getBoundingClientRect();
      return {
        visible: active.matches(":focus-visible"),
        outline: getComputedStyle(active).outlineStyle,
        inSight: box.top >= log.top && box.bottom <= log.bottom,
      };
    });
    assert.deepEqual(ring, { visible: true, outline: "solid", inSight: true });

    // PageUp still scrolls the log, from one of its buttons too.
    const scrolled = await page.$eval("#log", (log) => log.scrollTop);
    await page.keyboard.press("PageUp");
    await page.waitForFunction(
      (before: number) => document.getElementById("log")!.scrollTop < before,
      { timeout: WAIT_MS },
      scrolled,
    );

    // Enter accepts the offer before the newest; the focus goes on to the
    // newest's Accept, not to the page.
    await page.keyboard.press("End");
    const accepted = buttons[last - 3]!.replace(/^Accept /, "");
    assert.equal(await press(page, "ArrowLeft"), buttons[last - 1]);
    assert.equal(await press(page, "ArrowLeft"), buttons[last - 2]);
    assert.equal(await press(page, "ArrowLeft"), `Accept ${accepted}`);
    await page.keyboard.press("Enter");
    await waitForLine(page, new RegExp(`^Accepted ${escaped(accepted)}\\.$`));
    assert.equal(await focusedLabel(page), buttons[last - 1]);
    const name = accepted.split(" ")[0]!;
    const sender = accepted.split(" ").at(-1)!;
    await waitForLine(
      page,
      new RegExp(`^You received file ${escaped(name)} from ${sender}\\. `),
    );

    // Space declines the newest; on to what came after it: the Save link.
    const declined = buttons[last]!.replace(/^Decline /, "");
    assert.equal(await press(page, "ArrowRight"), buttons[last]);
    await page.keyboard.press("Space");
    await waitForLine(page, new RegExp(`^Declined ${escaped(declined)}\\.$`));
    assert.equal(await focusedLabel(page), `Save ${name} from ${sender}`);
    // Back up among the offers left, and Escape to the log itself.
    assert.equal(await press(page, "ArrowUp"), buttons[last - 4]);
    assert.equal(await press(page, "Escape"), "Messages");
    assert.deepEqual(problems, []);
  },
});

/** `text` matched as it is in a regular expression. */
function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  name:
    "web client: on a phone (390x844) Tab goes from the log to the input's row, then to the lists at the bottom, not to the lists first",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    await chat.terminal("termy");
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await join(page, "webby");
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    await page.focus("#log");
    const stops: { label: string; region: string }[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      stops.push(
        await page.evaluate(() => {
          const active = document.activeElement as HTMLElement;
          return {
            label: active.getAttribute("aria-label") ?? active.textContent ??
              "",
            region: active.closest("#privacy, #send, #side")?.id ??
              "elsewhere",
          };
        }),
      );
    }
    // The end-to-end line cut to one row (a stop, whole while it has the
    // focus), the input's row, then the lists (they came first, below it),
    // and the lists at the bottom of the screen.
    const regions = stops.map((stop) => stop.region).join(" ");
    assert.match(
      regions,
      /^privacy (send )+(side ?)+$/,
      JSON.stringify(stops),
    );
    const { sendBottom, sideTop } = await page.evaluate(() => ({
      sendBottom: document.getElementById("send")!.getBoundingClientRect()
        .bottom,
      sideTop: document.getElementById("side")!.getBoundingClientRect().top,
    }));
    assert.ok(sideTop >= sendBottom, `${sideTop} < ${sendBottom}`);
    assert.deepEqual(problems, []);
  },
});
