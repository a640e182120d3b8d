/// <reference lib="dom" />
/**
 * A file offer's question (Accept / Decline) on the page that ends without
 * an answer loses its buttons, and says in their place how it ended: its
 * sender took it back, its sender left, the page's deadline passed, or the
 * page signed out (/quit). Before, only the connection's end took them away
 * (and said "disconnected.;"): after the others the buttons stayed,
 * and Accept then said "Accepted" and answered no one, and a withdrawn
 * offer was later "declined: you did not answer in time". In real Chromium
 * against a real `chat serve` and real terminals. Slow (a browser starts):
 * in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  logRows,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** The Accept and Decline buttons the page's log shows now for `file`. */
function buttons(page: Page, file: string): Promise<number> {
  return page.$$eval(
    "#log .line.offer button",
    (all, file) =>
      all.filter((b) => b.getAttribute("aria-label")?.includes(` ${file} `))
        .length,
    file,
  );
}

/** Waits until the page asks about `file` (its Accept button shows). */
async function asked(page: Page, file: string): Promise<void> {
  await page.waitForSelector(
    `#log .line.offer button[aria-label^="Accept ${file} "]`,
    { timeout: WAIT_MS },
  );
}

Deno.test({
  name:
    "web client: a file offer's question that ends unanswered (taken back, its sender gone, its deadline passed, signed out) loses its Accept and Decline",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    for (const name of ["a.txt", "b.txt", "c.txt", "d.txt"]) {
      await Deno.writeTextFile(`${chat.dir}/${name}`, "meeting notes\n");
    }

    // Taken back by its sender.
    await termy.write(`/file webby ${chat.dir}/a.txt\n`);
    await asked(page, "a.txt");
    await termy.write("/transfers\n");
    await termy.waitFor(/1\. offered a\.txt to webby: waiting for an answer/);
    await termy.write("/cancel 1\n");
    await waitForLine(page, /^termy took back the offer of a\.txt\.$/);
    assert.equal(await buttons(page, "a.txt"), 0);

    // Its sender gone before an answer.
    const termo = await chat.terminal("termo");
    await termo.write(`/file webby ${chat.dir}/b.txt\n`);
    await asked(page, "b.txt");
    termo.kill("SIGKILL");
    await termo.finish();
    await waitForLine(
      page,
      /^Declined b\.txt \(14 B\) from termo: termo disconnected\.$/,
    );
    assert.equal(await buttons(page, "b.txt"), 0);

    // Not answered in time: the page's 60 s deadline (two thirds of the
    // server's 90 s) hurried to a moment, Chromium's own timer otherwise.
    await page.evaluate(() => {
      const real = globalThis.setTimeout;
      const hurried = (handler: TimerHandler, ms?: number) =>
        real(handler, ms === 60_000 ? 100 : ms);
      globalThis.setTimeout = hurried as typeof setTimeout;
      (globalThis as unknown as { real: typeof setTimeout }).real = real;
    });
    await termy.write(`/file webby ${chat.dir}/c.txt\n`);
    await waitForLine(
      page,
      /^Declined c\.txt \(14 B\) from termy: you did not answer in time\.$/,
    );
    assert.equal(await buttons(page, "c.txt"), 0);
    await termy.waitFor(/webby.*c\.txt|c\.txt.*webby/);
    await page.evaluate(() => {
      globalThis.setTimeout =
        (globalThis as unknown as { real: typeof setTimeout }).real;
    });

    // Signed out (/quit) while asked: one clause, no "disconnected.;".
    await termy.write(`/file webby ${chat.dir}/d.txt\n`);
    await asked(page, "d.txt");
    await page.focus("#line");
    await typeLine(page, "/quit");
    await waitForLine(
      page,
      /^Not answered: d\.txt \(14 B\) from termy: disconnected; termy can offer it again once you are back\.$/,
    );
    assert.equal(await buttons(page, "d.txt"), 0);

    // Each said once, where its question was; nothing accepted.
    const said = await logRows(page);
    assert.equal(
      said.filter((r) => r.includes("took back the offer of a.txt")).length,
      1,
    );
    assert.equal(said.filter((r) => r.includes("Declined b.txt")).length, 1);
    assert.equal(said.filter((r) => r.includes("Declined c.txt")).length, 1);
    assert.equal(said.filter((r) => r.includes("d.txt")).length, 1);
    assert.deepEqual(said.filter((r) => /Accepted|Accept\?/.test(r)), []);
    assert.deepEqual(problems, []);
  },
});

/** How bold the log's row that says `text` is drawn (its computed weight). */
function weightOf(page: Page, text: string): Promise<string[]> {
  return page.$$eval(
    "#log .line",
    (all, text) =>
      all.filter((row) => row.textContent?.startsWith(text))
        .map((row) => getComputedStyle(row).fontWeight),
    text,
  );
}

Deno.test({
  name:
    "web client: a file offer's row is bold while it asks, and plain once answered (accepted or declined) or over",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    for (const name of ["a.txt", "b.txt", "c.txt"]) {
      await Deno.writeTextFile(`${chat.dir}/${name}`, "meeting notes\n");
    }
    const bold = "700";
    const plain = "400";

    await termy.write(`/file webby ${chat.dir}/a.txt\n`);
    await asked(page, "a.txt");
    assert.deepEqual(await weightOf(page, "termy wants to send you a.txt"), [
      bold,
    ]);
    await page.click(`#log button[aria-label^="Accept a.txt "]`);
    await termy.waitFor(/File a\.txt sent to webby successfully\./);
    assert.deepEqual(await weightOf(page, "Accepted a.txt"), [plain]);

    await termy.write(`/file webby ${chat.dir}/b.txt\n`);
    await asked(page, "b.txt");
    await page.click(`#log button[aria-label^="Decline b.txt "]`);
    await termy.waitFor(/webby.*b\.txt|b\.txt.*webby/);
    assert.deepEqual(await weightOf(page, "Declined b.txt"), [plain]);

    // Taken back before an answer: no question left to stand out.
    await termy.write(`/file webby ${chat.dir}/c.txt\n`);
    await asked(page, "c.txt");
    await termy.write("/transfers\n");
    await termy.waitFor(/1\. offered c\.txt to webby: waiting for an answer/);
    await termy.write("/cancel 1\n");
    await waitForLine(page, /^termy took back the offer of c\.txt\.$/);
    assert.deepEqual(
      await weightOf(page, "termy took back the offer of c.txt"),
      [plain],
    );
    assert.deepEqual(problems, []);
  },
});
