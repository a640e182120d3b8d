/// <reference lib="dom" />
/**
 * A real `chat serve` process, headless Chromium from Debian driven by
 * puppeteer-core, and `chat connect` processes: for the web client's tests
 * (tests/e2e/browser_test.ts) and its README screenshots
 * (tests/e2e/web_screenshots.ts).
 */

import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "./process.ts";
import type { HoldingProxy } from "./holding_proxy.ts";
import { hasOneTimeKeys, untilKeysPublished } from "./published_keys.ts";
import { WAIT_MS } from "./patience.ts";

const CHROMIUM = "/usr/bin/chromium";
export { WAIT_MS };

/**
 * The Deno.test options of a test that drives the browser: puppeteer's
 * connection to Chromium keeps ops and resources of its own open across the
 * test, which the leak checks would take for the test's.
 */
export const LEAK_CHECKS_OFF = { sanitizeOps: false, sanitizeResources: false };

/**
 * `startBrowserChat` arguments for a test that sends messages as fast as it
 * can: no per-connection or per-address message rate.
 */
export const NO_MESSAGE_RATE = ["--rate", "0", "--rate-per-address", "0"];

/** Chromium from Debian, installed here when missing (the test runs as root). */
export async function ensureChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
    return;
  } catch {
    // Not installed yet.
  }
  const install = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", "chromium"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!install.success) {
    throw new Error(
      `Cannot install chromium (apt-get install chromium): ${
        new TextDecoder().decode(install.stderr)
      }`,
    );
  }
}

/** Headless Chromium from Debian, with `args` besides the usual ones. */
export async function launchBrowser(args: string[] = []): Promise<Browser> {
  await ensureChromium();
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces.
    args: ["--no-sandbox", "--disable-dev-shm-usage", ...args],
  });
}

/**
 * A server process, its fingerprint, and terminal clients to start;
 * `serveArgs` go to its `chat serve` (and to its restarts).
 */
export async function startBrowserChat(...serveArgs: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "chat-browser-" });
  await makeKeys(dir);
  let server = serveProcess(dir, 0, ...serveArgs);
  const port = await listeningPort(server);
  const [, fingerprint] = await server.waitFor(
    /Server key fingerprint: (SHA256:\S+)/,
  );
  const browser = await launchBrowser();
  const clients: ChatProcess[] = [];
  return {
    url: `http://127.0.0.1:${port}/`,
    fingerprint: fingerprint!,
    browser,
    get server() {
      return server;
    },
    /** Stops the server; `start` brings it back on the same port and data. */
    async stop(): Promise<void> {
      server.kill();
      await server.finish();
    },
    /** With `args` in place of the first start's, if any (a restart changing a limit). */
    async start(...args: string[]): Promise<void> {
      server = serveProcess(
        dir,
        port,
        ...(args.length > 0 ? args : serveArgs),
      );
      await listeningPort(server);
    },
    dir,
    async terminal(name: string, ...extra: string[]): Promise<ChatProcess> {
      return await this.terminalIn(null, name, ...extra);
    },
    /**
     * A terminal client with its own config folder `configHome` (its own
     * identity key and end-to-end files); null: the one all test clients
     * of this process share.
     */
    async terminalIn(
      configHome: string | null,
      name: string,
      ...extra: string[]
    ): Promise<ChatProcess> {
      return await this.terminalAt(port, configHome, name, ...extra);
    },
    /**
     * A terminal client (see terminalIn) that connects to `at`: a proxy's
     * port in front of the server.
     */
    async terminalAt(
      at: number | string,
      configHome: string | null,
      name: string,
      ...extra: string[]
    ): Promise<ChatProcess> {
      const client = new ChatProcess([
        "connect",
        `127.0.0.1:${at}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        name,
        ...extra,
      ], configHome === null ? {} : { env: { XDG_CONFIG_HOME: configHome } });
      clients.push(client);
      await client.waitFor(/SUCCESS: Username registered\./);
      return client;
    },
    /**
     * A ChatClient signed in to the server as `name` (the server's key
     * pinned): someone at a script rather than a terminal or the page.
     */
    async signedInClient(name: string): Promise<ChatClient> {
      const { spki } = await importPublicKeyPem(
        await Deno.readTextFile(`${dir}/public.pem`),
      );
      const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
        pinnedSpki: spki,
      });
      const welcome = await client.register(name);
      if (welcome.t !== "welcome") {
        await client.quit();
        throw new Error(`${name} was refused: ${JSON.stringify(welcome)}`);
      }
      return client;
    },
    /**
     * Waits (with a deadline) until `name` has published end-to-end keys
     * with one-time keys, under another identity key than `not`; resolves
     * with the fingerprint of the key they are signed by.
     */
    async keysOf(name: string, not: string | null = null): Promise<string> {
      // A new name each time: a name stays bound to the key that took it.
      const probe = await this.signedInClient(
        `probe-${crypto.randomUUID().slice(0, 8)}`,
      );
      try {
        const fetched = await untilKeysPublished(
          probe,
          name,
          (fetched) => hasOneTimeKeys(fetched) && fetched.fingerprint !== not,
          WAIT_MS,
        );
        return fetched.fingerprint;
      } finally {
        await probe.quit();
      }
    },
    async [Symbol.asyncDispose]() {
      await browser.close();
      for (const client of clients) client.kill();
      await Promise.all(clients.map((c) => c.finish()));
      server.kill();
      await server.finish();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What startBrowserChat started. */
export type BrowserChat = Awaited<ReturnType<typeof startBrowserChat>>;

/** Opens the page, failing the test on any script error or CSP violation. */
export async function openPage(
  browser: Browser,
  url: string,
  problems: string[],
): Promise<Page> {
  const page = await browser.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console error: ${message.text()}`);
    }
  });
  await page.goto(url);
  return page;
}

