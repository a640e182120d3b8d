/// <reference lib="dom" />
/**
 * What a new user found using the web page, in real Chromium against a real
 * `chat serve` and `chat connect`: a file accepted in the room and cancelled
 * there (/cancel) left the sender's conversation at "Accepted movie.mkv
 * ..." with its progress bar gone and not a word of the cancel, which only
 * the room said; so did a file the page was sending, in the recipient's
 * conversation. The bar now stays where it stood and says so. Slow (a
 * browser starts, 200 MiB go part way): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** Large enough that the page is still at it when /cancel comes. */
const SIZE = 200 * 1024 * 1024;

/** The text of the log's rows the reader can see (not hidden), in order. */
function visibleRows(page: Page): Promise<string[]> {
  return page.$eval(
    "#log",
    (log) =>
      [...log.querySelectorAll(".line")].filter((row) =>
        row.getClientRects().length > 0
      ).map((row) => row.textContent ?? ""),
  );
}

/** Clicks the button named `label` in the lists beside the log. */
async function choose(page: Page, label: string): Promise<void> {
  await page.$eval("#side", (side, label) => {
    const button = [...side.querySelectorAll("li > button:first-child")]
      .find((b) => b.firstChild?.textContent === label);
    if (button === undefined) throw new Error(`No button ${label}`);
    (button as HTMLButtonElement).click();
  }, label);
}

/** A file of `SIZE` zero bytes (sparse: nothing written). */
async function bigFile(path: string): Promise<void> {
  using file = await Deno.open(path, { create: true, write: true });
  await file.truncate(SIZE);
}

Deno.test({
  name:
    "web client: a file cancelled part way says so where its bar stood, in the conversation too (received and sent)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const downloads = `${chat.dir}/downloads`;
    await Deno.mkdir(downloads);
    const termy = await chat.terminal(
      "termy",
      "--accept-files",
      "all",
      "--downloads",
      downloads,
      "--open-with",
      "true",
    );
    await chat.keysOf("webby");

    // Received: accepted and cancelled in the room.
    await bigFile(`${chat.dir}/movie.mkv`);
    await termy.write(`/file webby ${chat.dir}/movie.mkv\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });
    const [accept] = await page.$$("#log .line.offer button");
    await accept!.click();
    await waitForLine(page, /^ movie\.mkv from termy .*%/);
    await typeLine(page, "/transfers");
    await waitForLine(page, /1\. receiving movie\.mkv from termy/);
    await typeLine(page, "/cancel 1");
    await waitForLine(page, /^Cancelled receiving movie\.mkv\.$/);
    await choose(page, "termy");
    const stoppedIn =
      /^ movie\.mkv from termy: stopped at .+ of 200\.0 MiB \(you cancelled it\)$/;
    assert.ok(
      (await visibleRows(page)).some((row) => stoppedIn.test(row)),
      `termy's conversation does not say the file stopped:\n${
        (await visibleRows(page)).join("\n")
      }`,
    );

    // Sent from termy's conversation, cancelled from the room.
    await bigFile(`${chat.dir}/archive.zip`);
    const input = await page.$("#file-input");
    await (input as unknown as { uploadFile(path: string): Promise<void> })
      .uploadFile(`${chat.dir}/archive.zip`);
    await waitForLine(page, /^ archive\.zip to termy .*%/);
    await choose(page, "Everyone");
    await typeLine(page, "/transfers");
    await waitForLine(page, /\d+\. sending archive\.zip to termy/);
    // Numbered on from the first listing's: "2." here.
    const number = await page.$$eval(
      "#log .line",
      (rows) =>
        rows.map((row) => /(\d+)\. sending archive/.exec(row.textContent ?? ""))
          .findLast((found) => found !== null)![1],
    );
    await typeLine(page, `/cancel ${number}`);
    await waitForLine(page, /^Cancelled sending archive\.zip\.$/);
    await choose(page, "termy");
    const sentStopped =
      /^ archive\.zip to termy: stopped at .+ of 200\.0 MiB \(you cancelled it\)$/;
    await page.waitForFunction(
      (source: string) =>
        [...document.querySelectorAll("#log .line")].some((row) =>
          row.getClientRects().length > 0 &&
          new RegExp(source).test(row.textContent ?? "")
        ),
      { timeout: WAIT_MS },
      sentStopped.source,
    ).catch(async (error) => {
      throw new Error(
        `termy's conversation does not say the file stopped:\n${
          (await visibleRows(page)).join("\n")
        }`,
        { cause: error },
      );
    });
    assert.deepEqual(problems, []);
  },
});
