/// <reference lib="dom" />
/**
 * Everything a page's status line and sign-in form said, each with the
 * page's clock (Date.now()) when it said it: what a test asks of the order
 * of what was said, and of when a try came against the wait the status
 * line counted down to it.
 */

import type { Page } from "puppeteer-core";

/** One thing said: `line` is "status: ..." or "join-error: ...". */
export interface Said {
  at: number;
  line: string;
}

/** The page's own name for the record: nothing of the page's uses it. */
const RECORD = "__testSaid";

/**
 * Records, from the next document `page` opens on, each new text of
 * #join-error and #status; `said` reads what was recorded.
 */
export async function recordSaid(
  page: Page,
): Promise<{ said(): Promise<Said[]> }> {
  await page.evaluateOnNewDocument((record: string) => {
    const said: { at: number; line: string }[] = [];
    Object.defineProperty(globalThis, record, { value: said });
    // What each said last: a change of the other is not a new thing said.
    const last = new Map<string, string>();
    new MutationObserver(() => {
      for (const id of ["join-error", "status"]) {
        const text = document.getElementById(id)?.textContent ?? "";
        if (text === last.get(id)) continue;
        last.set(id, text);
        if (text !== "") said.push({ at: Date.now(), line: `${id}: ${text}` });
      }
    }).observe(document, {
      subtree: true,
      childList: true,
      characterData: true,
    });
  }, RECORD);
  return {
    said: () =>
      page.evaluate(
        (record: string) =>
          (globalThis as unknown as Record<string, Said[]>)[record]!,
        RECORD,
      ),
  };
}

/**
 * Where in `said` the status line first counted down to a try matching
 * `of` ("try 5 of 6", "attempt 4"), and when that try came at the
 * earliest had it waited its wait out: the countdown said `N s` at `at`,
 * so the try was due after `at` + (N - 1) s.
 */
export function countdownTo(
  said: Said[],
  countdown: RegExp,
): { index: number; dueAfter: number } {
  const index = said.findIndex((s) => countdown.test(s.line));
  if (index === -1) {
    throw new Error(
      `No ${countdown} in what the page said:\n${
        said.map((s) => s.line).join("\n")
      }`,
    );
  }
  const seconds = /in (\d+) s /.exec(said[index]!.line);
  if (seconds === null) {
    throw new Error(`No "in N s" in ${said[index]!.line}`);
  }
  return {
    index,
    dueAfter: said[index]!.at + (Number(seconds[1]) - 1) * 1000,
  };
}