/**
 * A page of `chat`'s server opened in its browser (see openPage) and signed
 * in as `name`: a person at the web client.
 */
export async function signedInPage(
  chat: { browser: Browser; url: string },
  name: string,
  problems: string[],
): Promise<Page> {
  const page = await openPage(chat.browser, chat.url, problems);
  await join(page, name);
  return page;
}

/**
 * A page of `chat`'s server opened through `proxy` (at its port on
 * 127.0.0.1) and signed in as `name`; what goes wrong on it goes in
 * `problems` (see openPage).
 */
export async function signedInThrough(
  chat: { browser: Browser },
  proxy: { port: number },
  name: string,
): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  const page = await openPage(
    chat.browser,
    `http://127.0.0.1:${proxy.port}/`,
    problems,
  );
  await join(page, name);
  return { page, problems };
}

/**
 * `line` typed on webby's `page` once its sign-in is over (its keys
 * published), so that what it sends next is the line: the server's answer
 * to it is held at `proxy`, from the line's first byte up.
 */
export async function typeAnswerHeld(
  chat: BrowserChat,
  proxy: HoldingProxy,
  page: Page,
  line: string,
): Promise<void> {
  await chat.keysOf("webby");
  proxy.holdAfterUp(proxy.upBytes + 1);
  await typeLine(page, line);
  await proxy.holding();
}

/**
 * webby at a page of `chat` (see signedInPage, which fills `problems`) and
 * `name` at a terminal, once webby's end-to-end keys are published: what
 * `name` then says to webby privately is end to end.
 */
export async function webbyAnd(
  chat: BrowserChat,
  name: string,
): Promise<{ page: Page; problems: string[]; terminal: ChatProcess }> {
  const problems: string[] = [];
  const page = await signedInPage(chat, "webby", problems);
  const terminal = await chat.terminal(name);
  await chat.keysOf("webby");
  return { page, problems, terminal };
}

/**
 * A new page in place of `page`, signed in as `name` again: /quit first, so
 * that it acknowledges what it showed and none of that comes again.
 */
export async function reloadSignedIn(page: Page, name: string): Promise<void> {
  await typeLine(page, "/quit");
  await waitForLine(page, /Disconnected\.$/);
  await page.reload();
  await join(page, name);
}

/** Waits until the top of the page's log says `text`. */
export async function waitForLogHead(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (text: string) =>
      document.querySelector("#log .log-head")?.textContent === text,
    { timeout: WAIT_MS },
    text,
  );
}

/** Whether the last row ending `text` is wholly within the log's visible area. */
export function inView(page: Page, text: string): Promise<boolean> {
  return page.$eval("#log", (log, text) => {
    const row = [...log.querySelectorAll(".line")].findLast((r) =>
      (r.textContent ?? "").endsWith(text)
    );
    if (row === undefined) return false;
    const view = log.getBoundingClientRect();
    const box = row.getBoundingClientRect();
    return box.height > 0 && box.top >= view.top && box.bottom <= view.bottom;
  }, text);
}

/** Waits until a line of the page's log matches `pattern`. */
export async function waitForLine(page: Page, pattern: RegExp): Promise<void> {
  try {
    await page.waitForFunction(
      (source: string, flags: string) => {
        const re = new RegExp(source, flags);
        return [...document.querySelectorAll("#log .line")].some((row) =>
          re.test(row.textContent ?? "")
        );
      },
      { timeout: WAIT_MS },
      pattern.source,
      pattern.flags,
    );
  } catch (error) {
    const log = await page.$eval("#log", (e) => e.textContent);
    throw new Error(`No line matching ${pattern} in the page:\n${log}`, {
      cause: error,
    });
  }
}

/** The rows of the page's log, as text, oldest first. */
export function logRows(page: Page): Promise<string[]> {
  return page.$$eval(
    "#log .line",
    (rows) => rows.map((row) => row.textContent ?? ""),
  );
}

