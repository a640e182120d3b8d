/// <reference lib="dom" />
/**
 * What the web page holds for files, in a real browser: a received file's
 * object URL (its "Save" link) was never revoked, so every file stayed in
 * memory for the page's life, even after its row had left the log; and a
 * transfer cancelled from the page left its progress bar where it stopped,
 * as if still going (it now says it stopped there).
 * Headless Chromium, a real `chat serve` process, a real `chat connect`
 * process. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a received file's Save link lets the file go once its row leaves the log",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await chat.browser.newPage();
    // Which object URLs the page revokes: Chromium does not say, and the
    // page's CSP (connect-src 'self') lets no fetch try a blob: URL.
    await page.evaluateOnNewDocument(() => {
      const revoked: string[] = [];
      (globalThis as { revoked?: string[] }).revoked = revoked;
      const revoke = URL.revokeObjectURL.bind(URL);
      URL.revokeObjectURL = (url: string) => {
        revoked.push(url);
        revoke(url);
      };
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    await page.goto(chat.url);
    await join(page, "webby");
    const termy = await chat.terminal("termy", "--accept-files", "all");
    await Deno.writeTextFile(`${chat.dir}/notes.txt`, "meeting notes\n");
    await termy.write(`/file webby ${chat.dir}/notes.txt\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });
    const [accept] = await page.$$("#log .line.offer button");
    await accept!.click();
    await termy.waitFor(/File notes\.txt sent to webby successfully\./);
    const link = await page.waitForSelector("#log .line.received a", {
      timeout: WAIT_MS,
    });
    const href = await link!.evaluate((a) => (a as HTMLAnchorElement).href);
    assert.match(href, /^blob:/);
    const revoked = () =>
      page.evaluate(() => (globalThis as { revoked?: string[] }).revoked);
    assert.deepEqual(await revoked(), []);

    // The log keeps its last 5000 rows: /help's lines push the file's row
    // out, as a day of chat would.
    const pushes = await page.evaluate(() => {
      const row = document.querySelector("#log .line.received");
      const form = document.getElementById("send") as HTMLFormElement;
      const line = document.getElementById("line") as HTMLInputElement;
      let count = 0;
      while (row?.isConnected === true && count < 10_000) {
        line.value = "/help";
        form.requestSubmit();
        count++;
      }
      return row?.isConnected === false ? count : null;
    });
    assert.ok(pushes !== null, "the file's row never left the log");
    assert.deepEqual(await revoked(), [href]);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a transfer cancelled from the page stops its progress bar, which says so",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    // A recipient that accepts, acknowledges the first bytes, and then
    // nothing: the page's transfer waits at its window, its bar showing.
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${chat.dir}/public.pem`),
    );
    const stally = await ChatClient.connect(
      chat.url.replace(/^http/, "ws").replace(/\/$/, ""),
      { pinnedSpki: spki },
    );
    try {
      assert.equal((await stally.register("stally")).t, "welcome");
      const acked = new Set<number>();
      stally.onMessage(({ message }) => {
        if (message.t === "file_offer") {
          stally.post({ t: "file_accept", xfer: message.xfer });
        } else if (message.t === "file_chunk" && !acked.has(message.xfer)) {
          acked.add(message.xfer);
          stally.post({ t: "file_ack", xfer: message.xfer, received: 1 });
        }
      });
      const big = new Uint8Array(8 * 1024 * 1024);
      await Deno.writeFile(`${chat.dir}/big.bin`, big);
      await typeLine(page, "/query stally");
      const input = await page.$("#file-input");
      await (input as unknown as { uploadFile(path: string): Promise<void> })
        .uploadFile(`${chat.dir}/big.bin`);
      await page.waitForSelector("#log .line.progress", { timeout: WAIT_MS });

      // As a person would: the numbers /cancel takes are /transfers'.
      await typeLine(page, "/transfers");
      await waitForLine(page, /^ *1\. .*big\.bin/);
      await typeLine(page, "/cancel 1");
      await waitForLine(page, /^Cancelled sending big\.bin\.$/);
      // Its row stays where it stood, saying so, not as if still going.
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log .line.progress")].every((row) =>
            row.classList.contains("stopped") &&
            / stopped at .* \(you cancelled it\)$/.test(row.textContent ?? "")
          ),
        { timeout: WAIT_MS },
      ).catch(async (error) => {
        const rows = await page.$$eval(
          "#log .line",
          (all) => all.map((row) => row.textContent).join("\n"),
        );
        throw new Error(`The progress bar went on:\n${rows}`, {
          cause: error,
        });
      });
      assert.deepEqual(problems, []);
    } finally {
      await stally.quit();
    }
  },
});
