/// <reference lib="dom" />
/**
 * The web client in a real browser (issue 18, item 6): headless Chromium
 * from Debian, driven by puppeteer-core, opens the page a real `chat serve`
 * process serves, and its user talks with a real `chat connect` process.
 * Slow (a browser starts): in `deno task test:slow`, not the default task.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { ChatProcess } from "../_helpers/process.ts";
import { allBytes } from "../_helpers/all_bytes.ts";
import {
  join,
  keysHeldElsewhere,
  launchBrowser,
  LEAK_CHECKS_OFF,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForFile,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a browser user and a terminal user exchange public, private and group messages",
  // puppeteer keeps its own pipes and timers to Chromium until it is closed.
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);

    // The page shows the server key to compare with what `chat serve` printed.
    await page.waitForFunction(
      (expected: string) =>
        document.getElementById("fingerprint")?.textContent === expected,
      { timeout: WAIT_MS },
      chat.fingerprint,
    );
    // The key's check (IndexedDB, web/server_key_store.ts) ends after the
    // fingerprint shows: its note comes a moment later.
    await page.waitForFunction(
      () =>
        /First visit/.test(
          document.getElementById("trust-note")?.textContent ?? "",
        ),
      { timeout: WAIT_MS },
    );
    assert.match(
      await page.$eval("#http-notice", (e) => e.textContent ?? ""),
      /plain HTTP on the host.s own machine[\s\S]*chat connect --pub/,
    );

    await join(page, "webby");
    const termy = await chat.terminal("termy");
    // The list of people shows the newcomer (a button to write to them).
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );

    // Public, both ways.
    await typeLine(page, "hello from the web");
    await termy.waitFor(/\[Broadcast from webby\]: hello from the web/);
    await termy.write("hi browser\n");
    await waitForLine(page, /\[Broadcast from termy\]: hi browser$/);

    // Private, both ways.
    await typeLine(page, "/msg termy just between us");
    await termy.waitFor(/Private message from webby: just between us/);
    await waitForLine(page, /Private message to termy: just between us/);
    await termy.write("/msg webby got it\n");
    await waitForLine(page, /Private message from termy: got it$/);
    // Unread where the user is not writing: a count beside the name.
    assert.equal(await page.$eval("#people .badge", (e) => e.textContent), "1");

    // Tab completes commands and names, as in the terminal.
    await page.keyboard.type("/ms");
    await page.keyboard.press("Tab");
    await page.keyboard.type("ter");
    await page.keyboard.press("Tab");
    assert.equal(
      await page.$eval("#line", (e) => (e as HTMLInputElement).value),
      "/msg termy ",
    );
    await typeLine(page, "completed");
    await termy.waitFor(/Private message from webby: completed/);

    // A group, both ways.
    await typeLine(page, "/create team");
    await waitForLine(page, /Group 'team' created/);
    await page.waitForFunction(
      () => document.getElementById("groups")?.textContent === "#teamLeave",
      { timeout: WAIT_MS },
    );
    await termy.write("/join team\n");
    await termy.waitFor(/Joined group 'team'/);
    await typeLine(page, "/group team web says hi");
    await termy.waitFor(
      /\[Receive group team message from webby\]: web says hi/,
    );
    await termy.write("/group team terminal says hi\n");
    await waitForLine(
      page,
      /\[Receive group team message from termy\]: terminal says hi$/,
    );

    // Text from others is text: markup arrives as characters, not elements.
    await termy.write(
      '<img src=x id=injected onerror="alert(1)"><b>bold</b>\n',
    );
    await waitForLine(page, /<img src=x id=injected.*<b>bold<\/b>$/);
    assert.equal(await page.$("#injected"), null);
    assert.equal(await page.$("#log b"), null);

    // /ignore hides a user's messages (by key), /unignore shows them again.
    await typeLine(page, "/ignore termy");
    await waitForLine(page, /^Ignoring termy \(key SHA256:/);
    await termy.write("you should not see this\n");
    await termy.waitFor(/Broadcast message sent: you should not see this/);
    // The server answers this after it has passed on termy's message.
    await typeLine(page, "/list");
    await waitForLine(page, /\*\*\* termy - Last Message/);
    await typeLine(page, "/unignore termy");
    await waitForLine(page, /^termy's messages are shown again$/);
    await termy.write("and now you do\n");
    await waitForLine(page, /\[Broadcast from termy\]: and now you do$/);
    assert.doesNotMatch(
      await page.$eval("#log", (e) => e.textContent ?? ""),
      /you should not see this/,
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: the identity stays in the browser (non-extractable) and a changed server key is refused",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "keeper", problems);
    const extractable = await page.evaluate(() =>
      new Promise<boolean | null>((resolve, reject) => {
        const open = indexedDB.open("chat");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction("identity").objectStore(
            "identity",
          ).get("default");
          get.onsuccess = () => {
            const key = get.result?.privateKey as CryptoKey | undefined;
            resolve(key === undefined ? null : key.extractable);
          };
        };
      })
    );
    assert.equal(extractable, false);

    // Away from the page, a private message waits on the server; back
    // (the same key: the name is bound to it since the first sign-in), the
    // page signs in again and shows it as history.
    const termy = await chat.terminal("termy");
    await chat.keysOf("keeper");
    await page.goto("about:blank");
    await termy.waitFor(/\*\*\* keeper left the chat \*\*\*/);
    await termy.write("/msg keeper while you were away\n");
    await termy.waitFor(/Private message to keeper: while you were away/);
    // End to end, to the keys the page published and kept in IndexedDB.
    assert.doesNotMatch(termy.stdout, /host of the server can read/);
    await page.goto(chat.url);
    await join(page, "keeper");
    await waitForLine(page, /Private message from termy: while you were away/);
    assert.match(
      await page.$eval("#trust-note", (e) => e.textContent ?? ""),
      /same key/,
    );

    // Another key for this server: refused before anything is sent.
    // (Remembered where the page keeps it: web/server_key_store.ts.)
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
    const note = await page.$eval("#trust-note", (e) => e.textContent ?? "");
    assert.match(note, /^ERROR: The server at .* presented the key SHA256:/);
    assert.match(note, /Nothing was sent/);
    await page.$eval("#name", (e) => ((e as HTMLInputElement).value = ""));
    await page.focus("#name");
    await typeLine(page, "keeper");
    await page.waitForFunction(
      () =>
        (document.getElementById("join-error")?.textContent ?? "")
          .startsWith("ERROR: The server at"),
      { timeout: WAIT_MS },
    );
    assert.equal(
      await page.$eval("#chat", (e) => (e as HTMLElement).hidden),
      true,
    );
    // Registered twice (the first visit and the reload), not a third time.
    const registrations = (chat.server.stdout + chat.server.stderr).match(
      /keeper registered from/g,
    );
    assert.equal(registrations?.length, 2);
    assert.deepEqual(problems, []);
  },
});

