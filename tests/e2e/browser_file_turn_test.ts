/// <reference lib="dom" />
/**
 * A file sent from the page after a line said pending takes its place among
 * the lines typed, as the terminal's (outgoing_files.ts `turn`): when that
 * line's late answer is the server's slow_down, the line is said not
 * delivered (unconfirmed_chat.ts `lateRefusal`), not sent again after the
 * file, out of the order sent. Real Chromium against a real `chat serve`
 * held to a few messages at once (`--burst`) and stopped with SIGSTOP while
 * as many /list requests from the page, the line and the file wait in its socket,
 * so that the line is refused when it reads them; nana a real
 * `chat connect`. Slow (a browser starts, and the 10 s wait): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  startBrowserChat,
  typeLine,
  upload,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";
import { freeze } from "../_helpers/freeze.ts";

/**
 * Messages the server lets a connection send at once: enough for the
 * sign-in and the key checks' polling, taken by as many /list requests.
 */
const BURST = 10;

Deno.test({
  name:
    "web client: a line said pending whose late answer is slow_down after a file was sent is said not delivered, not sent again after the file",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(
      "--rate",
      "5",
      "--burst",
      String(BURST),
      "--rate-per-address",
      "0",
    );
    const { page, problems, terminal: nana } = await webbyAnd(chat, "nana");
    await page.focus("#line");
    await typeLine(page, "before");
    await waitForLine(page, /Broadcast message sent: before$/);
    await Deno.writeTextFile(`${chat.dir}/notes.txt`, "some notes\n");
    const pid = chat.server.child.pid;
    await freeze(pid);
    try {
      // Requests that go at once and take the server's tokens when it
      // reads them: the line after them is refused.
      for (let i = 0; i < BURST; i++) await typeLine(page, "/list");
      await typeLine(page, "stuck");
      await waitForLine(
        page,
        /^The server has not answered your message to everyone within 10 seconds: it is still pending/,
      );
      // The file goes behind the pending line, as a line typed now would.
      await typeLine(page, "/query nana");
      await upload(page, `${chat.dir}/notes.txt`);
      // Taken in by the page: its handler empties the input once it sent
      // the files (and took their place) at once.
      await page.waitForFunction(
        () =>
          (document.querySelector("#file-input") as HTMLInputElement)
            .value === "",
      );
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    // Before: the line went again after the server's pause, after the file
    // (and its answer was "sent").
    await waitForLine(
      page,
      /ERROR: Not delivered|Broadcast message sent: stuck$/,
    );
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    assert.ok(
      rows.some((row) => row.includes("ERROR: Not delivered: the server")),
      rows.join("\n"),
    );
    assert.ok(
      !rows.some((row) => row.endsWith("Broadcast message sent: stuck")),
      rows.join("\n"),
    );
    // (The file's own messages, read after the line, are refused too: it
    // says so, and is no part of this test.)
    assert.doesNotMatch(nana.stdout, /stuck/);
    assert.deepEqual(problems, []);
  },
});
