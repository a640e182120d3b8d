/// <reference lib="dom" />
/**
 * What a user tester found reading the web page, in real Chromium against a
 * real `chat serve` and `chat connect`: messages that came below a reader
 * scrolled up said nothing (now "N new lines ↓" at the log's bottom
 * edge); a finished transfer's row kept its speed and time left; on a
 * phone the header took the height the log needed. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  inView,
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** The "new lines" button's text, "" while it is hidden or missing. */
function newBelow(page: Page): Promise<string> {
  return page.evaluate(() => {
    const button = document.querySelector<HTMLElement>(".new-below button");
    return button === null || button.hidden ? "" : button.textContent ?? "";
  });
}

/** Waits until the "new messages" button says `text` ("": hidden). */
async function waitForNewBelow(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (text: string) => {
        const button = document.querySelector<HTMLElement>(
          ".new-below button",
        );
        const shown = button === null || button.hidden
          ? ""
          : button.textContent ?? "";
        return shown === text;
      },
      { timeout: WAIT_MS },
      text,
    );
  } catch (error) {
    throw new Error(
      `The new lines button says '${await newBelow(page)}', not '${text}'`,
      { cause: error },
    );
  }
}

Deno.test({
  name:
    "web client: messages that come below a reader scrolled up show 'N new lines ↓', which goes to them and clears",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    for (let i = 0; i < 60; i++) await termy.write(`line ${i}\n`);
    await waitForLine(page, /\[Broadcast from termy\]: line 59$/);
    // At the end, what comes is in sight: no button.
    assert.equal(await newBelow(page), "");
    await page.$eval("#log", (log) => (log.scrollTop = 100));

    for (let i = 0; i < 30; i++) await termy.write(`new ${i}\n`);
    await waitForLine(page, /\[Broadcast from termy\]: new 29$/);
    await waitForNewBelow(page, "30 new lines \u2193");
    assert.equal(await page.$eval("#log", (log) => log.scrollTop), 100);
    // At the log's bottom edge, over it, and read out as it changes.
    const place = await page.evaluate(() => {
      const log = document.getElementById("log")!.getBoundingClientRect();
      const button = document.querySelector(".new-below button")!;
      const box = button.getBoundingClientRect();
      return {
        inside: box.top >= log.top && box.bottom <= log.bottom &&
          box.left >= log.left && box.right <= log.right,
        nearBottom: log.bottom - box.bottom < 40,
        live: button.closest("[aria-live]")?.getAttribute("aria-live"),
      };
    });
    assert.deepEqual(place, { inside: true, nearBottom: true, live: "polite" });

    // With the keyboard: Tab from the log reaches it, Enter goes to the
    // newest message and clears it; the focus stays in the log.
    await page.focus("#log");
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      "30 new lines \u2193",
    );
    await page.keyboard.press("Enter");
    await waitForNewBelow(page, "");
    assert.equal(await inView(page, "new 29"), true);
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      "log",
    );

    // Scrolled up again, one more comes; scrolling down to it clears it.
    await page.$eval("#log", (log) => (log.scrollTop = 100));
    await termy.write("one more\n");
    await waitForNewBelow(page, "1 new line \u2193");
    await page.$eval("#log", (log) => (log.scrollTop = log.scrollHeight));
    await waitForNewBelow(page, "");
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a finished transfer's row says the file was received (or sent), without speed or time left",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal(
      "termy",
      "--accept-files",
      "all",
      "--downloads",
      `${chat.dir}/termy downloads`,
      "--open-with",
      "true",
    );
    await Deno.writeTextFile(`${chat.dir}/hi.txt`, "hi");
    await termy.write(`/file webby ${chat.dir}/hi.txt\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });
    const [accept] = await page.$$("#log .line.offer button");
    await accept!.click();
    await termy.waitFor(/File hi\.txt sent to webby successfully\./);
    await page.waitForSelector("#log .line.received a", { timeout: WAIT_MS });
    const row = await page.$eval(
      "#log .line.progress",
      (row) => row.textContent?.trim(),
    );
    // It said "hi.txt from termy 2 B/2 B 100% 2.0 KiB/s 0s left".
    assert.equal(row, "hi.txt from termy: 2 B received");

    // The other way, from the page to the person it writes to.
    const [termyButton] = await page.$$(
      "xpath/.//ul[@id='people']//button[text()='termy']",
    );
    await termyButton!.click();
    await Deno.writeTextFile(`${chat.dir}/ok.txt`, "ok!");
    const input = await page.$("#file-input");
    await (input as unknown as { uploadFile(path: string): Promise<void> })
      .uploadFile(`${chat.dir}/ok.txt`);
    await waitForLine(page, /File ok\.txt sent to termy successfully\.$/);
    const rows = await page.$$eval(
      "#log .line.progress",
      (rows) => rows.map((row) => row.textContent?.trim()),
    );
    assert.deepEqual(rows, [
      "hi.txt from termy: 2 B received",
      "ok.txt to termy: 3 B sent",
    ]);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: on a phone (390x844) the header folds to a line and the log gets most of the height; the key and Forget stay reachable",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.setViewport({ width: 390, height: 844 });
    await join(page, "webby");
    const sizes = await page.evaluate(() => ({
      log: document.getElementById("log")!.getBoundingClientRect().height,
      header: document.querySelector("header")!.getBoundingClientRect().height,
      viewport: innerHeight,
    }));
    // It was 250 px under a 175 px header.
    assert.ok(
      sizes.log >= 0.55 * sizes.viewport,
      `The log is ${sizes.log} px of ${sizes.viewport} (header ${sizes.header})`,
    );

    // Forget is on the screen; the key's summary opens to the note.
    const forget = await page.$eval("#forget", (button) => {
      const box = button.getBoundingClientRect();
      return box.height > 0 && box.top >= 0 && box.bottom <= innerHeight;
    });
    assert.equal(forget, true);
    const noteShown = () =>
      page.$eval("#trust-note", (note) => note.checkVisibility());
    assert.equal(await noteShown(), false);
    await page.click("#key > summary");
    assert.equal(await noteShown(), true);
    await page.click("#key > summary");
    assert.match(
      await page.$eval("#trust-note", (note) => note.textContent ?? ""),
      /^First visit: /,
    );

    // A changed server key is not folded away on a phone: its warning
    // shows at once. (Another key remembered for this server, as
    // browser_test.ts does it.)
    await page.evaluate(() =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("chat-servers", 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction("keys", "readwrite");
          tx.objectStore("keys").put(
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            `chat.server-key.${location.host}`,
          );
          tx.oncomplete = () => resolve(open.result.close());
          tx.onabort = () => reject(tx.error);
        };
      })
    );
    await page.reload();
    await page.waitForFunction(
      () => document.body.classList.contains("key-changed"),
      { timeout: WAIT_MS },
    );
    assert.equal(await noteShown(), true);
    assert.match(
      await page.$eval("#trust-note", (note) => note.textContent ?? ""),
      /^ERROR: The server at .* presented the key SHA256:/,
    );

    // On a wide screen the key and its note show as before.
    await page.setViewport({ width: 1280, height: 800 });
    await page.waitForFunction(
      () => (document.getElementById("key") as HTMLDetailsElement).open,
      { timeout: WAIT_MS },
    );
    assert.equal(await noteShown(), true);
    assert.deepEqual(problems, []);
  },
});