/** The text of the page's log. */
function logText(page: Page): Promise<string> {
  return page.$eval(
    "#log",
    (e) =>
      [...e.querySelectorAll(".line")].map((row) => row.textContent).join("\n"),
  );
}

const SAFETY_NUMBER = /((?:\d{5} ){5}\d{5})\n {2}((?:\d{5} ){5}\d{5})/;

Deno.test({
  name:
    "web client: private messages with a terminal user are end to end both ways (keys sealed in IndexedDB, used by one tab), /verify numbers match, away shows in the people list, and a changed key is shown loudly and held until /trust",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    const webbyKey = await chat.keysOf("webby");
    const termyKey = await chat.keysOf("termy");

    // Both ways, end to end (no warning that the host can read them).
    await typeLine(page, "/msg termy the owl flies at midnight");
    await termy.waitFor(
      /Private message from webby: the owl flies at midnight/,
    );
    await waitForLine(
      page,
      /Private message to termy: the owl flies at midnight$/,
    );
    await termy.write("/msg webby bring the lantern\n");
    await waitForLine(page, /Private message from termy: bring the lantern$/);
    await typeLine(page, "/msg termy and the map");
    await termy.waitFor(/Private message from webby: and the map/);
    assert.doesNotMatch(
      (await logText(page)) + termy.stdout,
      /host of the server can read/,
    );
    // The page says which conversations are end to end.
    await typeLine(page, "/query termy");
    assert.match(
      await page.$eval("#privacy", (e) => e.textContent ?? ""),
      /^To termy: end to end, only you and termy can read it/,
    );
    await page.keyboard.press("Escape");
    assert.match(
      await page.$eval("#privacy", (e) => e.textContent ?? ""),
      /^To everyone: not end to end, the server's host can read it/,
    );

    // The same safety number on the page and in the terminal.
    await typeLine(page, "/verify termy");
    await waitForLine(page, /^termy is not verified\.$/);
    const [, p1, p2] = (await logText(page)).match(SAFETY_NUMBER) ?? [];
    await termy.write("/verify webby\n");
    const [, t1, t2] = await termy.waitFor(SAFETY_NUMBER);
    assert.ok(p1 !== undefined && p2 !== undefined);
    assert.equal(`${p1} ${p2}`, `${t1} ${t2}`);
    await typeLine(page, `/verify termy ${t1} ${t2}`);
    await waitForLine(
      page,
      /The safety numbers match: termy \(key SHA256:\S+\) is marked verified$/,
    );
    await typeLine(page, "/list");
    await waitForLine(
      page,
      /\*\*\* termy - Last Message: .* - verified \*\*\*$/,
    );
    // The people list says so too.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#people li")].some((li) =>
          li.textContent?.startsWith("termy") &&
          li.querySelector(".trust.verified") !== null
        ),
      { timeout: WAIT_MS },
    );

    // Who is away shows in the people list, in their own words, as text.
    await termy.write("/away at <b>lunch</b>\n");
    await termy.waitFor(/You are marked as away: at <b>lunch<\/b>/);
    await typeLine(page, "/list");
    await page.waitForFunction(
      () =>
        document.querySelector("#people li.away .away")?.textContent ===
          "away: at <b>lunch</b>",
      { timeout: WAIT_MS },
    );
    assert.equal(await page.$("#people b"), null);

    // The page keeps its keys and sessions sealed in IndexedDB, under a key
    // no script can read out.
    const records = await page.evaluate(() =>
      new Promise<{ extractable: boolean | null; texts: string[] }>(
        (resolve, reject) => {
          const open = indexedDB.open("chat-e2e");
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const store = open.result.transaction("records").objectStore(
              "records",
            );
            const keys = store.getAllKeys();
            const values = store.getAll();
            values.onsuccess = () => {
              const texts: string[] = [];
              let key: CryptoKey | null = null;
              values.result.forEach((value, i) => {
                if (value instanceof CryptoKey) key = value;
                // The known identities (the list, a record per name added
                // since, and their version) are public keys, not sealed.
                else if (!String(keys.result[i]).startsWith("identities")) {
                  texts.push(String(value));
                }
              });
              resolve({
                extractable: (key as CryptoKey | null)?.extractable ?? null,
                texts,
              });
            };
          };
        },
      )
    );
    assert.equal(records.extractable, false);
    assert.equal(records.texts.length, 2);
    for (const text of records.texts) {
      assert.match(text, /^chat-sealed\/1 /);
      assert.ok(!text.includes("lantern"));
    }

    // A second tab of this browser under another name has keys of its own
    // (webby's it does not touch): what it sends goes end to end too.
    const second = await signedInPage(chat, "webby2", problems);
    await chat.keysOf("webby2");
    await typeLine(second, "/msg termy from the second tab");
    await termy.waitFor(/Private message from webby2: from the second tab/);
    assert.doesNotMatch(
      (await logText(second)) + termy.stdout,
      /host of the server can read|Another tab/,
    );
    await second.close();

    // Signed in as webby there (the server replaces the first tab) while
    // another tab has webby's keys, it leaves what comes end to end
    // unacknowledged, even by its goodbye: the tab with the keys gets it
    // when signed in again, not lost.
    const holder = await keysHeldElsewhere(chat, page, "webby", problems);
    const keyless = await signedInPage(chat, "webby", problems);
    await waitForLine(keyless, /^WARNING: Another tab of this browser/);
    await termy.write("/msg webby meant for the keys\n");
    await waitForLine(
      keyless,
      /^1 end-to-end message from termy waits for your end-to-end keys, which another tab of this browser has/,
    );
    await typeLine(keyless, "/quit");
    await waitForLine(keyless, /Disconnected\.$/);
    await keyless.close();
    await holder.close();
    await page.reload();
    await join(page, "webby");
    await waitForLine(page, /Private message from termy: meant for the keys$/);

    // History comes from the page's own archive (the server has ciphertext).
    await page.reload();
    await join(page, "webby");
    await typeLine(page, "/history termy");
    await waitForLine(
      page,
      /\[history .*\] Private message from termy: bring the lantern$/,
    );
    await waitForLine(
      page,
      /\[history .*\] Private message to termy: and the map$/,
    );

    // Neither the server's database nor its log holds the plaintexts.
    await termy.write("/quit\n");
    await termy.finish();
    await chat.stop();
    const stored = await allBytes(`${chat.dir}/chat-data`);
    assert.ok(stored.length > 0);
    const serverLog = chat.server.stdout + chat.server.stderr;
    for (const secret of ["owl flies", "lantern", "the map"]) {
      assert.ok(!stored.includes(secret), `the database holds '${secret}'`);
      assert.ok(!serverLog.includes(secret), `the log holds '${secret}'`);
    }

    // termy's name goes to a new identity key (the host released it): the
    // page says so loudly, and holds what it writes to them until /trust.
    const release = new ChatProcess([
      "admin",
      "release",
      "termy",
      "--data",
      `${chat.dir}/chat-data`,
    ]);
    assert.equal((await release.finish()).code, 0, release.stderr);
    await chat.start();
    await waitForLine(page, /Reconnected as webby\.$/);
    const newTermy = await chat.terminalIn(
      await Deno.makeTempDir({ dir: chat.dir, prefix: "config-" }),
      "termy",
    );
    await chat.keysOf("termy", termyKey);
    await typeLine(page, "/msg termy is that still you");
    await page.waitForSelector("#log .line.warning", { timeout: WAIT_MS });
    assert.match(
      await page.$eval("#log .line.warning", (e) => e.textContent ?? ""),
      /^WARNING: termy's identity key has changed!$/,
    );
    assert.match(
      await page.$eval("#status", (e) => e.textContent ?? ""),
      /termy's identity key has changed/,
    );
    await waitForLine(page, /Not sent yet: termy's identity key has changed/);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#people li")].some((li) =>
          li.textContent?.startsWith("termy") &&
          li.querySelector(".trust.changed")?.textContent === "key changed"
        ),
      { timeout: WAIT_MS },
    );
    await typeLine(page, "/trust termy");
    await waitForLine(
      page,
      /termy's new identity key .* is accepted; 1 held message\(s\) sent/,
    );
    await newTermy.waitFor(/Private message from webby: is that still you/);
    assert.notEqual(webbyKey, termyKey);
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: two browsers exchange private messages end to end, and the server keeps only ciphertext",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const ann = await openPage(chat.browser, chat.url, problems);
    // Another person: a browser of their own (identity, keys, storage).
    const other = await chat.browser.createBrowserContext();
    const bea = await other.newPage();
    bea.on("pageerror", (error) => problems.push(`page error: ${error}`));
    await bea.goto(chat.url);
    await join(ann, "ann");
    await join(bea, "bea");
    await chat.keysOf("ann");
    await chat.keysOf("bea");
    await typeLine(ann, "/msg bea the kettle is on");
    await waitForLine(bea, /Private message from ann: the kettle is on$/);
    await typeLine(bea, "/msg ann two sugars");
    await waitForLine(ann, /Private message from bea: two sugars$/);
    assert.doesNotMatch(
      (await logText(ann)) + (await logText(bea)),
      /host of the server can read/,
    );
    await chat.stop();
    const stored = await allBytes(`${chat.dir}/chat-data`);
    for (const secret of ["kettle", "two sugars"]) {
      assert.ok(!stored.includes(secret), `the database holds '${secret}'`);
    }
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: a browser on another machine, sent from http:// to https:// with the self-signed certificate, encrypts and chats with a terminal user",
  ...LEAK_CHECKS_OFF,
  async fn() {
    // Another name for this machine: not localhost, so plain http would not
    // be a secure context, as the host's LAN address is not for everyone
    // else. A name the server answers only when told (allowed_host.ts).
    await using chat = await startBrowserChat("--allowed-host", "chat.test");
    // The certificate's warning is what a person clicks through (Advanced,
    // then Proceed); the flag is that click.
    const port = new URL(chat.url).port;
    const browser = await launchBrowser([
      "--host-resolver-rules=MAP chat.test 127.0.0.1",
      "--ignore-certificate-errors",
    ]);
    try {
      const problems: string[] = [];
      const page = await openPage(
        browser,
        `http://chat.test:${port}/`,
        problems,
      );
      assert.equal(page.url(), `https://chat.test:${port}/`);
      assert.equal(await page.evaluate(() => globalThis.isSecureContext), true);
      await page.waitForFunction(
        (expected: string) =>
          document.getElementById("fingerprint")?.textContent === expected,
        { timeout: WAIT_MS },
        chat.fingerprint,
      );
      assert.equal(
        await page.evaluate(() =>
          document.body.classList.contains("no-crypto")
        ),
        false,
      );
      assert.match(
        await page.$eval("#http-notice", (e) => e.textContent ?? ""),
        /certificate it made itself[\s\S]*SHA-256\s+fingerprint[\s\S]*chat connect --pub/,
      );
      await join(page, "faraway");
      const termy = await chat.terminal("termy");
      await typeLine(page, "hello over https");
      await termy.waitFor(/\[Broadcast from faraway\]: hello over https/);
      await termy.write("hi over wss\n");
      await waitForLine(page, /\[Broadcast from termy\]: hi over wss$/);
      // End to end, sealed by the page's WebCrypto.
      await chat.keysOf("termy");
      await typeLine(page, "/msg termy sealed in the browser");
      await termy.waitFor(
        /Private message from faraway: sealed in the browser/,
      );
      await termy.write("/msg faraway sealed in the terminal\n");
      await waitForLine(
        page,
        /Private message from termy: sealed in the terminal$/,
      );
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: "web client: usable at phone width with the keyboard alone",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await chat.browser.newPage();
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    page.on("pageerror", (error) => problems.push(`page error: ${error}`));
    await page.goto(chat.url);
    await join(page, "phone");
    await typeLine(page, "typed on a phone");
    await waitForLine(page, /Broadcast message sent: typed on a phone/);
    const layout = await page.evaluate(() => {
      const line = document.getElementById("line")!.getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        lineRight: line.right,
        lineBottom: line.bottom,
      };
    });
    assert.ok(layout.scrollWidth <= 390, `page is ${layout.scrollWidth} wide`);
    assert.ok(layout.lineRight <= 390 && layout.lineBottom <= 844);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: reconnects after the server restarts and sends what was typed meanwhile",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "phoenix", problems);

    await chat.stop();
    await page.waitForFunction(
      () => document.body.classList.contains("disconnected"),
      { timeout: WAIT_MS },
    );
    await typeLine(page, "typed while away");
    await waitForLine(page, /\(queued\) typed while away$/);

    await chat.start();
    await waitForLine(page, /Reconnected as phoenix\.$/);
    // The queued line went out once back: the server confirmed it.
    await waitForLine(page, /Broadcast message sent: typed while away$/);
    const termy = await chat.terminal("termy");
    await typeLine(page, "back after the restart");
    await termy.waitFor(/\[Broadcast from phoenix\]: back after the restart/);
    // The page cannot load resources while the server is down: those
    // failures (and only those) are expected.
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: files each way between a browser user and a terminal user, behind the page's accept prompt",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const downloads = `${chat.dir}/termy downloads`;
    const termy = await chat.terminal(
      "termy",
      "--accept-files",
      "all",
      "--downloads",
      downloads,
      "--open-with",
      "true",
    );

    // Terminal to browser: asked first, then offered for saving, not opened.
    const notes = "meeting notes\n<script>alert(1)</script>\n".repeat(5000);
    await Deno.writeTextFile(`${chat.dir}/notes.txt`, notes);
    await termy.write(`/file webby ${chat.dir}/notes.txt\n`);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#log .line.offer")].some((row) =>
          row.textContent?.startsWith("termy wants to send you notes.txt")
        ),
      { timeout: WAIT_MS },
    );
    const [accept] = await page.$$("#log .line.offer button");
    await accept!.click();
    await termy.waitFor(/File notes\.txt sent to webby successfully\./);
    await page.waitForSelector("#log .line.received a", { timeout: WAIT_MS });
    // Saved through the browser's download, into a folder of the test's.
    const browserDownloads = `${chat.dir}/browser downloads`;
    const cdp = await page.createCDPSession();
    await cdp.send("Browser.setDownloadBehavior", {
      behavior: "allow",
      downloadPath: browserDownloads,
    });
    assert.equal(
      await page.$eval(
        "#log .line.received a",
        (a) => (a as HTMLAnchorElement).download,
      ),
      "notes.txt",
    );
    await page.click("#log .line.received a");
    const saved = await waitForFile(
      `${browserDownloads}/notes.txt`,
      new TextEncoder().encode(notes).byteLength,
    );
    assert.ok(
      new TextDecoder().decode(saved) === notes,
      "the page saved other bytes than were sent",
    );
    await waitForLine(page, /You received file notes\.txt from termy\./);

    // Browser to terminal: to whom the page writes (a click on the name).
    // Several chunks and acknowledgements' worth, of random bytes.
    const photo = new Uint8Array(1_500_000);
    for (let at = 0; at < photo.length; at += 65536) {
      crypto.getRandomValues(photo.subarray(at, at + 65536));
    }
    await Deno.writeFile(`${chat.dir}/photo.bin`, photo);
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("termy"),
      { timeout: WAIT_MS },
    );
    const [termyButton] = await page.$$(
      "xpath/.//ul[@id='people']//button[text()='termy']",
    );
    await termyButton!.click();
    const input = await page.$("#file-input");
    await (input as unknown as { uploadFile(path: string): Promise<void> })
      .uploadFile(`${chat.dir}/photo.bin`);
    await termy.waitFor(/You received file photo\.bin from webby\./);
    await waitForLine(page, /File photo\.bin sent to termy successfully\.$/);
    assert.deepEqual(await Deno.readFile(`${downloads}/photo.bin`), photo);

    // To a group: everyone in it but the sender is asked.
    await typeLine(page, "/create crew");
    await waitForLine(page, /Group 'crew' created/);
    await termy.write("/join crew\n");
    await termy.waitFor(/Joined group 'crew'/);
    const [crewButton] = await page.$$(
      "xpath/.//ul[@id='groups']//button[text()='#crew']",
    );
    await crewButton!.click();
    await Deno.writeTextFile(`${chat.dir}/plan.txt`, "the plan\n");
    await (input as unknown as { uploadFile(path: string): Promise<void> })
      .uploadFile(`${chat.dir}/plan.txt`);
    await termy.waitFor(/\[Receive plan\.txt from Group crew webby\]\./);
    await waitForLine(
      page,
      /File plan\.txt sent to group crew: received by termy\.$/,
    );
    // All done: /transfers (the terminal's listing) has nothing to show.
    await typeLine(page, "/transfers");
    await waitForLine(page, /^No file transfers\.$/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: the Content-Security-Policy stops script that reaches the page as HTML",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const page = await chat.browser.newPage();
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/.test(message.text())) {
        violations.push(message.text());
      }
    });
    await page.goto(chat.url);
    // As if the page had a bug that put hostile text in as HTML: the
    // inline handler must not run.
    const ran = await page.evaluate(() =>
      new Promise<boolean>((resolve) => {
        const holder = document.createElement("div");
        holder.innerHTML =
          '<img src="/nothing-here" onerror="window.__ran = true">';
        const img = holder.querySelector("img")!;
        img.addEventListener("error", () =>
          // Handlers run in order: an inline one would have run by now.
          resolve((window as { __ran?: boolean }).__ran === true));
        document.body.append(holder);
      })
    );
    assert.equal(ran, false);
    assert.ok(violations.length > 0, "the browser reported no CSP violation");
  },
});
