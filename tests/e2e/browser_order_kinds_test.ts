/// <reference lib="dom" />
/**
 * Lines of several kinds typed in a row in the web client reach the others
 * in the order typed, in real Chromium against a real `chat serve`: a
 * /group line first asks for the members, and the public line typed after
 * it went out first. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { decodeText } from "../../src/client/chat_client.ts";

Deno.test({
  name:
    "web client: a /group line and the public lines typed after it reach a member in the order typed",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const scripty = await chat.signedInClient("scripty");
    try {
      const heard: string[] = [];
      let wake = () => {};
      scripty.onMessage(({ message, body }) => {
        if (message.t !== "public" && message.t !== "group") return;
        heard.push(`${message.t} ${decodeText(body)}`);
        wake();
      });
      assert.equal(
        (await scripty.request({ t: "create", group: "team" })).t,
        "ok",
      );
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await typeLine(page, "/join team");
      await waitForLine(page, /Joined group 'team'/);
      const typed = ["/group team g1", "p1", "/group team g2", "p2"];
      // Typed in a row, each sent before the one before it was answered
      // (as a quick typist's, or lines written while the page waits).
      await page.$eval("#line", (field, lines) => {
        const line = field as HTMLTextAreaElement;
        for (const text of lines) {
          line.value = text;
          line.dispatchEvent(
            new KeyboardEvent("keydown", { key: "Enter", bubbles: true }),
          );
        }
      }, typed);
      while (heard.length < typed.length) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      assert.deepEqual(heard, [
        "group g1",
        "public p1",
        "group g2",
        "public p2",
      ]);
      await page.close();
    } finally {
      await scripty.quit();
    }
  },
});
