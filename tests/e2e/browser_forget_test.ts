/// <reference lib="dom" />
/**
 * A computer the class shares: whoever sits at the browser after webby gets
 * webby's name filled in, webby's identity key (the name is bound to it),
 * and with it webby's end-to-end keys and archive of private messages
 * (/history). "Forget me in this browser" must leave nothing of webby's for
 * the next person to sign in with.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** What the page keeps in this browser: IndexedDB databases, localStorage keys. */
function kept(): Promise<{ databases: string[]; storage: string[] }> {
  return indexedDB.databases().then((list) => ({
    databases: list.map((d) => d.name ?? "").sort(),
    storage: Object.keys(localStorage).sort(),
  }));
}

/** Waits until `page` is at the join form, and checks no name is filled in. */
async function atEmptyJoinForm(page: Page): Promise<void> {
  await page.waitForFunction(
    () => document.activeElement?.id === "name",
    { timeout: WAIT_MS },
  );
  assert.equal(
    await page.$eval("#name", (e) => (e as HTMLInputElement).value),
    "",
  );
}

Deno.test({
  name:
    "web: 'Forget me in this browser' leaves the next person at the computer no name, identity or end-to-end keys to sign in as the last one",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    const before = await page.evaluate(kept);
    assert.deepEqual(before.databases, ["chat", "chat-e2e", "chat-servers"]);
    assert.ok(before.storage.includes("chat.name"), before.storage.join());

    // Another tab of the page, open at the join form with webby's name.
    const other = await openPage(chat.browser, chat.url, problems);
    await other.waitForFunction(
      () => (document.getElementById("name") as HTMLInputElement).value !== "",
      { timeout: WAIT_MS },
    );
    const otherReloaded = other.waitForNavigation({ timeout: WAIT_MS }).then(
      () => "reloaded",
      () => "still showing webby's page",
    );

    await page.bringToFront();
    // Asked first: it cannot be undone (the name stays bound to the key).
    const asked: string[] = [];
    page.on("dialog", (dialog) => {
      asked.push(dialog.message());
      void dialog.accept();
    });
    await Promise.all([
      page.waitForNavigation({ timeout: WAIT_MS }),
      page.click("#forget"),
    ]);
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /webby/);
    // Every name of this browser has its one identity key: all are lost.
    assert.match(asked[0]!, /every other name signed in from this browser/);

    // The next person: no name filled in, nothing of webby's kept.
    await atEmptyJoinForm(page);
    const after = await page.evaluate(kept);
    // The server key stays remembered: it is the server's, not webby's.
    assert.deepEqual(after.databases, ["chat-servers"]);
    assert.ok(!after.storage.includes("chat.name"), after.storage.join());

    // The other tab starts afresh too: nothing of webby's left in it.
    assert.equal(await otherReloaded, "reloaded");
    await atEmptyJoinForm(other);
    await other.close();

    // Signing in as webby now takes a new identity key, which the server
    // refuses: the name is still bound to webby's key, which is gone.
    await page.keyboard.type("webby");
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      () => (document.getElementById("join-error")?.textContent ?? "") !== "",
      { timeout: WAIT_MS },
    );
    assert.match(
      await page.$eval("#join-error", (e) => e.textContent ?? ""),
      /webby/,
    );
    // Another name works, under a new key.
    await page.$eval("#name", (e) => ((e as HTMLInputElement).value = ""));
    await join(page, "nextkid");
    await waitForLine(page, /Your identity key: SHA256:/);
    assert.deepEqual(problems, []);
  },
});
