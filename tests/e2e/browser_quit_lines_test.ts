/// <reference lib="dom" />
/**
 * The web page's /quit asks again when a line was typed after its question,
 * even if as many lines went out meanwhile: the question stands for the
 * lines it named, as the terminal's does (src/client/lines_owed.ts,
 * tests/e2e/order_quit_test.ts). By count, one line gone out and another
 * typed left the count as asked, and the second /quit left with the new
 * line unsent and nothing said. Real Chromium against a real `chat serve`
 * whose rate limit holds the page's lines up, and a real client that hears
 * them. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { decodeText } from "../../src/client/chat_client.ts";

/** What the page's /quit says while typed lines wait their turn. */
const QUESTION = /have not gone out yet[^]*Type \/quit again to leave anyway$/;

Deno.test({
  name:
    "web client: /quit asks again when a line was typed after its question, even if as many went out meanwhile",
  ...LEAK_CHECKS_OFF,
  async fn() {
    // Twelve messages a connection, then one a second: the page's lines
    // typed at once outrun it, and wait behind the one refused.
    await using chat = await startBrowserChat("--rate", "1", "--burst", "12");
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      let wake = () => {};
      sophia.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        heard.push(decodeText(body));
        wake();
      });
      const until = async (done: () => boolean, what: string) => {
        const deadline = Date.now() + WAIT_MS;
        while (!done()) {
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new Error(`${what} never came: ${JSON.stringify(heard)}`);
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, left);
          });
          clearTimeout(timer);
        }
      };
      const problems: string[] = [];
      const page = await openPage(chat.browser, chat.url, problems);
      await join(page, "webby");
      const typed = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
      await page.$eval("#line", (field, lines) => {
        const line = field as HTMLTextAreaElement;
        for (const text of lines) {
          line.value = text;
          line.dispatchEvent(
            new KeyboardEvent("keydown", { key: "Enter", bubbles: true }),
          );
        }
      }, typed);
      await until(() => heard.length >= 1, "line 1");
      await typeLine(page, "/quit");
      await waitForLine(page, QUESTION);
      // One of the lines asked about goes out, and one more is typed: as
      // many wait as when asked (or fewer), but not the same ones.
      const gone = heard.length;
      await until(() => heard.length > gone, `line ${gone + 1}`);
      await typeLine(page, "late line");
      await typeLine(page, "/quit");
      // Asked again, or (before) left: the log says which.
      const outcome = await page.waitForFunction(
        (source: string) => {
          const re = new RegExp(source);
          const rows = [...document.querySelectorAll("#log .line")].map((
            row,
          ) => row.textContent ?? "");
          if (rows.filter((text) => re.test(text)).length >= 2) return "asked";
          if (rows.some((text) => text.endsWith("Disconnected."))) {
            return "left";
          }
          return false;
        },
        { timeout: WAIT_MS },
        QUESTION.source,
      );
      assert.equal(await outcome.jsonValue(), "asked");
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await sophia.quit();
    }
  },
});
