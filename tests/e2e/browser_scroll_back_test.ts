/// <reference lib="dom" />
/**
 * The web page's scroll-back in a real Chromium against a real `chat
 * serve`: signed in, the page shows the public room's latest messages;
 * scrolled to the top of the log, the older ones load above, in order,
 * once each, with the message that was first still in view, until the
 * start of the conversation. A private conversation's older messages come
 * the same way, end to end, opened from the page's own archive. In All,
 * the room's older messages go among the other conversations' rows in the
 * order they were said.
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

/** The numbers of the log's rows whose text ends `<label> NNN`, top to bottom. */
function numbered(page: Page, label: string): Promise<number[]> {
  return page.$eval(
    "#log",
    (log, label) =>
      [...log.querySelectorAll(".line")].flatMap((row) => {
        const match = new RegExp(`${label} (\\d{3})$`).exec(
          row.textContent ?? "",
        );
        return match === null ? [] : [Number(match[1])];
      }),
    label,
  );
}

/**
 * Scrolls the log to its top, as a reader would, and waits until the page
 * is done loading (more rows numbered `label`, or the top says the start).
 */
async function scrollToTop(page: Page, label: string): Promise<void> {
  const before = (await numbered(page, label)).length;
  await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
  await olderRowsLoaded(page, new RegExp(`${label} \\d{3}$`), before);
}

/** 1..n in order: every message once, oldest first. */
function upTo(n: number, from = 1): number[] {
  return Array.from({ length: n - from + 1 }, (_, i) => from + i);
}

Deno.test({
  name:
    "web page: scrolled to the top of the log, the public room's older messages load above in order, once each, keeping the view, until its start",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const total = 250;
    // termy said 250 things before the page came.
    const termy = await chat.signedInClient("termy");
    try {
      for (const n of upTo(total)) {
        const reply = await termy.say(`said ${String(n).padStart(3, "0")}`);
        assert.equal(reply.t, "ok");
      }
    } finally {
      await termy.quit();
    }

    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    // The latest page, as in every web chat, the newest at the bottom.
    await waitForLine(page, /said 250$/);
    await page.waitForFunction(
      () =>
        !document.querySelector("#log .log-head")?.textContent?.startsWith(
          "Loading",
        ),
      { timeout: WAIT_MS },
    );
    let shown = await numbered(page, "said");
    assert.ok(shown.length >= SCROLL_BACK_PAGE, `${shown.length} shown`);
    assert.deepEqual(shown, upTo(total, total - shown.length + 1));
    assert.equal(await logHead(page), "");

    // Up a page at a time: what was first stays in view.
    for (let pages = 0; shown[0] !== 1; pages++) {
      assert.ok(pages < total / SCROLL_BACK_PAGE + 1, "too many pages");
      const first = shown[0]!;
      await scrollToTop(page, "said");
      shown = await numbered(page, "said");
      assert.ok(shown[0]! < first, `nothing older than ${first} came`);
      assert.deepEqual(shown, upTo(total, shown[0]));
      assert.ok(
        await inView(page, `said ${String(first).padStart(3, "0")}`),
        `said ${first} went out of view`,
      );
    }
    // At the start: the top says so, and scrolling asks nothing more.
    await scrollToTop(page, "said");
    assert.equal(await logHead(page), "Start of the public room");
    assert.deepEqual(await numbered(page, "said"), upTo(total));
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web page: in a private conversation, scrolling to the top loads its older messages end to end (opened from the page's archive), in order, once each, until its start",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const { page, problems, terminal: termy } = await webbyAnd(chat, "termy");
    // One more than a page before the page goes; one after it is back, and
    // one it sends.
    const total = SCROLL_BACK_PAGE + 12;
    await termy.write(
      upTo(total - 2).map((n) =>
        `/msg webby whisper ${String(n).padStart(3, "0")}\n`
      ).join(""),
    );
    await waitForLine(page, /Private message from termy: whisper 060$/);
    assert.doesNotMatch(termy.stdout, /host of the server can read/);

    // A new page: nothing of the conversation in its log (/quit
    // acknowledges what was shown, so none of it comes again).
    await reloadSignedIn(page, "webby");
    assert.deepEqual(await numbered(page, "whisper"), []);
    await termy.write("/msg webby whisper 061\n");
    await waitForLine(page, /Private message from termy: whisper 061$/);
    await typeLine(page, "/msg termy whisper 062");
    await waitForLine(page, /Private message to termy: whisper 062$/);
    await termy.waitFor(/Private message from webby: whisper 062/);
    // Writing to termy: the conversation's latest messages load above, the
    // two already shown not again.
    await typeLine(page, "/query termy");
    await page.waitForFunction(
      () =>
        !document.querySelector("#log .log-head")?.textContent?.startsWith(
          "Loading",
        ) && document.querySelectorAll("#log .line.private").length > 1,
      { timeout: WAIT_MS },
    );
    let shown = await numbered(page, "whisper");
    assert.ok(shown.length >= SCROLL_BACK_PAGE, `${shown.length} shown`);
    assert.deepEqual(shown, upTo(total, total - shown.length + 1));

    while (shown[0] !== 1) {
      const first = shown[0]!;
      await scrollToTop(page, "whisper");
      shown = await numbered(page, "whisper");
      assert.ok(shown[0]! < first, `nothing older than ${first} came`);
      assert.deepEqual(shown, upTo(total, shown[0]));
    }
    await scrollToTop(page, "whisper");
    assert.equal(await logHead(page), "Start of your conversation with termy");
    assert.deepEqual(await numbered(page, "whisper"), upTo(total));
    assert.deepEqual(problems, []);
  },
});

