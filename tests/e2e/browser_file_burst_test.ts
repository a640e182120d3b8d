/// <reference lib="dom" />
/**
 * A burst of files chosen at once on the web page (the File… picker, or a
 * drop) to a friend at a real `chat connect` or at another page, and to a
 * group of three (the page and two terminals), against a `chat serve` whose message limits are
 * low (`--rate 2 --burst 10`): every file is offered (and asked about) in
 * the order chosen and arrives byte for byte, none refused or lost, no one
 * cut off. Each is received whole in whatever order the transfers end: a
 * short file offered after a long one may end first. 4 and 8 files: a
 * receiver takes at most 4 at once from one sender
 * (src/client/receiving_share.ts), and none of the 8 may be refused for it.
 * Real Chromium; slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForFile,
  waitForLine,
} from "../_helpers/browser.ts";
import type { ChatProcess } from "../_helpers/process.ts";

/** Low limits: the offers and key work of a burst pass the burst of 10. */
const LOW_LIMITS = ["--rate", "2", "--burst", "10"];

/** Edges among them: empty, one byte, just over a chunk. */
const SIZES = [1024, 0, 1, FILE_CHUNK_BYTES + 1];

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

/** `sizes` as files named `${prefix}N.bin` in `dir`, in that order. */
async function writeFiles(
  dir: string,
  prefix: string,
  sizes: readonly number[],
): Promise<Map<string, Uint8Array>> {
  const written = new Map<string, Uint8Array>();
  for (const [index, size] of sizes.entries()) {
    const bytes = randomBytes(size);
    const name = `${prefix}${index}.bin`;
    await Deno.writeFile(`${dir}/${name}`, bytes);
    written.set(name, bytes);
  }
  return written;
}

/** The names in `output` that `pattern`'s first group matched, in order. */
function namesIn(output: string, pattern: RegExp): string[] {
  return [...output.matchAll(new RegExp(pattern.source, "g"))].map((m) =>
    m[1]!
  );
}

async function untilCount(
  terminal: ChatProcess,
  pattern: RegExp,
  times: number,
): Promise<void> {
  await terminal.waitUntil(
    () => namesIn(terminal.stdout, pattern).length >= times ? true : null,
    `${times} of ${pattern}`,
    60_000,
  );
}

/** Nothing says a connection was cut off or a file refused. */
function neverCutOff(output: string): void {
  assert.doesNotMatch(
    output,
    /too many messages|Disconnected|Reconnect|connection (?:was )?lost|was not received|coming in already/i,
    output,
  );
}

/** The page's log, line by line. */
function pageLines(page: Page): Promise<string[]> {
  return page.$$eval(
    "#log .line",
    (rows) => rows.map((r) => r.textContent ?? ""),
  );
}

/** Drops `files` (name, bytes) on the page at once, as from a file manager. */
async function dropFiles(
  page: Page,
  files: Map<string, Uint8Array>,
): Promise<void> {
  await page.evaluate(
    (files: [string, string][]) => {
      const transfer = new DataTransfer();
      for (const [name, base64] of files) {
        const binary = atob(base64);
        const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], name));
      }
      document.dispatchEvent(
        new DragEvent("drop", { dataTransfer: transfer, cancelable: true }),
      );
    },
    [...files].map((
      [name, bytes],
    ): [string, string] => [name, bytes.toBase64()]),
  );
}

async function uploadFiles(page: Page, paths: string[]): Promise<void> {
  const input = await page.$("#file-input");
  await (input as unknown as { uploadFile(...paths: string[]): Promise<void> })
    .uploadFile(...paths);
}

