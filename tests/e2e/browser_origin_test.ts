/// <reference lib="dom" />
/**
 * Cross-site WebSocket hijacking in a real Chromium: a page from another
 * port of the same host (any other site is the same to the browser) opens a
 * WebSocket to the chat server from its visitor's browser. The server must
 * refuse it, and still take its own page's.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";

/**
 * What becomes of a WebSocket the page opens to `url`: let in (the server
 * speaks first, its handshake hello), refused, or no answer in time.
 */
function webSocketOutcome(page: Page, url: string): Promise<string> {
  return page.evaluate(
    (url: string, ms: number) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.binaryType = "arraybuffer";
        ws.onmessage = () => {
          ws.close();
          resolve("let in: the server sent its hello");
        };
        ws.onclose = () => resolve("refused");
        setTimeout(() => resolve("no answer"), ms);
      }),
    url,
    WAIT_MS,
  );
}

Deno.test({
  name:
    "web: a page from another origin cannot open a WebSocket to the chat server from its visitor's browser; the chat's own page can",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const chatPort = new URL(chat.url).port;
    // The other site: a page of its own on another port of this host.
    await using evil = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>free homework answers</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    const page = await chat.browser.newPage();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    const outcome = await webSocketOutcome(
      page,
      `ws://127.0.0.1:${chatPort}/`,
    );
    assert.equal(outcome, "refused");

    // The chat's own page, in the same browser, still connects and joins.
    const problems: string[] = [];
    const own = await openPage(chat.browser, chat.url, problems);
    await join(own, "webby");
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web: a page from another origin that opens the chat page keeps no handle on it to send it elsewhere later (reverse tabnabbing)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    await using evil = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>class links</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    const page = await chat.browser.newPage();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    // The link the other site offers: "our class chat".
    const opened = chat.browser.waitForTarget(
      (target) => target.url() === chat.url,
      { timeout: WAIT_MS },
    );
    await page.evaluate((url: string) => {
      (globalThis as { chatTab?: Window | null }).chatTab = open(url);
    }, chat.url);
    const chatPage = (await (await opened).page())!;
    await chatPage.waitForFunction(
      () => document.getElementById("fingerprint")?.textContent !== "…",
      { timeout: WAIT_MS },
    );
    // With a handle, the other site could later send the chat's tab to a
    // look-alike page of its own (`chatTab.location = ...`).
    const severed = await page.evaluate(() =>
      (globalThis as { chatTab?: Window | null }).chatTab?.closed ?? true
    );
    assert.equal(severed, true, "the opener still holds the chat's tab");
  },
});

Deno.test({
  name:
    "web: a page of a DNS rebinding site, its name now pointing at the chat server, gets neither the chat's page nor a WebSocket; a name the server was given works",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(
      "--allowed-host",
      "allowed.test",
    );
    const port = new URL(chat.url).port;
    // Both names resolve to the chat server, as the rebinding site's does
    // once its DNS answer turned: the page that then asks is of its origin.
    const browser = await launchBrowser([
      "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP allowed.test 127.0.0.1",
    ]);
    try {
      const evil = await browser.newPage();
      const page = await evil.goto(`http://evil.test:${port}/`);
      assert.equal(page?.status(), 403);
      assert.match(
        await page!.text(),
        /does not answer to the name 'evil\.test'.*--allowed-host evil\.test/,
      );
      assert.equal(
        await webSocketOutcome(evil, `ws://evil.test:${port}/`),
        "refused",
      );
      // The same, under a name the server was given (a path that is not
      // the page: no redirect to https://).
      const allowed = await browser.newPage();
      const other = await allowed.goto(`http://allowed.test:${port}/nothing`);
      assert.equal(other?.status(), 426);
      assert.equal(
        await webSocketOutcome(allowed, `ws://allowed.test:${port}/`),
        "let in: the server sent its hello",
      );
    } finally {
      await browser.close();
    }
  },
});
