/// <reference lib="dom" />
/**
 * Two tabs of one browser signed in as one name, in real Chromium against
 * a real `chat serve`: the tab that takes the name over takes the
 * end-to-end keys too, without a reload, once the tab it signed out lets
 * them go; Connect again in that tab takes name and keys back. Before, the
 * signed-out tab kept the keys for as long as it was open, and no tab could
 * send a private or group message or a file. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  keysHeldElsewhere,
  LEAK_CHECKS_OFF,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** Waits until the page's line under the input says it writes end to end. */
async function keysHere(page: Page): Promise<void> {
  try {
    await page.waitForSelector("#privacy.e2e", { timeout: WAIT_MS });
  } catch (error) {
    const said = await page.$eval("#privacy", (e) => e.textContent);
    throw new Error(`The page says '${said}'`, { cause: error });
  }
}

Deno.test({
  name:
    "web client: the tab that takes a name over from another tab gets its end-to-end keys, and Connect again takes both back",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const first = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    const key = await chat.keysOf("webby");

    const second = await openPage(chat.browser, chat.url, problems);
    await join(second, "webby");
    await waitForLine(first, /^Disconnected by the server: you signed in/);
    await waitForLine(
      first,
      /^Your name is signed in elsewhere now .*Connect again \(under the input\) takes it back here, and signs that one out\.$/,
    );
    // The keys came to the second tab (at once, or once the first let
    // them go): what it writes to termy goes end to end.
    await second.bringToFront();
    await second.focus("#line");
    await typeLine(second, "/query termy");
    await keysHere(second);
    await typeLine(second, "/msg termy from the second tab");
    await termy.waitFor(/Private message from webby: from the second tab/);

    // Connect again in the first tab: it signs the second out, and the
    // keys come back with the name.
    await first.bringToFront();
    await first.click("#connect-again");
    await waitForLine(first, /^Connected again as webby\.$/);
    await waitForLine(second, /^Disconnected by the server: you signed in/);
    await first.focus("#line");
    await typeLine(first, "/query termy");
    await keysHere(first);
    await typeLine(first, "/msg termy back in the first tab");
    await termy.waitFor(/Private message from webby: back in the first tab/);
    // One identity key throughout: the same keys, not new ones.
    assert.equal(await chat.keysOf("webby"), key);
    assert.doesNotMatch(termy.stdout, /ERROR/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a tab whose end-to-end keys another tab has takes them once that tab lets them go, without a reload",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const first = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    // A tab that takes the keys once the first lets them go, and keeps
    // them: the second tab signed in next finds them in use.
    const holder = await keysHeldElsewhere(chat, first, "webby", problems);
    const second = await signedInPage(chat, "webby", problems);
    await waitForLine(
      second,
      /^WARNING: Another tab of this browser is signed in with your end-to-end keys: .* until it closes, signs out \(\/quit\) or is signed out; then they come to this tab by themselves$/,
    );
    await typeLine(second, "/msg termy too early");
    await waitForLine(
      second,
      /^ERROR: Not sent: private messages go from the tab of this browser that has your end-to-end keys \(they come to this one once that tab closes or signs out\)$/,
    );
    await holder.close();
    await waitForLine(
      second,
      /^Your end-to-end keys are in this tab now: private and group messages and files work here\.$/,
    );
    await typeLine(second, "/msg termy now from here");
    await termy.waitFor(/Private message from webby: now from here/);
    assert.doesNotMatch(termy.stdout, /too early/);
    assert.deepEqual(problems, []);
  },
});