for (const count of [4, 8]) {
  Deno.test({
    name:
      `web client: ${count} files chosen at once to a friend at a terminal are offered in the order chosen and all arrive byte for byte, with low message limits`,
    ...LEAK_CHECKS_OFF,
    async fn() {
      await using chat = await startBrowserChat(...LOW_LIMITS);
      const downloads = `${chat.dir}/downloads`;
      await Deno.mkdir(downloads);
      const termy = await chat.terminal(
        "termy",
        "--accept-files",
        "all",
        "--downloads",
        downloads,
        "--open-with",
        "true",
      );
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      const sizes = Array.from(
        { length: count },
        (_, i) => SIZES[i % SIZES.length]!,
      );
      const written = await writeFiles(chat.dir, "f", sizes);
      await typeLine(page, "/query termy");
      await uploadFiles(
        page,
        [...written.keys()].map((n) => `${chat.dir}/${n}`),
      );
      await untilCount(
        termy,
        /You received file (f\d+\.bin) from webby\./,
        count,
      );
      for (const name of written.keys()) {
        await waitForLine(
          page,
          new RegExp(
            `File ${name.replace(".", "\\.")} sent to termy successfully\\.$`,
          ),
        );
      }
      for (const [name, bytes] of written) {
        assert.deepEqual(
          await Deno.readFile(`${downloads}/${name}`),
          bytes,
          name,
        );
      }
      const lines = await pageLines(page);
      // Each received (offered in the order chosen, below): a short file
      // offered after a long one may end first.
      assert.deepEqual(
        namesIn(termy.stdout, /You received file (f\d+\.bin) from webby\./)
          .sort(),
        [...written.keys()],
        termy.stdout,
      );
      assert.deepEqual(
        namesIn(lines.join("\n"), /Offering (f\d+\.bin)/),
        [...written.keys()],
        lines.join("\n"),
      );
      neverCutOff(termy.stdout + termy.stderr);
      neverCutOff(lines.join("\n"));
      assert.deepEqual(problems, []);
      await page.close();
    },
  });
}

/** Clicks every Accept on `page` until `done` says the burst is over. */
async function acceptAll(page: Page, done: () => Promise<boolean>) {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("The burst did not end");
    // Pressed from the page itself: a tab in the background takes no
    // pointer clicks.
    await page.$$eval(
      "button[aria-label^='Accept ']",
      (buttons) => buttons.forEach((b) => (b as HTMLButtonElement).click()),
    );
    await page.waitForFunction(
      () => document.querySelector("button[aria-label^='Accept ']") !== null,
      { timeout: 1000 },
    ).catch(() => {});
  }
}

/**
 * The bytes of the file `name` the page keeps, saved through its Save link
 * (the browser's download) into `folder`.
 */
async function savedOnPage(
  page: Page,
  name: string,
  size: number,
  folder: string,
): Promise<Uint8Array> {
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", {
    behavior: "allow",
    downloadPath: folder,
  });
  await page.$eval(
    `a[download='${name}']`,
    (link) => (link as HTMLAnchorElement).click(),
  );
  return await waitForFile(`${folder}/${name}`, size);
}

for (const count of [4, 8]) {
  Deno.test({
    name:
      `web client: ${count} files chosen at once to a friend at another page, who accepts each as asked: asked in the order chosen, each arrives byte for byte`,
    ...LEAK_CHECKS_OFF,
    async fn() {
      await using chat = await startBrowserChat(...LOW_LIMITS);
      const problems: string[] = [];
      const rosa = await signedInPage(chat, "rosa", problems);
      const webby = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      await chat.keysOf("rosa");
      const written = await writeFiles(
        chat.dir,
        "p",
        Array.from({ length: count }, (_, i) => SIZES[i % SIZES.length]!),
      );
      await typeLine(webby, "/query rosa");
      await uploadFiles(
        webby,
        [...written.keys()].map((n) => `${chat.dir}/${n}`),
      );
      const ends =
        /(?:File (p\d\.bin) sent to rosa successfully\.|ERROR: File (p\d\.bin) was not received.*)$/;
      const ended = async () =>
        (await pageLines(webby)).filter((l) => ends.test(l)).length >= count;
      let webbyLines: string[] = [];
      let rosaLines: string[] = [];
      try {
        await acceptAll(rosa, ended);
      } finally {
        webbyLines = await pageLines(webby);
        rosaLines = await pageLines(rosa);
      }
      for (const [name, bytes] of written) {
        assert.deepEqual(
          await savedOnPage(rosa, name, bytes.byteLength, `${chat.dir}/saved`),
          bytes,
          name,
        );
      }
      const rosaLog = rosaLines.join("\n");
      // Asked about in the order chosen; two accepted together may end in
      // either order (a short one passes a long one), so received: each.
      assert.deepEqual(
        namesIn(rosaLog, /Accepted (p\d\.bin)/),
        [...written.keys()],
        rosaLog,
      );
      assert.deepEqual(
        namesIn(rosaLog, /You received file (p\d\.bin) from webby\./).sort(),
        [...written.keys()],
        rosaLog,
      );
      const webbyLog = webbyLines.join("\n");
      assert.deepEqual(
        namesIn(webbyLog, /Offering (p\d\.bin)/),
        [...written.keys()],
        webbyLog,
      );
      neverCutOff(webbyLines.join("\n"));
      neverCutOff(rosaLines.join("\n"));
      assert.deepEqual(problems, []);
    },
  });
}

