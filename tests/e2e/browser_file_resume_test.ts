/// <reference lib="dom" />
/**
 * A file the web page was sending when its connection dropped is offered
 * again once the page is back, and resumes where it stopped, as the
 * terminal's does (outgoing_files.ts, PROTOCOL.md 5.6 "Resume"): the page
 * still holds the file, so it checks the recipient's claim and starts
 * there. Before, the page said the file stopped and nothing sent it again.
 * Real Chromium behind a proxy that holds what the server sends the page
 * once part of the file went up, then cuts the connection; the recipient a
 * real `chat connect` that keeps what arrived. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";

/** Over the 4 MiB window: the page stops at it while the acks are held. */
const SIZE = 6 * 1024 * 1024;

Deno.test({
  name:
    "web client: a file whose sending a dropped connection broke is offered again once back and resumes where it stopped",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    try {
      const problems: string[] = [];
      const page = await openPage(
        chat.browser,
        `http://127.0.0.1:${proxy.port}/`,
        problems,
      );
      await join(page, "webby");
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
      const bytes = new Uint8Array(SIZE);
      for (let at = 0; at < SIZE; at += 65536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65536));
      }
      await Deno.writeFile(`${chat.dir}/big.bin`, bytes);

      await typeLine(page, "/query termy");
      // Once 2 MiB of it went up, nothing reaches the page: termy's acks
      // are held, and the page stops at its window.
      proxy.holdAfterUp(proxy.upBytes + 2 * 1024 * 1024);
      const input = await page.$("#file-input");
      await (input as unknown as { uploadFile(path: string): Promise<void> })
        .uploadFile(`${chat.dir}/big.bin`);
      await proxy.holding();
      proxy.cutAll();

      await waitForLine(
        page,
        /^big\.bin will be offered again, resuming where it stopped$/,
      );
      const [, from] = await termy.waitFor(
        /Resuming big\.bin from webby at ([1-9][\d.]* (?:B|KiB|MiB)) of 6\.0 MiB/,
        WAIT_MS,
      );
      await waitForLine(
        page,
        new RegExp(
          `^Resuming big\\.bin to termy at ${
            RegExp.escape(from!)
          } of 6\\.0 MiB$`,
        ),
      );
      await waitForLine(page, /File big\.bin sent to termy successfully\.$/);
      await termy.waitFor(/You received file big\.bin from webby\./);
      assert.deepEqual(await Deno.readFile(`${downloads}/big.bin`), bytes);
      assert.deepEqual(
        problems.filter((p) => !/ERR_CONNECTION|WebSocket/.test(p)),
        [],
      );
      await page.close();
    } finally {
      await proxy.close();
    }
  },
});