/**
 * The log's chat rows numbered `said` or `whisper`, top to bottom, as
 * "said 021", "whisper 003".
 */
function saidAndWhispered(page: Page): Promise<string[]> {
  return page.$eval(
    "#log",
    (log) =>
      [...log.querySelectorAll(".line")].flatMap((row) => {
        const match = /\b((?:said|whisper) \d{3})$/.exec(row.textContent ?? "");
        return match === null ? [] : [match[1]!];
      }),
  );
}

Deno.test({
  name:
    "web page: in All, the room's older messages loaded by scrolling back go among a person's messages in the order they were said, not above every line",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const { page, problems, terminal: ana } = await webbyAnd(chat, "ana");
    const termy = await chat.signedInClient("termy");
    // Said in this order: the room's 1-60, ana's five whispers to webby,
    // the room's 61-120.
    const said: string[] = [];
    try {
      const say = async (from: number, to: number) => {
        for (const n of upTo(to, from)) {
          const text = `said ${String(n).padStart(3, "0")}`;
          assert.equal((await termy.say(text)).t, "ok");
          said.push(text);
        }
      };
      await say(1, 60);
      const whispers = upTo(5).map((n) =>
        `whisper ${String(n).padStart(3, "0")}`
      );
      await ana.write(whispers.map((w) => `/msg webby ${w}\n`).join(""));
      await waitForLine(page, /Private message from ana: whisper 005$/);
      said.push(...whispers);
      await say(61, 120);
      await waitForLine(page, /said 120$/);
    } finally {
      await termy.quit();
    }

    // A new page: nothing in its log. Signed in, the room's latest page;
    // with ana, her whispers, older than all of it.
    await reloadSignedIn(page, "webby");
    await olderRowsLoaded(page, /said \d{3}$/, 0);
    await typeLine(page, "/query ana");
    await waitForLogHead(page, "Start of your conversation with ana");
    await typeLine(page, "/query");
    await page.click("#view-all");
    const before = await saidAndWhispered(page);
    assert.equal(before[0], "whisper 001");
    assert.ok(!before.includes("said 060"), "said 060 shown already");

    // In All, scrolled to the top: the room's older messages load, the
    // ones said before ana's whispers above them, the others below.
    await scrollToTop(page, "said");
    const shown = await saidAndWhispered(page);
    assert.ok(shown.includes("said 060"), `not loaded: ${shown}`);
    assert.deepEqual(shown, said.filter((row) => shown.includes(row)));
    // What the reader saw at the top is still in view.
    assert.ok(
      await inView(page, "whisper 001"),
      "whisper 001 went out of view",
    );
    assert.deepEqual(problems, []);
  },
});
