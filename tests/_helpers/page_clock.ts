/// <reference lib="dom" />
/**
 * A page whose monotonic clock (performance.now()) the test moves forward:
 * the page's waits measured on it (a file's re-offer budget, files_view.ts)
 * see minutes pass at once, without the test sleeping them. Its timers run
 * as ever; only what they measure jumps.
 */

import type { Browser, Page } from "puppeteer-core";

/** The page's own name for the hook: nothing of the page's uses it. */
const HOOK = "__testClockForward";

/**
 * Opens `url` in `browser` (as openPage: script errors go in `problems`)
 * with a clock the test moves forward with `forward`.
 */
export async function openPageWithClock(
  browser: Browser,
  url: string,
  problems: string[],
): Promise<{ page: Page; forward(ms: number): Promise<void> }> {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console error: ${message.text()}`);
    }
  });
  // Before the page's own scripts: every reading of the clock is moved.
  await page.evaluateOnNewDocument((hook: string) => {
    const real = performance.now.bind(performance);
    let ahead = 0;
    Object.defineProperty(performance, "now", {
      value: () => real() + ahead,
      configurable: true,
    });
    Object.defineProperty(globalThis, hook, {
      value: (ms: number) => {
        ahead += ms;
      },
    });
  }, HOOK);
  await page.goto(url);
  return {
    page,
    forward: (ms) =>
      page.evaluate(
        (hook: string, ms: number) => {
          (globalThis as unknown as Record<string, (ms: number) => void>)[
            hook
          ]!(ms);
        },
        HOOK,
        ms,
      ),
  };
}
