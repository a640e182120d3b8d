/**
 * The page's list of identity keys seen per name (client/known_identities.ts)
 * in IndexedDB (web/e2e_store.ts): a first key adds a record of its own,
 * not a rewrite of the whole list, and a list kept by pages before (one
 * record) keeps every key it knew: a key lost is a pin lost, and the next
 * key for that name would be taken silently as a first sight. In real
 * Chromium, with the page's own stores (tests/_helpers/web_stores_page.ts).
 * Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
} from "../_helpers/browser.ts";
import type { WebStores } from "../_helpers/web_stores_page.ts";

type Stores = { webStores: WebStores };

/** As web_stores_page.ts makes them in the page. */
function fingerprintOf(n: number): string {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  return `SHA256:${btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")}`;
}

/** The names a host sends, as a classroom's server never would. */
const NAMES = 2000;
const SERVER = fingerprintOf(1_000_000);

/** web_stores_page.ts bundled for the browser. */
async function storesScript(): Promise<string> {
  const entry = new URL("../_helpers/web_stores_page.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", entry.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (code !== 0) throw new Error(`deno bundle failed: ${text(stderr)}`);
  return text(stdout);
}

Deno.test({
  name:
    "web client: the known identities keep a list from before whole, and each first key of 2,000 names adds a record, not a rewrite of the list",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.evaluate(await storesScript());
    await page.evaluate(() =>
      (globalThis as unknown as Stores).webStores.openE2e()
    );

    // The list as pages before kept it: one record of 2,000 lines.
    const lines = ["# Identity keys first seen per user"];
    for (let n = 0; n < NAMES; n++) {
      lines.push(`${SERVER} old${n} ${fingerprintOf(n)}`);
    }
    const before = lines.join("\n") + "\n";
    await page.evaluate(
      (text) =>
        (globalThis as unknown as Stores).webStores.keepOldIdentities(text),
      before,
    );
    assert.equal(
      await page.evaluate(
        (server, count) =>
          (globalThis as unknown as Stores).webStores.knownNames(
            server,
            "old",
            0,
            count,
          ),
        SERVER,
        NAMES,
      ),
      NAMES,
    );

    // Signed in again: 2,000 new names, each a first key.
    await page.evaluate(() =>
      (globalThis as unknown as Stores).webStores.openE2e()
    );
    const checked = await page.evaluate(
      (server, count) =>
        (globalThis as unknown as Stores).webStores.checkNames(
          server,
          "new",
          count,
          count,
        ),
      SERVER,
      NAMES,
    );
    assert.deepEqual(checked.kinds, { first: NAMES });
    console.log(`${NAMES} first keys on a list of ${NAMES}: ${checked.ms} ms`);
    // The list from before untouched; a record for each name.
    assert.deepEqual(
      await page.evaluate(() =>
        (globalThis as unknown as Stores).webStores.identityRecords()
      ),
      { whole: before.length, added: NAMES },
    );

    // Read back by a new sign-in: every key, old and new.
    for (const [prefix, first] of [["old", 0], ["new", NAMES]] as const) {
      assert.equal(
        await page.evaluate(
          (server, prefix, first, count) =>
            (globalThis as unknown as Stores).webStores.knownNames(
              server,
              prefix,
              first,
              count,
            ),
          SERVER,
          prefix,
          first,
          NAMES,
        ),
        NAMES,
        prefix,
      );
    }
    assert.deepEqual(problems, []);
  },
});

/**
 * What a tab of the page before the per-name records (c18687a and older)
 * does with the known identities, in its own connection to the database
 * (version 1, closed when a newer page upgrades it, as its open_database.ts
 * did): under the tabs' lock, reads "identities" alone and writes it back
 * whole with a line added. Put on `globalThis.oldTab` of the page.
 */
function oldTabCode(): void {
  const opened = new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open("chat-e2e", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("records");
    open.onsuccess = () => {
      open.result.onversionchange = () => open.result.close();
      resolve(open.result);
    };
    open.onerror = () => reject(open.error);
  });
  const read = async () => {
    const db = await opened;
    return await new Promise<string>((resolve, reject) => {
      const get = db.transaction("records").objectStore("records").get(
        "identities",
      );
      get.onsuccess = () => resolve(get.result ?? "");
      get.onerror = () => reject(get.error);
    });
  };
  (globalThis as unknown as { oldTab: unknown }).oldTab = {
    opened: () => opened.then(() => {}),
    /** Whether the old page's list names `name`; "refused" if unreadable. */
    knows: async (name: string) => {
      try {
        return (await read()).includes(` ${name} `);
      } catch {
        return "refused";
      }
    },
    /** Pins `line` as a first key, as the old page did; "ok" or "refused". */
    pin: (line: string) =>
      navigator.locks.request("chat-e2e identities", async () => {
        try {
          const text = await read();
          const db = await opened;
          await new Promise<void>((resolve, reject) => {
            const tx = db.transaction("records", "readwrite");
            tx.objectStore("records").put(text + line + "\n", "identities");
            tx.oncomplete = () => resolve();
            tx.onabort = () => reject(tx.error);
          });
          return "ok";
        } catch {
          return "refused";
        }
      }),
  };
}

type OldTab = {
  oldTab: {
    opened(): Promise<void>;
    knows(name: string): Promise<boolean | "refused">;
    pin(line: string): Promise<"ok" | "refused">;
  };
};

Deno.test({
  name:
    "web client: a tab of the page before the upgrade, still open, neither misses a key the new page pinned nor pins one the new page does not see",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    // The tab opened before the server was upgraded, signed in: its
    // connection to the records is open.
    const old = await openPage(chat.browser, chat.url, problems);
    await old.evaluate(oldTabCode);
    await old.evaluate(() => (globalThis as unknown as OldTab).oldTab.opened());
    // A tab of the new page signs in and sees ann's key, then bob's, first.
    const page = await openPage(chat.browser, chat.url, problems);
    await page.evaluate(await storesScript());
    await page.evaluate(() =>
      (globalThis as unknown as Stores).webStores.openE2e()
    );
    // (ann's makes the list, which bob's is added to.)
    for (const [name, n] of [["ann", 0], ["bob", 1]] as const) {
      const first = await page.evaluate(
        (server, name, fingerprint) =>
          (globalThis as unknown as Stores).webStores.checkKey(
            server,
            name,
            fingerprint,
          ),
        SERVER,
        name,
        fingerprintOf(n),
      );
      assert.equal(first, "first", name);
    }

    // The old tab would take a changed key of bob's as a first sight.
    const oldKnowsBob = await old.evaluate(() =>
      (globalThis as unknown as OldTab).oldTab.knows("bob")
    );
    assert.notEqual(oldKnowsBob, false, "the old tab does not know bob's key");

    // The old tab pins carol's key; the new one then gets another for her.
    const pinned = await old.evaluate(
      (line) => (globalThis as unknown as OldTab).oldTab.pin(line),
      `${SERVER} carol ${fingerprintOf(2)}`,
    );
    const carol = await page.evaluate(
      (server, fingerprint) =>
        (globalThis as unknown as Stores).webStores.checkKey(
          server,
          "carol",
          fingerprint,
        ),
      SERVER,
      fingerprintOf(3),
    );
    if (pinned === "ok") {
      assert.equal(carol, "changed", "carol's key pinned by the old tab");
    }
    assert.deepEqual(problems, []);
  },
});
