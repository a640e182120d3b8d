/// <reference lib="dom" />
/**
 * The page's first connection. One the server refuses for its address's
 * handshake rate (a 503 with `Retry-After`, docs/PROTOCOL.md 1.1: the 31st
 * classmate loading the page at the same second) is tried again with a
 * reconnection's waits, said in its status line and not as an ERROR, and
 * connects once the server lets it: a browser does not tell a page why its
 * WebSocket failed. One whose WebSocket opened but whose handshake failed
 * has a reason, said at once and not tried again unasked; one cut in its
 * handshake (as the server cuts one to make room for another address) is
 * tried again. Join, while the page waits for its next try, tries at once.
 * A real `chat serve`, or a stand-in serving its page that does to the
 * WebSocket what a server could (page_stand_in.ts), and Chromium.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  WAIT_MS,
} from "../_helpers/browser.ts";
import { startTestServer } from "../_helpers/chat.ts";
import {
  pageFiles,
  serverTextFrame,
  startPageStandIn,
} from "../_helpers/page_stand_in.ts";
import { countdownTo, recordSaid } from "../_helpers/said_at.ts";
import { HandshakeCutProxy } from "../_helpers/handshake_cut_proxy.ts";
import { HANDSHAKE_TIMEOUT_MS } from "../../src/protocol/limits.ts";

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
    const files = new Map(
      [...await pageFiles(url)].map(([path, file]) => [url + path, file]),
    );
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
      // The page itself comes from the server: a document answered here
      // (request.respond) has no address Chromium knows, and its Local
      // Network Access checks then block its WebSocket to 127.0.0.1
      // (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). Its script once
      // what the class's loads cost the address is spent.
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
    const record = await recordSaid(page);
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
    const said = (await record.said()).map((s) => s.line);
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

/**
 * What goes wrong on `page` goes in `problems`, but for the WebSockets
 * Chromium reports it could not keep (the stand-in's, failed on purpose).
 */
function watchProblems(page: Page, problems: string[]): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    if (
      message.type() === "error" &&
      !/WebSocket connection to .* failed/.test(message.text())
    ) problems.push(`console error: ${message.text()}`);
  });
}

/** What was said, one line each, for an assertion's message. */
function shown(said: { at: number; line: string }[]): string {
  return said.map((s) => `${s.at} ${s.line}`).join("\n");
}

Deno.test({
  name:
    "web client: a first connection whose handshake fails for a reason says it at once, and Join tries again",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer();
    // Each WebSocket gets a hello saying a protocol version this page does
    // not speak, as a newer server's would (the version is read first,
    // docs/PROTOCOL.md 2): its WebSocket opened, and the handshake failed
    // with a reason, which another try would not change.
    await using standIn = await startPageStandIn(
      `http://127.0.0.1:${server.port}/`,
      (socket) =>
        socket.write(
          serverTextFrame('{"type":"server_hello","version":2}'),
        ),
    );
    const browser = await launchBrowser();
    await using _ = { [Symbol.asyncDispose]: () => browser.close() };
    const problems: string[] = [];
    const page = await browser.newPage();
    watchProblems(page, problems);
    const record = await recordSaid(page);
    await page.goto(standIn.url);
    const error =
      /^ERROR: Cannot connect to 127\.0\.0\.1:\d+: Unsupported protocol version 2 \(this client speaks version 1\)$/;
    // Said at once: before, the page tried again after 1, 2, 4 ... s, the
    // status line saying the server "did not let this page in yet".
    await page.waitForFunction(
      () => document.getElementById("join-error")?.textContent !== "",
      { timeout: WAIT_MS },
    );
    assert.match(
      await page.$eval("#join-error", (e) => e.textContent ?? ""),
      error,
      shown(await record.said()),
    );
    const opened = standIn.upgrades;
    // Joining is asking for another try: one more WebSocket, the same
    // reason said.
    await page.waitForFunction(
      () => document.activeElement?.id === "name",
      { timeout: WAIT_MS },
    );
    await page.keyboard.type("webby");
    await page.click("#join-button");
    await standIn.opened(opened + 1);
    await page.waitForFunction(
      () => document.getElementById("join-error")?.textContent !== "",
      { timeout: WAIT_MS },
    );
    assert.match(
      await page.$eval("#join-error", (e) => e.textContent ?? ""),
      error,
    );
    const said = await record.said();
    assert.ok(
      !said.some((s) => s.line.includes("did not let this page in yet")),
      shown(said),
    );
    assert.deepEqual(problems, []);
    await page.close();
  },
});

