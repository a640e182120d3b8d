/// <reference lib="dom" />
/**
 * The page whose first connection the server refuses for its address's
 * handshake rate (a 503 with `Retry-After`, docs/PROTOCOL.md 1.1: the 31st
 * classmate loading the page at the same second) tries again with a
 * reconnection's waits, saying so in its status line and not as an ERROR,
 * and connects once the server lets it: a browser does not tell a page why
 * its WebSocket failed. A real `chat serve` held to one new connection
 * every 5 s for the address, and Chromium.
 */

import assert from "node:assert/strict";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  WAIT_MS,
} from "../_helpers/browser.ts";
import { startTestServer } from "../_helpers/chat.ts";

/** The page's files, as the server served them (one keep-alive connection). */
async function pageFiles(
  url: string,
): Promise<
  Map<
    string,
    { status: number; headers: Record<string, string>; body: Uint8Array }
  >
> {
  const files = new Map<
    string,
    { status: number; headers: Record<string, string>; body: Uint8Array }
  >();
  for (const path of ["", "style.css", "app.js", "favicon.svg"]) {
    const response = await fetch(url + path);
    assert.equal(response.status, 200, path);
    files.set(url + path, {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: new Uint8Array(await response.arrayBuffer()),
    });
  }
  return files;
}

/**
 * Opens new connections from this address until the server refuses one
 * for the handshake rate: its tokens for the address are spent, and the
 * next comes in 5 s.
 */
async function spendHandshakes(port: number): Promise<void> {
  for (;;) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(
        new TextEncoder().encode(
          "GET /favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ),
      );
      const head = new Uint8Array(64);
      const n = await conn.read(head);
      const status = new TextDecoder().decode(head.subarray(0, n ?? 0));
      // Refused (a 503), or closed unanswered once the server is done
      // answering refusals too.
      if (!status.startsWith("HTTP/1.1 200")) return;
    } finally {
      conn.close();
    }
  }
}

Deno.test({
  name:
    "web client: a first connection refused for the address's handshake rate is tried again, said in the status line, and connects",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer({
      connectionLimits: { handshakesPerSecond: 0.2, handshakeBurst: 6 },
    });
    const url = `http://127.0.0.1:${server.port}/`;
    const browser = await launchBrowser();
    await using _ = { [Symbol.asyncDispose]: () => browser.close() };
    // The page's own files come from here: what a class's loads cost the
    // address is spent below, all at once.
    const files = await pageFiles(url);
    const problems: string[] = [];
    const page = await browser.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    page.on("console", (message) => {
      // The refused WebSocket, which Chromium reports on the console.
      if (message.text().includes("WebSocket connection to")) {
        problems.push(`refused: ${message.text()}`);
      } else if (message.type() === "error") {
        problems.push(`console error: ${message.text()}`);
      }
    });
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      const file = files.get(request.url());
      // The page itself comes from the server (a page of another origin
      // may not open a WebSocket to this machine); its script once what
      // the class's loads cost the address is spent.
      if (file === undefined || request.url() === url) {
        void request.continue();
        return;
      }
      const spent = request.url().endsWith("/app.js")
        ? spendHandshakes(server.port)
        : Promise.resolve();
      void spent.then(() =>
        request.respond({
          status: file.status,
          headers: file.headers,
          body: file.body,
        })
      );
    });
    // Everything the sign-in form and the status line ever said.
    await page.evaluateOnNewDocument(() => {
      const said: string[] = [];
      (globalThis as unknown as { said: string[] }).said = said;
      new MutationObserver(() => {
        for (const id of ["join-error", "status"]) {
          const text = document.getElementById(id)?.textContent ?? "";
          if (text !== "" && said.at(-1) !== `${id}: ${text}`) {
            said.push(`${id}: ${text}`);
          }
        }
      }).observe(document, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    });
    await page.goto(url);

    await page.waitForFunction(
      () =>
        /^Connecting in \d+ s \(try 2 of 6\): the server at 127\.0\.0\.1:\d+ did not let this page in yet/
          .test(document.getElementById("status")?.textContent ?? ""),
      { timeout: WAIT_MS },
    );
    // Joined once the server lets it in, as a person does: the name typed
    // and Enter pressed while it waits.
    await join(page, "webby");
    const said = await page.evaluate(() =>
      (globalThis as unknown as { said: string[] }).said
    );
    assert.ok(!said.some((line) => line.includes("ERROR")), said.join("\n"));
    assert.equal(
      await page.$eval("#join-error", (e) => e.textContent ?? ""),
      "",
    );
    assert.match(
      await page.$eval("#status", (e) => e.textContent ?? ""),
      /^Connected to 127\.0\.0\.1:\d+$/,
    );
    // It was refused first (with a 503, or closed unanswered): Chromium
    // said so on the console.
    assert.ok(
      problems.some((p) => p.startsWith("refused:")),
      problems.join("\n"),
    );
    assert.deepEqual(
      problems.filter((p) => !p.startsWith("refused:")),
      [],
    );
    await page.close();
  },
});
