/**
 * The page's end-to-end state in IndexedDB kept within its bound, as the
 * terminal's file is (client/e2e_store.ts `saveE2eStateTo`): in real
 * Chromium, through the page's own store (tests/_helpers/web_stores_page.ts),
 * with a small bound for the test in place of the 96 MiB one.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
} from "../_helpers/browser.ts";
import type { WebStores } from "../_helpers/web_stores_page.ts";

type Stores = { webStores: WebStores };

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
    "web: the end-to-end state in IndexedDB never passes its bound: the oldest archived messages go, the user is told once, and the record reads back",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const problems: string[] = [];
    await using chat = await startBrowserChat();
    const page = await openPage(chat.browser, chat.url, problems);
    await page.evaluate(await storesScript());
    const stores = {
      open: (maxBytes: number) =>
        page.evaluate(
          (m) => (globalThis as unknown as Stores).webStores.openE2e(m),
          maxBytes,
        ),
      archive: (first: number, count: number) =>
        page.evaluate(
          (f, c) => (globalThis as unknown as Stores).webStores.archive(f, c),
          first,
          count,
        ),
      ids: () =>
        page.evaluate(() =>
          (globalThis as unknown as Stores).webStores.archivedIds()
        ),
      bytes: () =>
        page.evaluate(() =>
          (globalThis as unknown as Stores).webStores.stateBytes()
        ),
      warnings: () =>
        page.evaluate(() =>
          (globalThis as unknown as Stores).webStores.warnings()
        ),
    };
    const maxBytes = 64 * 1024;
    await stores.open(maxBytes);
    await stores.archive(1, 10);
    assert.deepEqual(await stores.warnings(), []);
    assert.equal((await stores.ids()).length, 10);
    // About 300 bytes of JSON a message: 1000 would seal to about 400 KB.
    await stores.archive(11, 990);
    const bytes = await stores.bytes();
    assert.ok(bytes > 0 && bytes <= maxBytes, `${bytes} bytes`);
    const ids = await stores.ids();
    assert.ok(ids.length > 0 && ids.length < 1000, `${ids.length} kept`);
    // The newest are the ones kept.
    assert.ok(ids.includes(1000) && !ids.includes(1));
    const warnings = await stores.warnings();
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? "",
      /^WARNING: The end-to-end sessions in this browser's storage \('state SHA256:\S+ webby'\) grew past the 65536 bytes read back; to keep them readable, dropped the \d+ oldest archived messages \(\/history no longer shows them\)$/,
    );
    // Once it fits, saving again says nothing more.
    await stores.archive(1001, 1);
    assert.equal((await stores.warnings()).length, 1);
    assert.deepEqual(problems, []);
  },
});
