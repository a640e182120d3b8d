/// <reference lib="dom" />
/**
 * On a touch screen, which has no keys to press, the page's status line
 * while it waits to reconnect says "tap Retry now" (not "press a key to
 * retry now") and shows that button, which tries again at once, once per
 * wait, as a key does on a keyboard. A real `chat serve` stopped and
 * started again, and Chromium as a phone.
 */

import assert from "node:assert/strict";
import {
  join,
  LEAK_CHECKS_OFF,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { countdownTo, recordSaid } from "../_helpers/said_at.ts";

Deno.test({
  name:
    "web client: on a touch screen a reconnection's wait says to tap Retry now, and the button tries again at once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await chat.browser.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    page.on("console", (message) => {
      // A browser logs each connection it could not open.
      if (
        message.type() === "error" &&
        !/WebSocket connection to .* failed/.test(message.text())
      ) problems.push(`console error: ${message.text()}`);
    });
    await page.setViewport({
      width: 390,
      height: 844,
      isMobile: true,
      hasTouch: true,
    });
    const record = await recordSaid(page);
    await page.goto(chat.url);
    assert.ok(
      await page.evaluate(() => matchMedia("(pointer: coarse)").matches),
      "Chromium as a phone has a coarse pointer",
    );
    await join(page, "webby");
    const retryShown = () =>
      page.$eval("#retry", (e) => !(e as HTMLElement).hidden);
    assert.equal(await retryShown(), false, "Retry now shown while connected");

    await chat.stop();
    // The 4th attempt waits 4 to 8 s (1, 2, 4, 8, then 10 s, jittered).
    const waiting =
      /^status: Reconnecting in \d s \(attempt 4; tap Retry now\)/;
    await page.waitForFunction(
      (source: string) =>
        new RegExp(source).test(
          `status: ${document.getElementById("status")?.textContent}`,
        ),
      { timeout: WAIT_MS },
      waiting.source,
    );
    assert.equal(await retryShown(), true, "no Retry now while waiting");
    await page.tap("#retry-now");
    // Attempt 4 at once; the rest of its wait is waited out, and says so:
    // no second tap cuts it short (nor a key).
    await page.waitForFunction(
      () =>
        /^Reconnecting in \d s \(attempt 4\) Last try: /.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    assert.equal(await retryShown(), false, "Retry now after its try");
    const said = await record.said();
    const { index, dueAfter } = countdownTo(said, waiting);
    const tried = said.findIndex((s, i) =>
      i > index && /^status: Reconnecting \(attempt 4\)\.\.\./.test(s.line)
    );
    assert.ok(tried !== -1, said.map((s) => s.line).join("\n"));
    assert.ok(
      said[tried]!.at < dueAfter - 100,
      `tried ${said[tried]!.at - said[index]!.at} ms into a wait of more than ${
        dueAfter - said[index]!.at
      } ms`,
    );
    assert.ok(
      !said.some((s) => s.line.includes("press a key")),
      said.map((s) => s.line).join("\n"),
    );

    // The next attempt's wait offers the button again.
    await page.waitForFunction(
      () =>
        /^Reconnecting in \d+ s \(attempt 5; tap Retry now\)/.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    assert.equal(await retryShown(), true, "no Retry now at attempt 5");
    await chat.start();
    await waitForLine(page, /^Reconnected as webby\.$/);
    assert.equal(await retryShown(), false, "Retry now once back");
    assert.deepEqual(problems, []);
  },
});
