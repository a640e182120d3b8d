/// <reference lib="dom" />
/**
 * A file the web page sends whose RECIPIENT's connection broke mid-transfer
 * is offered again to that recipient by itself (after a pause, while the
 * page stays connected) and resumes where it stopped, as the terminal's
 * does (outgoing_files.ts, PROTOCOL.md "Resume": the server's `file_result`
 * says `resumable`). Before, the page said the file was not received and
 * nothing sent it again. Real Chromium against a real `chat serve`; the
 * recipient a real `chat connect` that keeps what arrived, behind a proxy
 * that holds what the server sends it once part of the file came, then cuts
 * it off (it reconnects by itself). Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ChatProcess } from "../_helpers/process.ts";

const SIZE = 6 * 1024 * 1024;

Deno.test({
  name:
    "web client: a file whose recipient's connection broke is offered to it again and resumes where it stopped",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
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
      "--accept-files",
      "all",
      "--downloads",
      downloads,
      "--open-with",
      "true",
    ]);
    try {
      await termy.waitFor(/SUCCESS: Username registered\./);
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      const bytes = new Uint8Array(SIZE);
      for (let at = 0; at < SIZE; at += 65536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65536));
      }
      await Deno.writeFile(`${chat.dir}/big.bin`, bytes);
      await typeLine(page, "/query termy");
      // Once 2 MiB more reached termy, nothing more does; then termy is
      // cut off.
      proxy.holdAt(proxy.downBytes + 2 * 1024 * 1024);
      const input = await page.$("#file-input");
      await (input as unknown as { uploadFile(path: string): Promise<void> })
        .uploadFile(`${chat.dir}/big.bin`);
      await proxy.holding();
      proxy.cutAll();

      // Before: no such line, and nothing offered again.
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
      await termy.waitFor(/You received file big\.bin from webby\./, WAIT_MS);
      assert.deepEqual(await Deno.readFile(`${downloads}/big.bin`), bytes);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await termy.write("/quit\n").catch(() => {});
      termy.kill();
      await termy.finish();
      await proxy.close();
    }
  },
});
