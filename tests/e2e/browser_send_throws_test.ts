/// <reference lib="dom" />
/**
 * A chat line whose send throws on the page (its end-to-end state could not
 * be saved: the browser's storage was taken away) is answered
 * `ERROR: Not sent: <reason>`, as the terminal's is (unconfirmed_chat.ts),
 * not dropped without a word; the lines after it still go. In real
 * Chromium against a real `chat serve` and a real `chat connect`. Slow (a
 * browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";
import { E2E_DATABASE_VERSION } from "../../src/web/e2e_store.ts";

Deno.test({
  name:
    "web client: a private line whose end-to-end state cannot be saved is answered 'Not sent' with why, and the next line goes",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, terminal: nana } = await webbyAnd(chat, "nana");
    await chat.keysOf("nana");
    await page.focus("#line");
    await typeLine(page, "/msg nana first");
    await waitForLine(page, /Private message to nana: first$/);
    await nana.waitFor(/first/);
    // Another page upgrading the database: the page's connection to it
    // closes (open_database.ts), and every save after that throws.
    await page.evaluate(
      (version: number) =>
        new Promise<void>((opened, failed) => {
          const opening = indexedDB.open("chat-e2e", version);
          opening.onsuccess = () => opened();
          opening.onerror = () => failed(opening.error);
        }),
      E2E_DATABASE_VERSION + 1,
    );
    await typeLine(page, "/msg nana second");
    await typeLine(page, "then to everyone");
    await waitForLine(page, /Broadcast message sent: then to everyone$/);
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    const failed = rows.findIndex((row) => row.startsWith("ERROR: Not sent: "));
    assert.ok(failed >= 0, `no 'Not sent' line:\n${rows.join("\n")}`);
    assert.match(
      rows[failed]!,
      /^ERROR: Not sent: cannot save the end-to-end sessions in this browser's storage/,
    );
    assert.ok(
      failed < rows.findIndex((row) => row.endsWith("then to everyone")),
      rows.join("\n"),
    );
    assert.ok(!rows.some((row) => row.endsWith("nana: second")));
  },
});
