/// <reference lib="dom" />
/**
 * `/query` on the page, in real Chromium against a real `chat serve`: a
 * name typed wrong, a group that does not exist or one the user is not in
 * is said at once, in the view it opens, in the terminal's words
 * (query_notes.ts); the page said only "Plain lines now go to termx ..."
 * and each line sent there failed one at a time. A name typed in another
 * case is named as the server spells it (`/query TERMY` writes to termy),
 * as in the terminal. Slow (a browser starts):
 * in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
} from "../_helpers/browser.ts";

/** The text of the log's rows the reader can see (the view shown), in order. */
function visibleRows(page: Page): Promise<string[]> {
  return page.$eval(
    "#log",
    (log) =>
      [...log.querySelectorAll(".line")].filter((row) =>
        row.getClientRects().length > 0
      ).map((row) => row.textContent ?? ""),
  );
}

/** Waits until a row of the view shown ends with `text`. */
async function waitForVisible(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (text: string) =>
        [...document.querySelectorAll("#log .line")].some((row) =>
          row.getClientRects().length > 0 &&
          (row.textContent ?? "").endsWith(text)
        ),
      { timeout: WAIT_MS },
      text,
    );
  } catch (error) {
    throw new Error(
      `No row ending '${text}' in the view shown:\n${
        (await visibleRows(page)).join("\n")
      }`,
      { cause: error },
    );
  }
}

Deno.test({
  name:
    "web client: /query of someone not online, or of a group that does not exist or one is not in, says so at once in the view it opens",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    await termy.write("/create crew\n");
    await termy.waitFor(/Group 'crew' created and joined/);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);

    await typeLine(page, "/query termx");
    await waitForVisible(
      page,
      "No one named 'termx' is online now; did you mean termy?",
    );
    await typeLine(page, "/query #nope");
    await waitForVisible(
      page,
      "Group 'nope' does not exist. Create it with /create nope",
    );
    await typeLine(page, "/query #crew");
    await waitForVisible(
      page,
      "You are not a member of group 'crew'. Join it with /join crew",
    );
    // Someone online, and a group one is in, say nothing more.
    await typeLine(page, "/query termy");
    await waitForVisible(
      page,
      "Plain lines now go to termy (private); /query alone goes back to everyone",
    );
    await typeLine(page, "/join crew");
    await waitForVisible(page, "SUCCESS: Joined group 'crew'.");
    await typeLine(page, "/query #crew");
    // The line sent after it shows after whatever the query said.
    await typeLine(page, "hi crew");
    await waitForVisible(page, "Group message to crew: hi crew");
    const rows = await visibleRows(page);
    assert.deepEqual(
      rows.filter((row) => / online now|Join it with|does not exist/.test(row))
        .map((row) => row.replace(/^\[\d\d:\d\d\] /, "")),
      ["You are not a member of group 'crew'. Join it with /join crew"],
      rows.join("\n"),
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: /query TERMY names termy as the server spells it, in its note and on the button left of the input",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    await typeLine(page, "/query TERMY");
    await waitForVisible(
      page,
      "Plain lines now go to termy (private); /query alone goes back to everyone",
    );
    assert.equal(await page.$eval("#target", (e) => e.textContent), "termy");
    assert.deepEqual(problems, []);
  },
});

// Seen trying the README as a new user: `/msg jojp hi` with jojo online
// said only that jojp is not online (the terminal's test: conversations).
Deno.test({
  name:
    "web client: /msg to a name nobody has, and /join of a group that does not exist, add the one name likely meant, as the terminal does",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    await typeLine(page, "/msg termx hi");
    await waitForVisible(
      page,
      "ERROR: User 'termx' is not online. Did you mean termy?",
    );
    // A group made after the page signed in (nobody outside it is told).
    await termy.write("/create crew\n");
    await termy.waitFor(/Group 'crew' created and joined/);
    await typeLine(page, "/join crex");
    await waitForVisible(
      page,
      "ERROR: Group 'crex' does not exist. Did you mean crew?",
    );
    assert.deepEqual(problems, []);
  },
});

// The terminal's /file and /groupfile to a name a slip away say the one
// meant (terminal_slips_test.ts); the page said only how to send a file in
// a browser.
Deno.test({
  name:
    "web client: /file and /groupfile to a name a slip away from one known add the one name likely meant, as the terminal does",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    const browserOnly =
      "ERROR: In the browser, send a file with the File… button or by dropping it on the page; it goes to the person or group you write to";
    await typeLine(page, "/file termx notes.txt");
    await waitForVisible(page, `${browserOnly}. Did you mean termy?`);
    // A group made after the page signed in (nobody outside it is told).
    await termy.write("/create crew\n");
    await termy.waitFor(/Group 'crew' created and joined/);
    await typeLine(page, "/groupfile crex notes.txt");
    await waitForVisible(page, `${browserOnly}. Did you mean crew?`);
    // The name typed right: no guess at another.
    await typeLine(page, "/file termy notes.txt");
    await waitForVisible(page, browserOnly);
    const rows = await visibleRows(page);
    assert.ok(rows.at(-1)!.endsWith(browserOnly), rows.join("\n"));
    assert.deepEqual(problems, []);
  },
});
