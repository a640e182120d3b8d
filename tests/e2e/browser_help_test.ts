/// <reference lib="dom" />
/**
 * /help on the web page, in real Chromium against a real `chat serve`: the
 * commands that work otherwise in a browser say how they work there. It
 * said "/file <username> <filename>  Send a file to a user", which the page
 * then refused (a page cannot read a path), and "/transfers ... running
 * and resumable" of a page that keeps no partial downloads. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: /help says that files go by the File… button on the page, as /file there answers",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);

    await typeLine(page, "/help file");
    await waitForLine(page, /^Usage: \/file <username> <filename>$/);
    await waitForLine(
      page,
      /^ {2}Send a file to a user; in the browser: the File… button, or drop it on the page, while you write to them$/,
    );
    await typeLine(page, "/help");
    await waitForLine(page, /^Type \/help <command> for one command\.$/);
    const help = await page.$$eval(
      "#log .line.help",
      (rows) => rows.map((row) => row.textContent ?? ""),
    );
    const of = (usage: string) =>
      help.filter((line) => line.startsWith(`  ${usage} `));
    assert.match(
      of("/groupfile <groupname> <filename>")[0] ?? "",
      /File… button/,
    );
    assert.match(of("/transfers")[0] ?? "", /no partial ones\)$/);
    assert.doesNotMatch(help.join("\n"), /resumable/);

    // What the help says is what /file answers.
    await typeLine(page, "/file termy notes.txt");
    await waitForLine(
      page,
      /^ERROR: In the browser, send a file with the File… button/,
    );
    assert.deepEqual(problems, []);
  },
});
