/// <reference lib="dom" />
/**
 * The web page receives a file once, even when its sender's connection
 * breaks after the page had all of it but before the sender heard so: the
 * sender offers it again once back (outgoing_files.ts), and the page, which
 * has that very file from that sender, claims it whole (received_files.ts)
 * rather than asking again and keeping a second copy, as the terminal does
 * (tests/e2e/file_once_test.ts). Real Chromium against a real `chat serve`;
 * the sender a real `chat connect` behind a proxy that holds what the
 * server sends it from the moment it has sent the whole file (so the
 * page's verdict is held, whatever the timing), then cut. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  logRows,
  NO_MESSAGE_RATE,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ChatProcess } from "../_helpers/process.ts";

/** Under the 4 MiB window: all of it goes without waiting for an ack. */
const SIZE = 1024 * 1024;

Deno.test({
  name:
    "web client: a file whose sender was cut off before hearing it arrived is received once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const alice = new ChatProcess([
      "connect",
      `127.0.0.1:${proxy.port}`,
      "--pub",
      `${chat.dir}/public.pem`,
      "--user",
      "alice",
    ]);
    try {
      await alice.waitFor(/SUCCESS: Username registered\./);
      await chat.keysOf("webby");
      const bytes = new Uint8Array(SIZE);
      for (let at = 0; at < SIZE; at += 65536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65536));
      }
      const path = `${chat.dir}/live-f1.txt`;
      await Deno.writeFile(path, bytes);
      await alice.write(`/file webby ${path}\n`);
      await page.waitForSelector("#log .line.offer button", {
        timeout: WAIT_MS,
      });
      // From the moment alice has sent the whole file, nothing reaches
      // her: the page's verdict is held at the proxy.
      proxy.holdAfterUp(proxy.upBytes + SIZE);
      const [accept] = await page.$$("#log .line.offer button");
      await accept!.click();
      await waitForLine(page, /^You received file live-f1\.txt from alice\./);
      await proxy.holding();
      assert.doesNotMatch(alice.stdout, /sent to webby successfully/);
      proxy.cutAll();

      // Back, alice offers it again; the page has it already.
      await alice.waitFor(/sent to webby successfully/, 30_000);
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log .line")].some((row) =>
            /here already|Accept/.test(row.textContent ?? "") &&
            !row.querySelector("a")
          ) || document.querySelectorAll("#log .line.offer button").length > 0,
        { timeout: WAIT_MS },
      );
      const shown = await logRows(page);
      assert.ok(
        shown.some((row) =>
          /^alice sent live-f1\.txt again, which is here already/.test(row)
        ),
        shown.join("\n"),
      );
      assert.equal(
        shown.filter((row) => /You received file live-f1/.test(row)).length,
        1,
        shown.join("\n"),
      );
      assert.equal(
        await page.$$eval("#log .line.offer button", (b) => b.length),
        0,
      );
      assert.match(
        alice.stdout,
        /webby has live-f1\.txt already: nothing more to send/,
      );
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      alice.kill();
      await alice.finish();
      await proxy.close();
    }
  },
});