/** What the top of the page's log says about loading older messages. */
export function logHead(page: Page): Promise<string> {
  return page.$eval("#log .log-head", (e) => e.textContent ?? "");
}

/**
 * Waits until the page is done loading older messages: none is loading,
 * and since `before` rows of the log matched `rows`, more came or the top
 * says the start.
 */
export async function olderRowsLoaded(
  page: Page,
  rows: RegExp,
  before: number,
): Promise<void> {
  await page.waitForFunction(
    (source: string, flags: string, before: number) => {
      const log = document.getElementById("log")!;
      const head = log.querySelector(".log-head")?.textContent ?? "";
      if (head.startsWith("Loading")) return false;
      const re = new RegExp(source, flags);
      const matching = [...log.querySelectorAll(".line")].filter((row) =>
        re.test(row.textContent ?? "")
      );
      return matching.length > before || head.startsWith("Start of");
    },
    { timeout: WAIT_MS },
    rows.source,
    rows.flags,
    before,
  );
}

/** Types `line` into the focused field and presses Enter, as a person would. */
export async function typeLine(page: Page, line: string): Promise<void> {
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}

/** Joins as `name` with the keyboard alone; resolves once registered. */
export async function join(page: Page, name: string): Promise<void> {
  await page.waitForFunction(
    () => document.activeElement?.id === "name",
    { timeout: WAIT_MS },
  );
  await page.$eval("#name", (e) => ((e as HTMLInputElement).value = ""));
  await typeLine(page, name);
  await waitForLine(page, /SUCCESS: Username registered\.$/);
  await page.waitForFunction(
    () => document.activeElement?.id === "line",
    { timeout: WAIT_MS },
  );
}

/** The file at `path` once it has `size` bytes (a download is written). */
export async function waitForFile(
  path: string,
  size: number,
): Promise<Uint8Array> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const bytes = await Deno.readFile(path);
      if (bytes.byteLength === size) return bytes;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${path} was not saved with ${size} bytes within ${WAIT_MS} ms`,
      );
    }
    // Polled: Chromium says nothing to this process when a download ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A tab of `chat`'s page that takes the end-to-end keys of `name` (their
 * Web Lock, main.ts startE2e) as soon as the tab `signedIn` (signed in as
 * `name`) lets them go, and keeps them until it is closed: a tab of that
 * name signed in next finds them in use, as behind a tab still open with
 * them. Queued now, so it comes before any tab that signs in later.
 */
export async function keysHeldElsewhere(
  chat: { browser: Browser; url: string },
  signedIn: Page,
  name: string,
  problems: string[],
): Promise<Page> {
  const fingerprint = await signedIn.$$eval("#log .line", (rows) => {
    for (const row of rows) {
      const found = /Your identity key: (SHA256:\S+)$/.exec(
        row.textContent ?? "",
      );
      if (found !== null) return found[1]!;
    }
    throw new Error("No identity key in the page's log");
  });
  const holder = await openPage(chat.browser, chat.url, problems);
  await holder.evaluate((lock: string) => {
    void navigator.locks.request(lock, () => new Promise<void>(() => {}));
  }, `chat-e2e ${fingerprint} ${name.toLowerCase()}`);
  return holder;
}

/**
 * Holds a write transaction on the page's end-to-end records until
 * `letGo` (below): the page's own writes wait behind it, as behind a slow
 * disk. Resolves once it is held.
 */
export function holdWrites(page: Page): Promise<void> {
  return page.evaluate(() =>
    new Promise<void>((held, failed) => {
      const opening = indexedDB.open("chat-e2e");
      opening.onerror = () => failed(opening.error);
      opening.onsuccess = () => {
        const db = opening.result;
        const tx = db.transaction("records", "readwrite");
        const store = tx.objectStore("records");
        const state = globalThis as unknown as { holding: boolean };
        state.holding = true;
        // Kept alive by a request always pending, until let go.
        const again = () => {
          if (state.holding) store.get("storage-key").onsuccess = again;
        };
        again();
        held();
      };
    })
  );
}

/** Ends a hold of holdWrites: the page's writes go on. */
export function letGo(page: Page): Promise<void> {
  return page.evaluate(() => {
    (globalThis as unknown as { holding: boolean }).holding = false;
  });
}

/**
 * Closes `page` as a user closing its tab does (its `beforeunload` run):
 * "asked" when the page asked first (the question is dismissed, the page
 * stays), "closed" when it closed without one.
 */
export async function closeTab(page: Page): Promise<"asked" | "closed"> {
  const outcome = new Promise<"asked" | "closed">((resolve, reject) => {
    page.once("dialog", (dialog) => {
      if (dialog.type() !== "beforeunload") {
        reject(new Error(`A ${dialog.type()} dialog: ${dialog.message()}`));
        return;
      }
      dialog.dismiss().then(() => resolve("asked"), reject);
    });
    page.once("close", () => resolve("closed"));
  });
  await page.close({ runBeforeUnload: true });
  return await outcome;
}

/** The number /transfers gives the line matching `pattern`, once shown. */
export async function transferNumber(
  page: Page,
  pattern: RegExp,
): Promise<string> {
  await typeLine(page, "/transfers");
  await waitForLine(page, pattern);
  const lines = await logRows(page);
  const line = lines.findLast((text) => pattern.test(text));
  const n = /^\s*(\d+)\./.exec(line ?? "")?.[1];
  assert.ok(n !== undefined, `${pattern} in ${JSON.stringify(lines)}`);
  return n;
}

/** Writes `size` random bytes to `path`; returns them. */
export async function randomFile(
  path: string,
  size: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(path, bytes);
  return bytes;
}

/** Opens group `group`'s conversation on `page`, once its list shows it. */
export async function openGroup(page: Page, group: string): Promise<void> {
  await page.waitForFunction(
    (name: string) =>
      document.getElementById("groups")?.textContent?.includes(`#${name}`),
    { timeout: WAIT_MS },
    group,
  );
  const [button] = await page.$$(
    `xpath/.//ul[@id='groups']//button[text()='#${group}']`,
  );
  await button!.click();
}

