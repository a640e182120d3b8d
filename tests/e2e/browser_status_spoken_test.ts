/// <reference lib="dom" />
/**
 * The status line to a screen reader, in real Chromium against a real
 * `chat serve`: while the page waits to reconnect, the line counts the
 * seconds down ("Reconnecting in 8 s", "7 s", ...), and it was the live
 * region itself (role=status), so a screen reader read the whole line out
 * again every second, the last try's error with it, for as long as the
 * server was down. What is said aloud now changes when the line says
 * something new, not at each second. Slow (a browser starts, and waits
 * for the page's 4th attempt): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a screen reader hears the reconnection's status when it changes, not at each second of its countdown",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.stop();
    // The 4th attempt waits 8 s (1, 2, 4, 8, then 10 s): a countdown of
    // several seconds with nothing else to say.
    await page.waitForFunction(
      () =>
        /^Reconnecting in [5-8] s \(attempt 4;/.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    // From here: what the status line shows, and each change of a live
    // region's text outside the log (what a screen reader reads out).
    await page.evaluate(() => {
      const state = globalThis as unknown as {
        shown: string[];
        spoken: string[];
      };
      const status = document.getElementById("status")!;
      state.shown = [status.textContent ?? ""];
      state.spoken = [];
      const live = [
        ...document.querySelectorAll(
          "[role=status], [role=alert], [aria-live]:not([aria-live=off])",
        ),
      ].filter((region) => region.closest("#log") === null);
      for (const region of live) {
        new MutationObserver(() => {
          state.spoken.push(`${region.id}: ${region.textContent}`);
        }).observe(region, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      }
      new MutationObserver(() => {
        state.shown.push(status.textContent ?? "");
      }).observe(status, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    // Three seconds counted down in the status line, the attempt the same.
    await page.waitForFunction(
      () => {
        const { shown } = globalThis as unknown as { shown: string[] };
        return new Set(shown).size >= 3;
      },
      { timeout: WAIT_MS },
    );
    const { shown, spoken } = await page.evaluate(() => {
      const { shown, spoken } = globalThis as unknown as {
        shown: string[];
        spoken: string[];
      };
      return { shown, spoken };
    });
    assert.ok(
      shown.every((line) => /\(attempt 4;/.test(line)),
      shown.join("\n"),
    );
    assert.deepEqual(spoken, [], `Read out:\n${spoken.join("\n")}`);
    // What it says aloud is there for a screen reader all along.
    const regions = await page.$$eval(
      "[role=status]",
      (found) => found.map((region) => region.textContent ?? ""),
    );
    assert.ok(
      regions.some((text) => /^Reconnecting in \d s \(attempt 4;/.test(text)),
      regions.join("\n"),
    );
    assert.ok(
      problems.every((problem) => /ERR_CONNECTION_REFUSED/.test(problem)),
      problems.join("\n"),
    );
  },
});
