/// <reference lib="dom" />
/**
 * A message over the limit on the page, in real Chromium against a real
 * `chat serve`: refused in the terminal's words, and it stays in the field
 * to be cut and sent, as in other web chats; the field was cleared, and a
 * long text pasted there was gone but for Up. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  waitForLine,
} from "../_helpers/browser.ts";
import { MAX_TEXT_CHARS } from "../../src/protocol/limits.ts";
import {
  MAX_PASTE_CHARS,
  PASTE_TOO_LONG,
} from "../../src/client/bracketed_paste.ts";

Deno.test({
  name:
    "web client: a message over the limit is refused and stays in the field, to everyone and to someone",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const long = "y".repeat(MAX_TEXT_CHARS + 1);
    for (const line of [long, `/msg termy ${long}`]) {
      // As pasted: the field holds it at once.
      await page.$eval(
        "#line",
        (field, line) => ((field as HTMLTextAreaElement).value = line),
        line,
      );
      await page.keyboard.press("Enter");
      await waitForLine(
        page,
        /^ERROR: Message is too long \(the limit is 4000 characters, or 16000 bytes of UTF-8\)$/,
      );
      assert.equal(
        await page.$eval(
          "#line",
          (field) => (field as HTMLTextAreaElement).value,
        ),
        line,
      );
      await page.$$eval(
        "#log .line",
        (rows) => rows.forEach((row) => row.remove()),
      );
    }
    assert.deepEqual(problems, []);
  },
});

// The terminal refuses a paste over MAX_PASTE_CHARS ("Not pasted: ...");
// the page took megabytes into its field, to refuse them only at Enter.
Deno.test({
  name:
    "web client: a paste longer than the terminal takes is refused in the terminal's words, and the field keeps what it had",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.type("#line", "kept");
    const refused = await page.$eval(
      "#line",
      (field, length) => {
        const data = new DataTransfer();
        data.setData("text/plain", "z".repeat(length));
        const paste = new ClipboardEvent("paste", {
          clipboardData: data,
          bubbles: true,
          cancelable: true,
        });
        return !field.dispatchEvent(paste);
      },
      MAX_PASTE_CHARS + 1,
    );
    await waitForLine(page, new RegExp(`^${PASTE_TOO_LONG}$`));
    assert.ok(refused, "the paste's default was prevented");
    assert.equal(
      await page.$eval(
        "#line",
        (field) => (field as HTMLTextAreaElement).value,
      ),
      "kept",
    );
    // One as long as the terminal takes is not refused.
    const taken = await page.$eval(
      "#line",
      (field, length) => {
        const data = new DataTransfer();
        data.setData("text/plain", "z".repeat(length));
        return field.dispatchEvent(
          new ClipboardEvent("paste", {
            clipboardData: data,
            bubbles: true,
            cancelable: true,
          }),
        );
      },
      MAX_PASTE_CHARS,
    );
    assert.ok(taken);
    assert.deepEqual(problems, []);
  },
});