/** Sends the file at `path` from the page (its File… input) to the conversation open. */
export async function upload(page: Page, path: string): Promise<void> {
  const input = await page.$("#file-input");
  await (input as unknown as { uploadFile(path: string): Promise<void> })
    .uploadFile(path);
}

/**
 * webby's page (see signedInPage, or signedInThrough `proxy`) with its
 * conversation with termy open, once webby's keys are published, and the
 * file offers `termy`'s client is shown (see offersTo): for sending termy
 * files.
 */
export async function webbyToTermy(
  chat: BrowserChat,
  termy: ChatClient,
  proxy?: { port: number },
): Promise<
  { page: Page; problems: string[] } & ReturnType<typeof offersTo>
> {
  let problems: string[] = [];
  let page: Page;
  if (proxy) ({ page, problems } = await signedInThrough(chat, proxy, "webby"));
  else page = await signedInPage(chat, "webby", problems);
  const { offers, offered } = offersTo(termy);
  await chat.keysOf("webby");
  await typeLine(page, "/query termy");
  return { page, problems, offers, offered };
}

/**
 * Writes `photo<i>.jpg` in `dir`, `size` bytes (100 + i unless told, so
 * that offers are told apart by their sizes), and sends it from the page to
 * the conversation open.
 */
export async function sendPhoto(
  page: Page,
  dir: string,
  i: number,
  size = 100 + i,
): Promise<void> {
  const path = `${dir}/photo${i}.jpg`;
  await Deno.writeFile(path, new Uint8Array(size));
  await upload(page, path);
}

/**
 * Waits until the page says `photo<i>.jpg` is held: it waits for one of
 * the 4 files to `friend` under way to end (sending_places.ts).
 */
export function photoHeld(page: Page, i: number, friend: string) {
  return waitForLine(
    page,
    new RegExp(
      `^photo${i}\\.jpg waits: 4 files to ${friend} are under way already`,
    ),
  );
}

/**
 * Sends photo1.jpg, photo2.jpg, … (one a size in `sizes`) from the page to
 * `friend`, the conversation open, one after the other: each of the first 4
 * once the one before is offered to `friend` (`offered`, from offersTo),
 * each after them once the page says it is held. (Before the page held
 * them, the 5th and 6th were offered, and refused by the friend's client.)
 */
export async function sendPastPlaces(
  page: Page,
  dir: string,
  friend: string,
  offered: (count: number) => Promise<void>,
  sizes: number[],
): Promise<void> {
  for (const [at, size] of sizes.entries()) {
    const i = at + 1;
    await sendPhoto(page, dir, i, size);
    if (i <= 4) await offered(i);
    else await photoHeld(page, i, friend);
  }
}

/** The sizes sendPhoto gives photo1.jpg to photo<count>.jpg unless told. */
export function photoSizes(count: number): number[] {
  return Array.from({ length: count }, (_, at) => 101 + at);
}

/**
 * The file offers `client` is shown, as they come; `offered(count)` resolves
 * once there are at least `count`.
 */
export function offersTo(client: ChatClient): {
  offers: FileOfferNotice[];
  offered(count: number): Promise<void>;
} {
  const offers: FileOfferNotice[] = [];
  let wake = () => {};
  client.onMessage(({ message }) => {
    if (message.t === "file_offer") offers.push(message);
    wake();
  });
  return {
    offers,
    async offered(count) {
      while (offers.length < count) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