Deno.test({
  name:
    "web client: 8 files dropped at once on a group of three (the page and two terminals) are offered in the order dropped and all arrive byte for byte at each member, with low message limits",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...LOW_LIMITS);
    const members: [string, ChatProcess][] = [];
    for (const name of ["bob", "carol"]) {
      const downloads = `${chat.dir}/downloads-${name}`;
      await Deno.mkdir(downloads);
      members.push([
        downloads,
        await chat.terminal(
          name,
          "--accept-files",
          "all",
          "--downloads",
          downloads,
          "--open-with",
          "true",
        ),
      ]);
    }
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    const [[, bob], [, carol]] = members as [
      [string, ChatProcess],
      [string, ChatProcess],
    ];
    await bob!.write("/create team\n");
    await bob!.waitFor(/Group 'team' created/);
    await carol!.write("/join team\n");
    await carol!.waitFor(/Joined group 'team'/);
    // Signing in (its keys published) spent the page's burst of 10: its
    // /join may be refused 'slow down' (a command is not sent again by
    // itself); typed again then, as a person would.
    for (let tries = 1;; tries++) {
      const answers = /(?:SUCCESS: Joined group 'team'\.|ERROR: slow down)$/;
      const before = (await pageLines(page)).filter((l) => answers.test(l));
      await typeLine(page, "/join team");
      await page.waitForFunction(
        (source: string, before: number) =>
          [...document.querySelectorAll("#log .line")].filter((row) =>
            new RegExp(source).test(row.textContent ?? "")
          ).length > before,
        { timeout: WAIT_MS },
        answers.source,
        before.length,
      );
      const lines = await pageLines(page);
      if (lines.some((l) => /SUCCESS: Joined group 'team'\.$/.test(l))) break;
      assert.ok(tries < 10, lines.join("\n"));
    }
    await page.waitForFunction(
      () => document.getElementById("groups")?.textContent?.includes("#team"),
      { timeout: WAIT_MS },
    );
    const [team] = await page.$$(
      "xpath/.//ul[@id='groups']//button[text()='#team']",
    );
    await team!.click();
    const written = await writeFiles(
      chat.dir,
      "g",
      Array.from({ length: 8 }, (_, i) => SIZES[i % SIZES.length]!),
    );
    await dropFiles(page, written);
    const received = /\[Receive (g\d\.bin) from Group team webby\]/;
    for (const [downloads, member] of members) {
      await untilCount(member, received, written.size);
      assert.deepEqual(
        namesIn(member.stdout, received).sort(),
        [...written.keys()],
        member.stdout,
      );
      for (const [name, bytes] of written) {
        assert.deepEqual(
          await Deno.readFile(`${downloads}/${name}`),
          bytes,
          name,
        );
      }
      neverCutOff(member.stdout + member.stderr);
    }
    for (const name of written.keys()) {
      await waitForLine(
        page,
        new RegExp(
          `File ${
            name.replace(".", "\\.")
          } sent to group team: received by bob, carol\\.$`,
        ),
      );
    }
    const lines = (await pageLines(page)).join("\n");
    assert.deepEqual(
      namesIn(lines, /Offering (g\d\.bin)/),
      [...written.keys()],
      lines,
    );
    neverCutOff(lines);
    assert.deepEqual(problems, []);
  },
});
