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
import type { Page } from "puppeteer-core";
import {
  join,
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

/**
 * The /help rows naming a command whose description does not start (at
 * every one of its wrapped rows) at one place, right of the command's `/`:
 * what a reader would take for a command's row run on or mixed with it.
 */
function misaligned(page: Page): Promise<string[]> {
  return page.$$eval("#log .line.help", (rows) => {
    /** A range of the characters `start` to `end` of `row`'s text. */
    const rangeOf = (row: Element, start: number, end: number) => {
      const range = document.createRange();
      const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
      let at = 0;
      for (
        let node = walker.nextNode();
        node !== null;
        node = walker.nextNode()
      ) {
        const length = node.textContent?.length ?? 0;
        if (start >= at && start <= at + length) {
          range.setStart(node, start - at);
        }
        if (end >= at && end <= at + length) {
          range.setEnd(node, end - at);
          break;
        }
        at += length;
      }
      return range;
    };
    const bad: string[] = [];
    for (const row of rows) {
      const text = row.textContent ?? "";
      const found = /^( {2}\/\S.*? {2,})(\S.*)$/.exec(text);
      if (found === null) continue;
      const slash = rangeOf(row, 2, 3).getBoundingClientRect().left;
      // The left edge of each of the description's rows on the screen.
      const starts = new Map<number, number>();
      for (
        const box of rangeOf(row, found[1]!.length, text.length)
          .getClientRects()
      ) {
        if (box.width === 0) continue;
        const top = Math.round(box.top);
        starts.set(top, Math.min(starts.get(top) ?? Infinity, box.left));
      }
      const lefts = [...starts.values()];
      if (
        lefts.some((left) =>
          Math.abs(left - lefts[0]!) > 1 || left <= slash + 1
        )
      ) {
        bad.push(
          `${text} (command at ${slash}, description rows at ${
            lefts.join(", ")
          })`,
        );
      }
    }
    return bad;
  });
}

Deno.test({
  name:
    "web client: /help sets each command's description in a column of its own, wrapped under itself (under the command on a phone)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    for (const [width, height] of [[1280, 800], [390, 844]]) {
      const problems: string[] = [];
      const page = await chat.browser.newPage();
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      await page.setViewport({ width: width!, height: height! });
      await page.goto(chat.url);
      await join(page, `webby${width}`);
      await typeLine(page, "/help");
      await waitForLine(page, /^Type \/help <command> for one command\.$/);
      assert.deepEqual(await misaligned(page), [], `at ${width}x${height}`);
      assert.deepEqual(problems, []);
      await page.close();
    }
  },
});

Deno.test({
  name:
    "web client: another chat program's command (/names, /whois, /back) is pointed at ours, as on the terminal",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await typeLine(page, "/names");
    await waitForLine(
      page,
      /^ERROR: Unknown command '\/names'\. Did you mean \/list\? Type \/help for the list of commands$/,
    );
    await typeLine(page, "/whois termy");
    await waitForLine(
      page,
      /^ERROR: Unknown command '\/whois'\. Did you mean \/verify\? Type \/help for the list of commands$/,
    );
    await typeLine(page, "/back");
    await waitForLine(
      page,
      /^ERROR: Unknown command '\/back'\. Did you mean \/away \(alone, it marks you back\)\? Type \/help for the list of commands$/,
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: on a phone the button saying where lines go reads everyone whole, and a long name is cut within the row",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    for (const [width, height] of [[360, 740], [320, 568]]) {
      const problems: string[] = [];
      const page = await chat.browser.newPage();
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      await page.setViewport({ width: width!, height: height! });
      await page.goto(chat.url);
      await join(page, `webby${width}`);
      const target = () =>
        page.$eval("#target", (button) => ({
          text: button.textContent,
          cut: button.scrollWidth > button.clientWidth,
          rowFits: button.parentElement!.scrollWidth <=
            button.parentElement!.clientWidth,
        }));
      // It read "everyo…".
      assert.deepEqual(
        await target(),
        { text: "everyone", cut: false, rowFits: true },
        `at ${width}x${height}`,
      );
      const long = "a".repeat(32);
      await typeLine(page, `/query ${long}`);
      await page.waitForFunction(
        (name: string) =>
          document.querySelector("#target")?.textContent === name,
        {},
        long,
      );
      assert.deepEqual(
        await target(),
        { text: long, cut: true, rowFits: true },
        `at ${width}x${height}`,
      );
      assert.deepEqual(problems, []);
      await page.close();
    }
  },
});
