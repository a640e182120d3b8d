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
