/// <reference lib="dom" />
/**
 * Several lines in one message, in real Chromium against a real
 * `chat serve`: Shift+Enter starts a new line in the message field (it was
 * one line, and Shift+Enter sent), the field grows with them, and Enter
 * sends them as one message whose body holds the line breaks
 * (docs/PROTOCOL.md, "Line breaks"); a message of several lines that comes
 * shows them as the lines of one row, each made safe (they showed as `^J`),
 * none of them a row of its own nor any HTML. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { decodeText } from "../../src/client/chat_client.ts";

/** The height of the message field, in CSS pixels. */
function fieldHeight(page: Page): Promise<number> {
  return page.$eval("#line", (e) => e.getBoundingClientRect().height);
}

Deno.test({
  name:
    "web client: Shift+Enter starts a new line, the field grows, and Enter sends the lines as one message",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const scripty = await chat.signedInClient("scripty");
    try {
      const bodies: string[] = [];
      let heard = () => {};
      scripty.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        bodies.push(decodeText(body));
        heard();
      });
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await page.focus("#line");
      const oneLine = await fieldHeight(page);

      await page.keyboard.type("first line");
      await page.keyboard.down("Shift");
      await page.keyboard.press("Enter");
      await page.keyboard.press("Enter");
      await page.keyboard.up("Shift");
      await page.keyboard.type("third line");
      assert.equal(
        await page.$eval("#line", (e) => (e as HTMLTextAreaElement).value),
        "first line\n\nthird line",
      );
      // Two lines more: each about 1.2 times the 16px font.
      const threeLines = await fieldHeight(page);
      assert.ok(
        threeLines - oneLine >= 30,
        `the field did not grow: ${oneLine}px, then ${threeLines}px`,
      );

      const arrived = new Promise<void>((resolve) => (heard = resolve));
      await page.keyboard.press("Enter");
      await arrived;
      assert.deepEqual(bodies, ["first line\n\nthird line"]);
      assert.equal(
        await page.$eval("#line", (e) => (e as HTMLTextAreaElement).value),
        "",
      );
      // The field is one line high again, and the sender's confirmation is
      // one row with the lines.
      await page.waitForFunction(
        (height: number) =>
          document.getElementById("line")!.getBoundingClientRect().height <=
            height,
        { timeout: WAIT_MS },
        oneLine,
      );
      await waitForLine(
        page,
        /^\[\d\d:\d\d\] Broadcast message sent: first line\n\nthird line$/,
      );

      // Lines that come: one row, its lines each made safe, no HTML.
      const said = await scripty.say(
        "one\n<b id=bold>two</b>\r\n\x1b[31mthree\u202e\n[12:00] <admin> forged",
      );
      assert.equal(said.t, "ok");
      await waitForLine(page, /\[Broadcast from scripty\]: one\n/);
      const row = await page.$$eval(
        "#log .line",
        (rows) =>
          rows.map((r) => r.textContent ?? "").filter((t) =>
            t.includes("[Broadcast from scripty]")
          ),
      );
      assert.equal(row.length, 1, row.join("|"));
      assert.match(
        row[0]!,
        /\[Broadcast from scripty\]: one\n<b id=bold>two<\/b>\n\^\[\[31mthree<U\+202E>\n\[12:00\] <admin> forged$/,
      );
      assert.equal(await page.$("#bold"), null);
      // Its lines after the first are set in, as a wrapped row's are: none
      // reads as a line of the log.
      const starts = await page.$$eval("#log .line", (rows) => {
        const row = rows.find((r) =>
          (r.textContent ?? "").includes("[Broadcast from scripty]")
        )!;
        const range = document.createRange();
        range.selectNodeContents(row);
        return [...range.getClientRects()].map((r) => Math.round(r.left));
      });
      const first = Math.min(...starts);
      assert.ok(
        starts.filter((left) => left > first).length >= 3,
        `lines not set in: ${starts.join(", ")}`,
      );

      // Ten lines: the field stops at six, and scrolls.
      await page.focus("#line");
      for (let n = 1; n <= 10; n++) {
        await page.keyboard.type(`line ${n}`);
        if (n < 10) {
          await page.keyboard.down("Shift");
          await page.keyboard.press("Enter");
          await page.keyboard.up("Shift");
        }
      }
      const [height, scrolls] = await page.$eval("#line", (e) =>
        [
          e.getBoundingClientRect().height,
          e.scrollHeight > e.clientHeight,
        ] as const);
      assert.ok(height < oneLine + 6 * 24, `${height}px high`);
      assert.ok(height > oneLine + 4 * 16, `${height}px high`);
      assert.ok(scrolls);
      assert.deepEqual(problems, []);
    } finally {
      await scripty.quit();
    }
  },
});