Deno.test({
  name:
    "web client: a first connection cut in its handshake, as for another address's room, is tried again, not said as an error",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer();
    // The first WebSocket is cut right after its upgrade, before any
    // handshake message, as the server cuts the oldest connection still in
    // its handshake of the address holding the most when another address
    // needs the room (ws_edge.ts, cutOff: a socket destroyed, no Close
    // frame); the next ones hang in their handshake, untouched.
    await using standIn = await startPageStandIn(
      `http://127.0.0.1:${server.port}/`,
      (socket, n) => {
        if (n === 0) socket.destroy();
      },
    );
    const browser = await launchBrowser();
    await using _ = { [Symbol.asyncDispose]: () => browser.close() };
    const problems: string[] = [];
    const page = await browser.newPage();
    watchProblems(page, problems);
    const record = await recordSaid(page);
    await page.goto(standIn.url);
    // Tried again by itself: before, "ERROR: Cannot connect to ...: the
    // connection closed during the handshake" was said at once, as final.
    await page.waitForFunction(
      () =>
        document.getElementById("join-error")?.textContent !== "" ||
        /\(try 2 of 6\)/.test(
          document.getElementById("status")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    assert.equal(standIn.upgrades, 1, "the WebSocket opened, and was cut");
    const said = await record.said();
    assert.ok(
      said.some((s) =>
        /^status: Connecting in \d+ s \(try 2 of 6\): the server at 127\.0\.0\.1:\d+ did not let this page in yet/
          .test(s.line)
      ),
      shown(said),
    );
    assert.ok(!said.some((s) => s.line.includes("ERROR")), shown(said));
    await standIn.opened(2);
    assert.deepEqual(problems, []);
    await page.close();
  },
});

Deno.test({
  name:
    "web client: Join while the first connection waits for its next try tries at once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    // One new connection from the address per 100 s once its burst is
    // spent: every try of the page is refused (a 503, or closed unanswered)
    // for as long as the test runs.
    await using server = await startTestServer({
      connectionLimits: { handshakesPerSecond: 0.01, handshakeBurst: 6 },
    });
    const url = `http://127.0.0.1:${server.port}/`;
    const browser = await launchBrowser();
    await using _ = { [Symbol.asyncDispose]: () => browser.close() };
    // The page's own files come from here: the address's new connections
    // are spent below, once the page is loaded.
    const files = new Map(
      [...await pageFiles(url)].map(([path, file]) => [url + path, file]),
    );
    const problems: string[] = [];
    const page = await browser.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      const file = files.get(request.url());
      // The page itself comes from the server (as above: one answered here
      // could not open a WebSocket to 127.0.0.1); its script once the
      // address's new connections are spent.
      if (file === undefined || request.url() === url) {
        void request.continue();
        return;
      }
      const spent = request.url().endsWith("/app.js")
        ? spendHandshakes(server.port)
        : Promise.resolve();
      void spent.then(() => request.respond(file));
    });
    const record = await recordSaid(page);
    await page.goto(url);
    await page.waitForFunction(
      () => document.activeElement?.id === "name",
      { timeout: WAIT_MS },
    );
    await page.keyboard.type("webby");
    // The wait before the 5th try is 4 to 8 s (8 s, jittered): "in 4 s" at
    // least when first said, so the try is due 3 s after at the earliest.
    const waiting =
      /^status: Connecting in \d+ s \(try 5 of 6\): the server at 127\.0\.0\.1:\d+ did not let this page in yet/;
    const trying = /^status: Connecting to \S+ \(try 5 of 6\)/;
    await page.waitForFunction(
      (source: string) =>
        new RegExp(source).test(
          `status: ${document.getElementById("status")?.textContent}`,
        ),
      { timeout: WAIT_MS },
      waiting.source,
    );
    await page.click("#join-button");
    await page.waitForFunction(
      (source: string) =>
        (globalThis as unknown as Record<string, { line: string }[]>)
          .__testSaid!.some((s) => new RegExp(source).test(s.line)),
      { timeout: WAIT_MS },
      trying.source,
    );

    const said = await record.said();
    const { index, dueAfter } = countdownTo(said, waiting);
    const tried = said.findIndex((s, i) => i > index && trying.test(s.line));
    assert.ok(tried !== -1, shown(said));
    // The click's try came before the wait ran out (before the change, it
    // came when the wait did, the click waiting for it).
    assert.ok(
      said[tried]!.at < dueAfter - 100,
      `tried ${said[tried]!.at - said[index]!.at} ms into a wait of more than ${
        dueAfter - said[index]!.at
      } ms:\n${shown(said)}`,
    );
    assert.deepEqual(problems, []);
    await page.close();
  },
});

Deno.test({
  name:
    "web client: a first connection whose handshake a busy server does not answer in time is tried again, a countdown line a wait, and connects",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer();
    // The page's first WebSocket gets no answer after its upgrade, as from
    // a server busy with a whole class's handshakes: the page's own
    // deadline (HANDSHAKE_TIMEOUT_MS) ends it. The page's files, and the
    // WebSockets after it, pass untouched.
    await using proxy = new HandshakeCutProxy(server.port, 1, "stall");
    const browser = await launchBrowser();
    await using _ = { [Symbol.asyncDispose]: () => browser.close() };
    const problems: string[] = [];
    const page = await browser.newPage();
    watchProblems(page, problems);
    const record = await recordSaid(page);
    await page.goto(`http://127.0.0.1:${proxy.port}/`);
    // Before: "ERROR: Cannot connect to 127.0.0.1:PORT: the handshake did
    // not finish within 10 s", said at once as final.
    const waiting =
      /^status: The server at 127\.0\.0\.1:\d+ did not finish the handshake within 10 s; it may be busy, as when a whole class joins at once\. Trying again in \d+ s\.\.\. \(try 2 of 6\)$/;
    await page.waitForFunction(
      (source: string) =>
        document.getElementById("join-error")?.textContent !== "" ||
        new RegExp(source).test(
          `status: ${document.getElementById("status")?.textContent}`,
        ),
      { timeout: WAIT_MS + HANDSHAKE_TIMEOUT_MS },
      waiting.source,
    );
    assert.equal(proxy.cutCount, 1);
    assert.equal(
      await page.$eval("#join-error", (e) => e.textContent ?? ""),
      "",
      shown(await record.said()),
    );
    await join(page, "webby");
    assert.match(
      await page.$eval("#status", (e) => e.textContent ?? ""),
      /^Connected to 127\.0\.0\.1:\d+$/,
    );
    const said = await record.said();
    assert.ok(said.some((s) => waiting.test(s.line)), shown(said));
    assert.ok(!said.some((s) => s.line.includes("ERROR")), shown(said));
    assert.deepEqual(problems, []);
    await page.close();
  },
});
