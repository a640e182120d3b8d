/// <reference lib="dom" />
/**
 * A file the web page sends whose recipient's connection broke is offered
 * again for up to RESEND_BUDGET_MS (5 minutes) of time the page is
 * connected (resend_schedule.ts), then given up with a line that says so;
 * time the page itself is disconnected does not count. Real Chromium whose
 * clock (performance.now()) the test moves forward (page_clock.ts): the
 * minutes pass without being waited. The recipient a real `chat connect`
 * behind a proxy that holds what the server sends it once part of the
 * file came, then is stopped and cut off. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { RESEND_BUDGET_MS } from "../../src/client/resend_schedule.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { openPageWithClock } from "../_helpers/page_clock.ts";
import { ChatProcess } from "../_helpers/process.ts";

const SIZE = 6 * 1024 * 1024;

const GAVE_UP =
  /ERROR: Gave up offering big\.bin again: not taken in 5 minutes connected; send it again later and it resumes where it stopped$/;

/** termy takes every file into `downloads`. */
function takesAll(downloads: string): string[] {
  return [
    "--accept-files",
    "all",
    "--downloads",
    downloads,
    "--open-with",
    "true",
  ];
}

/**
 * webby's page (with a clock the test moves) sending big.bin to termy,
 * whose process is gone mid-transfer (killed): the page offers it again.
 */
async function offeredAgainToNoOne(
  chat: Awaited<
    ReturnType<typeof startBrowserChat>
  >,
) {
  const proxy = new HoldingProxy(Number(new URL(chat.url).port));
  const downloads = `${chat.dir}/downloads`;
  await Deno.mkdir(downloads);
  const termy = new ChatProcess([
    "connect",
    `127.0.0.1:${proxy.port}`,
    "--pub",
    `${chat.dir}/public.pem`,
    "--user",
    "termy",
    ...takesAll(downloads),
  ]);
  await termy.waitFor(/SUCCESS: Username registered\./);
  const problems: string[] = [];
  const { page, forward } = await openPageWithClock(
    chat.browser,
    chat.url,
    problems,
  );
  await join(page, "webby");
  await chat.keysOf("webby");
  const bytes = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(`${chat.dir}/big.bin`, bytes);
  await typeLine(page, "/query termy");
  // Once 2 MiB more reached termy, nothing more does; then termy is gone.
  proxy.holdAt(proxy.downBytes + 2 * 1024 * 1024);
  const input = await page.$("#file-input");
  await (input as unknown as { uploadFile(path: string): Promise<void> })
    .uploadFile(`${chat.dir}/big.bin`);
  await proxy.holding();
  // Gone without a word (no /quit): its connection broken, the transfer is
  // one to resume; frozen first, it cannot reconnect.
  await termy.freeze();
  proxy.cutAll();
  termy.kill("SIGKILL");
  await termy.finish();
  await waitForLine(
    page,
    /^big\.bin will be offered again, resuming where it stopped$/,
  );
  return { proxy, page, forward, problems, bytes, downloads };
}

function pageText(page: Page): Promise<string> {
  return page.$eval("#log", (log) => log.textContent ?? "");
}

Deno.test({
  name:
    "web client: a file whose recipient never comes back is given up after 5 minutes connected, with a line that says so",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const { proxy, page, forward, problems } = await offeredAgainToNoOne(chat);
    try {
      // The budget passes, connected, while the page waits to offer again.
      await forward(RESEND_BUDGET_MS);
      await waitForLine(page, GAVE_UP);
      await typeLine(page, "/transfers");
      await waitForLine(page, /^No file transfers\.$/);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: time the page spends disconnected while a file waits to be offered again does not count against its 5 minutes",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const { proxy, page, forward, problems, bytes, downloads } =
      await offeredAgainToNoOne(chat);
    try {
      // The page's connection goes, in a pause before an offer again.
      await chat.stop();
      await page.waitForFunction(
        () => document.body.textContent?.includes("Reconnecting"),
        { timeout: WAIT_MS },
      );
      // Offline longer than the whole budget.
      await forward(RESEND_BUDGET_MS + 60_000);
      await chat.start();
      await waitForLine(page, /Reconnected as webby\.$/);
      // termy back: the page, still offering it, reaches it.
      const termy = await chat.terminal("termy", ...takesAll(downloads));
      await termy.waitFor(/You received file big\.bin from webby\./, WAIT_MS);
      await waitForLine(page, /File big\.bin sent to termy successfully\.$/);
      assert.deepEqual(await Deno.readFile(`${downloads}/big.bin`), bytes);
      // Before: given up as soon as the page was back, charged the time
      // it was offline; termy never had it.
      assert.doesNotMatch(await pageText(page), /Gave up offering/);
      // The browser reports each try while the server was down.
      assert.deepEqual(
        problems.filter((p) => !/ERR_CONNECTION_REFUSED/.test(p)),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});
