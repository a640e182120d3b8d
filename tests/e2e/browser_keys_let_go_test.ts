/// <reference lib="dom" />
/**
 * A tab that signs out lets its end-to-end keys' Web Lock go (main.ts
 * stopE2e), so that another tab of the name can take them. Work the tab
 * began before (end-to-end messages still being opened) must not write the
 * keys' records after that: the tab that took the keys reads them when it
 * takes them, and a write landing later would stand in for its own, or
 * over it (two tabs writing one ratchet: a message key used twice). Nor
 * may a tab signed out while it was loading the keys it waited for keep
 * what it read, to open messages with once another tab has them. In real
 * Chromium against a real `chat serve`. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  holdWrites,
  keysHeldElsewhere,
  LEAK_CHECKS_OFF,
  letGo,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** The identity key's fingerprint the page showed at sign-in. */
function identityOf(page: Page): Promise<string> {
  return page.$$eval("#log .line", (rows) => {
    for (const row of rows) {
      const found = /Your identity key: (SHA256:\S+)$/.exec(
        row.textContent ?? "",
      );
      if (found !== null) return found[1]!;
    }
    throw new Error("No identity key in the page's log");
  });
}

/** The record `name` of the page's end-to-end database, as it is now. */
function recordNow(page: Page, name: string): Promise<string | null> {
  return page.evaluate(
    (name: string) =>
      new Promise<string | null>((done, failed) => {
        const opening = indexedDB.open("chat-e2e");
        opening.onerror = () => failed(opening.error);
        opening.onsuccess = () => {
          const get = opening.result.transaction("records").objectStore(
            "records",
          ).get(name);
          get.onerror = () => failed(get.error);
          get.onsuccess = () => {
            opening.result.close();
            done(get.result === undefined ? null : JSON.stringify(get.result));
          };
        };
      }),
    name,
  );
}

Deno.test({
  name:
    "web client: a tab that signed out writes its end-to-end records no more once another tab may have its keys",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const first = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    const termy = await chat.terminal("termy");
    await termy.write("/msg webby zero\n");
    await waitForLine(first, /Private message from termy: zero$/);
    const identity = await identityOf(first);
    const record = `state ${identity} webby`;

    // Three more arrive while the page's writes wait: the first is opened
    // and being saved, the others wait for it.
    await holdWrites(first);
    for (const text of ["one", "two", "three"]) {
      await termy.write(`/msg webby ${text}\n`);
      await termy.waitFor(new RegExp(`Private message to webby: ${text}`));
    }
    // Another tab waits for the keys' lock and, once it has it, reads the
    // state, as a tab taking the keys does, and keeps the lock.
    const next = await openPage(chat.browser, chat.url, problems);
    await next.evaluate(
      (lock: string, record: string) => {
        const state = globalThis as unknown as { taken: string | null };
        void navigator.locks.request(
          lock,
          () =>
            new Promise<void>((_, failed) => {
              const opening = indexedDB.open("chat-e2e");
              opening.onerror = () => failed(opening.error);
              opening.onsuccess = () => {
                const get = opening.result.transaction("records").objectStore(
                  "records",
                ).get(record);
                get.onsuccess = () => {
                  state.taken = JSON.stringify(get.result ?? null);
                };
              };
            }),
        );
      },
      `chat-e2e ${identity} webby`,
      record,
    );

    // A page out of sight does not check its log for the waits below.
    await first.bringToFront();
    await typeLine(first, "/quit");
    await waitForLine(first, /Disconnected\.$/);
    await letGo(first);
    await next.waitForFunction(() =>
      typeof (globalThis as unknown as { taken?: string }).taken === "string"
    );
    // Each of the three is shown, or said not kept.
    await waitForLine(first, /three|let your end-to-end keys go/);
    await waitForLine(first, /two|let your end-to-end keys go/);
    const taken = await next.evaluate(() =>
      (globalThis as unknown as { taken: string }).taken
    );
    // Nothing written after the other tab read what it took.
    assert.ok(
      await recordNow(next, record) === taken,
      "the tab that signed out wrote the state after another tab took the keys",
    );
  },
});

Deno.test({
  name:
    "web client: a tab signed out while it loads the end-to-end keys it waited for keeps nothing it read, and opens nothing with them once another tab has them",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const first = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    const termy = await chat.terminal("termy");
    const identity = await identityOf(first);
    // The second tab signed in waits for the keys behind a third.
    const holder = await keysHeldElsewhere(chat, first, "webby", problems);
    const second = await signedInPage(chat, "webby", problems);
    await waitForLine(
      second,
      /^WARNING: Another tab of this browser is signed in with your end-to-end keys/,
    );
    // It takes them once the third goes, and reads them: held there.
    await holdWrites(second);
    await holder.close();
    await second.waitForFunction(
      async (lock: string) =>
        (await navigator.locks.query()).held?.some((l) => l.name === lock) ===
          true,
      { polling: 50, timeout: WAIT_MS },
      `chat-e2e ${identity}`,
    );
    // Signed out while they load; then they load.
    await second.bringToFront();
    await typeLine(second, "/quit");
    await waitForLine(second, /Disconnected\.$/);
    await letGo(second);

    // Another tab takes the keys, as one signed in as webby would.
    const other = await openPage(chat.browser, chat.url, problems);
    await other.evaluate((lock: string) => {
      void navigator.locks.request(lock, () => new Promise<void>(() => {}));
    }, `chat-e2e ${identity} webby`);
    await other.waitForFunction(
      async (lock: string) =>
        (await navigator.locks.query()).held?.some((l) => l.name === lock) ===
          true,
      { polling: 50, timeout: WAIT_MS },
      `chat-e2e ${identity} webby`,
    );

    // The second tab, signed in again, has no keys: what comes to it end
    // to end waits for them, unopened.
    await second.bringToFront();
    await second.click("#connect-again");
    await waitForLine(second, /^Connected again as webby\.$/);
    await termy.write("/msg webby while another tab has them\n");
    await termy.waitFor(/Private message to webby: while another tab has them/);
    await waitForLine(
      second,
      /while another tab has them|end-to-end message from termy waits? for your end-to-end keys/,
    );
    assert.ok(
      !await second.$$eval(
        "#log .line",
        (rows) =>
          rows.some((row) =>
            (row.textContent ?? "").includes("while another tab has them")
          ),
      ),
      "the tab opened the message with keys another tab has",
    );
  },
});
