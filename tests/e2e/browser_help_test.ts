/// <reference lib="dom" />
/**
 * What the web page tells a user of its commands and forms, in real
 * Chromium against a real `chat serve`. /help: the commands that work
 * otherwise in a browser say how they work there (it said "/file <username>
 * <filename>  Send a file to a user", which the page then refused, a page
 * cannot read a path, and "/transfers ... running and resumable" of a page
 * that keeps no partial downloads). The Create field: a name with a space is
 * told the naming rule (it was "Usage: /create <groupname>"). Slow (a
 * browser starts): in `deno task test:slow`.
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

Deno.test({
  name:
    "web client: a group name with a space in the Create field is told the naming rule, not /create's usage, and kept to correct",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);

    await page.focus("#group-name");
    await typeLine(page, "study group");
    await waitForLine(
      page,
      /^ERROR: Invalid group name 'study group': names are 1-32 characters of ASCII letters, digits, '_', '-' and '\.'$/,
    );
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    assert.ok(!rows.includes("Usage: /create <groupname>"), rows.join("\n"));
    // Kept in the field: a dash, and it is made.
    assert.equal(
      await page.$eval("#group-name", (e) => (e as HTMLInputElement).value),
      "study group",
    );
    await page.$eval("#group-name", (e) => {
      (e as HTMLInputElement).value = (e as HTMLInputElement).value
        .replace(" ", "-");
    });
    await page.keyboard.press("Enter");
    await waitForLine(
      page,
      /^SUCCESS: Group 'study-group' created and joined\.$/,
    );
    assert.equal(
      await page.$eval("#group-name", (e) => (e as HTMLInputElement).value),
      "",
    );
    assert.deepEqual(problems, []);
  },
});
