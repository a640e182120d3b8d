/// <reference lib="dom" />
/**
 * The web page with the keyboard alone, in real Chromium against a real
 * `chat serve`: the lists beside the log keep the focus when they are
 * drawn anew (a Join pressed, a message that raises a count), and a key
 * pressed while the page waits to reconnect tries at once, as the status
 * line says; a line sent while scrolled up shows, at the log's end. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  inView,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** The text of the element that has the focus ("" for the page itself). */
function focusedText(page: Page): Promise<string> {
  return page.evaluate(() =>
    document.activeElement === document.body
      ? ""
      : document.activeElement?.textContent ?? ""
  );
}

/** Waits until the focused element's text is `text`. */
async function waitForFocus(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (text: string) => document.activeElement?.textContent === text,
      { timeout: WAIT_MS },
      text,
    );
  } catch (error) {
    throw new Error(
      `The focus is on '${await focusedText(page)}', not '${text}'`,
      { cause: error },
    );
  }
}

Deno.test({
  name:
    "web client: Join, Leave and the people list keep the keyboard's focus when the lists are drawn anew",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    await termy.write("/create crew\n");
    await termy.waitFor(/Group 'crew' created and joined/);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.waitForFunction(
      () => document.getElementById("groups")?.textContent === "#crewJoin",
      { timeout: WAIT_MS },
    );

    // Join with the keyboard: the button, drawn anew as Leave, keeps the
    // focus (it fell to the page's top: the next Tab started over there).
    const [join] = await page.$$(
      "xpath/.//ul[@id='groups']//button[text()='Join']",
    );
    await join!.focus();
    await page.keyboard.press("Enter");
    await waitForLine(page, /^SUCCESS: Joined group 'crew'\.$/);
    await page.waitForFunction(
      () => document.getElementById("groups")?.textContent === "#crewLeave",
      { timeout: WAIT_MS },
    );
    await waitForFocus(page, "Leave");
    await page.keyboard.press("Enter");
    await waitForLine(page, /^SUCCESS: Left group 'crew'\.$/);
    await waitForFocus(page, "Join");

    // On a person's button while a message of theirs comes: the count it
    // raises draws the lists anew, and the focus stays on the person.
    const [person] = await page.$$(
      "xpath/.//ul[@id='people']//button[text()='termy']",
    );
    await person!.focus();
    await termy.write("/msg webby are you there\n");
    await page.waitForSelector("#people .badge", { timeout: WAIT_MS });
    assert.equal(await focusedText(page), "termy 1");
    // Enter opens the conversation and goes to the input, as a click does.
    await page.keyboard.press("Enter");
    await waitForLine(page, /Private message from termy: are you there$/);
    await page.waitForFunction(
      () => document.activeElement?.id === "line",
      { timeout: WAIT_MS },
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a key pressed while the page waits to reconnect tries again at once, as the status line says",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.stop();
    // The 4th attempt waits 8 s (1, 2, 4, 8, then 10 s).
    const waiting =
      /^Reconnecting in \d s \(attempt 4; press a key to retry now\)/;
    await page.waitForFunction(
      (source: string) =>
        new RegExp(source).test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
      waiting.source,
    );
    // Before the change, a key did nothing: attempt 5 came 8 s later. Now
    // it tries attempt 4 at once, and says no other key will before the
    // rest of the wait (which that try does not make longer).
    await page.keyboard.press("x");
    await page.waitForFunction(
      () =>
        /^Reconnecting in \d s \(attempt 4\) Last try: /.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: 4_000 },
    );

    await chat.start();
    await page.keyboard.press("y");
    await waitForLine(page, /^Reconnected as webby\.$/);
    // The keys were keys, not a line: nothing was sent or queued.
    assert.equal(
      await page.$eval("#line", (e) => (e as HTMLInputElement).value),
      "xy",
    );
    // A browser logs each connection it could not open; the page's own
    // scripts said nothing.
    assert.deepEqual(
      problems.filter((p) => !/WebSocket connection to .* failed/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: typing a line while the server is down tries again once per wait, not once per key, and the waits do not grow with it",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.stop();
    const attempt = async () => {
      const status = await page.$eval("#status", (e) => e.textContent ?? "");
      const found = /\(attempt (\d+)[;)]/.exec(status);
      assert.ok(found !== null, `no attempt in the status: ${status}`);
      return Number(found[1]);
    };
    await page.waitForFunction(
      () =>
        /^Reconnecting in \d s \(attempt 1; press a key to retry now\)/.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    // 40 keys in about 2 s: before, each started an attempt (a refused
    // connection takes a few ms), and the status said "attempt 30" or so,
    // its wait at the 10 s cap. The waits are 0.5-1 s, then 1-2 s, 2-4 s.
    await page.keyboard.type("is anyone there, the server went away?!", {
      delay: 50,
    });
    await page.keyboard.press("Enter");
    await waitForLine(page, /^\(queued\) is anyone there/);
    assert.ok(await attempt() <= 3, `attempt ${await attempt()}`);

    await chat.start();
    await waitForLine(page, /^Reconnected as webby\.$/);
    await waitForLine(page, /is anyone there, the server went away\?!$/);
    assert.deepEqual(
      problems.filter((p) => !/WebSocket connection to .* failed/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: a line sent while scrolled up brings the log to its end, where it shows; what others send does not",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    for (let i = 0; i < 60; i++) await termy.write(`line ${i}\n`);
    await waitForLine(page, /\[Broadcast from termy\]: line 59$/);
    // Up in the log, reading (not at its top, where older ones would load).
    await page.$eval("#log", (log) => (log.scrollTop = 100));

    // What others send comes below without moving the reader.
    await termy.write("while you read\n");
    await waitForLine(page, /\[Broadcast from termy\]: while you read$/);
    assert.equal(await inView(page, "while you read"), false);
    assert.equal(await page.$eval("#log", (log) => log.scrollTop), 100);

    // A line sent: the reader goes to the end and sees it, as web chats
    // do (it stayed out of sight: the input emptied and nothing showed).
    await typeLine(page, "my answer");
    await waitForLine(
      page,
      /^\[\d\d:\d\d\] Broadcast message sent: my answer$/,
    );
    assert.equal(await inView(page, "Broadcast message sent: my answer"), true);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: at 200 % zoom (640 by 360) the end-to-end line cut to one row shows whole to the keyboard too, as to a tap",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.setViewport({ width: 640, height: 360 });
    await typeLine(page, "/create crew");
    await waitForLine(page, /Group 'crew' created/);
    await page.click('#side button[data-key="view #crew"]');
    await page.waitForFunction(
      () => document.getElementById("privacy")?.textContent?.includes("crew"),
      { timeout: WAIT_MS },
    );
    const cut = () =>
      page.$eval("#privacy", (p) => p.scrollWidth > p.clientWidth);
    assert.ok(await cut(), "the group's line is not cut at 640 by 360");
    // From the log, Tab: the line is reached, and whole while it is.
    await page.focus("#log");
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      "privacy",
    );
    assert.ok(!await cut(), "the line stays cut with the keyboard's focus");
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      "target",
    );
    assert.ok(await cut(), "the line stays whole once left");
    // A tap shows it whole, a second cuts it again (its focus is no
    // keyboard's).
    await page.click("#privacy");
    assert.ok(!await cut(), "a tap leaves the line cut");
    await page.click("#privacy");
    assert.ok(await cut(), "a second tap leaves the line whole");
    assert.deepEqual(problems, []);
  },
});
