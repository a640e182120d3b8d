/**
 * Two tabs of one browser (one origin, so one IndexedDB and one
 * localStorage) changing one record of the page's stores at the same
 * moment: neither may lose what the other wrote, and of two keys seen
 * first for one name (or one server), exactly one is taken as the first.
 * The tabs run the page's own stores (tests/_helpers/web_stores_page.ts),
 * each contest released in both tabs by one BroadcastChannel message.
 *
 * The stores are driven directly, not through a sign-in: the page lets one
 * tab at a time have the end-to-end records of this browser's identity
 * (main.ts holdForPage), so two signed-in tabs never reach the known
 * identities together; the store must hold without that.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
} from "../_helpers/browser.ts";
import type { Contest, WebStores } from "../_helpers/web_stores_page.ts";

/** Enough that tabs released together overlap, as they did before the locks. */
const ROUNDS = 30;
const SERVER = fingerprintOf(0);

/** A fingerprint of the form the stores take, distinct per `n`. */
function fingerprintOf(n: number): string {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n + 1);
  return `SHA256:${bytes.toBase64({ omitPadding: true })}`;
}

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

type Stores = { webStores: WebStores };

/**
 * Three tabs of the page with its stores: two to contest, one to say go.
 */
async function tabs(problems: string[]) {
  const chat = await startBrowserChat();
  const script = await storesScript();
  const open = async () => {
    const page = await openPage(chat.browser, chat.url, problems);
    await page.evaluate(script);
    return page;
  };
  const [a, b, starter] = [await open(), await open(), await open()];
  return {
    a: a!,
    b: b!,
    starter: starter!,
    async [Symbol.asyncDispose]() {
      await chat[Symbol.asyncDispose]();
    },
  };
}

type Tabs = Awaited<ReturnType<typeof tabs>>;

/**
 * A test of three tabs of the page (see `tabs`) that also fails on any
 * script error or CSP violation in them.
 */
function tabsTest(name: string, fn: (page: Tabs) => Promise<void>): void {
  Deno.test({
    name,
    ...LEAK_CHECKS_OFF,
    async fn() {
      const problems: string[] = [];
      await using page = await tabs(problems);
      await fn(page);
      assert.deepEqual(problems, []);
    },
  });
}

/**
 * Arms `contests(round)` in each contesting tab, releases them with one
 * message, and returns what each tab's contests came to.
 */
async function release(
  pages: Page[],
  starter: Page,
  round: number,
  contests: (page: number) => Contest[],
): Promise<unknown[][]> {
  for (const [i, page] of pages.entries()) {
    await page.evaluate(
      (r, c) => (globalThis as unknown as Stores).webStores.arm(r, c),
      round,
      contests(i),
    );
  }
  await starter.evaluate(
    (r) => (globalThis as unknown as Stores).webStores.go(r),
    round,
  );
  return await Promise.all(
    pages.map(async (page) =>
      (await page.evaluate(() =>
        (globalThis as unknown as Stores).webStores.results()
      )).map((json) => JSON.parse(json))
    ),
  );
}

tabsTest(
  "web: two tabs checking identity keys at once keep both their entries, and only one takes a name's first key",
  async (page) => {
    for (const tab of [page.a, page.b]) {
      await tab.evaluate(() =>
        (globalThis as unknown as Stores).webStores.openE2e()
      );
    }
    const keyOf = (round: number, tab: number) =>
      fingerprintOf(1000 + 2 * round + tab);
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = await release([page.a, page.b], page.starter, round, (
        tab,
      ) => [
        // One name both see first, each with another key.
        {
          kind: "identity",
          server: SERVER,
          name: `both${round}`,
          fingerprint: keyOf(round, tab),
        },
        // A name only this tab sees.
        {
          kind: "identity",
          server: SERVER,
          name: `tab${tab}n${round}`,
          fingerprint: keyOf(round, tab),
        },
      ]);
      const shared = [a![0], b![0]] as { kind: string; previous?: string }[];
      const winner = shared.findIndex((one) => one.kind === "first");
      // The other tab is told of the winner's key as a change.
      const loser = winner === -1 ? null : shared[1 - winner];
      if (
        loser?.kind !== "changed" || loser.previous !== keyOf(round, winner)
      ) wrong.push(`round ${round}: ${JSON.stringify(shared)}`);
      assert.deepEqual([a![1], b![1]], [{ kind: "first" }, { kind: "first" }]);
    }
    assert.deepEqual(wrong, [], "rounds without exactly one first sight");
    // Every tab's own name is kept, with its key.
    const lost: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const tab of [0, 1]) {
        const kept = await page.starter.evaluate(
          (server, name) =>
            (globalThis as unknown as Stores).webStores.knownIdentity(
              server,
              name,
            ),
          SERVER,
          `tab${tab}n${round}`,
        );
        if (kept !== keyOf(round, tab)) lost.push(`tab${tab}n${round}`);
      }
    }
    assert.deepEqual(lost, [], "entries lost");
  },
);

tabsTest(
  "web: two tabs meeting a new server at once, with two keys, take only one as its first",
  async (page) => {
    const keyOf = (round: number, tab: number) =>
      fingerprintOf(2000 + 2 * round + tab);
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = (await release(
        [page.a, page.b],
        page.starter,
        round,
        (tab) => [{
          kind: "server-key",
          host: `race${round}.example:8767`,
          fingerprint: keyOf(round, tab),
        }],
      )).map(([one]) => one as { kind: string; remembered?: string });
      const both = [a!, b!];
      const winner = both.findIndex((one) => one.kind === "new");
      // The other tab refuses the server: its key is not the one taken.
      const loser = winner === -1 ? null : both[1 - winner];
      if (
        loser?.kind !== "changed" ||
        loser.remembered !== keyOf(round, winner)
      ) wrong.push(`round ${round}: ${JSON.stringify(both)}`);
    }
    assert.deepEqual(wrong, [], "rounds without exactly one first sight");
  },
);

tabsTest(
  "web: a server key an older page remembered in localStorage still counts, and is kept on",
  async (page) => {
    const [old, other] = [fingerprintOf(3000), fingerprintOf(3001)];
    const check = (host: string, fingerprint: string) =>
      page.starter.evaluate(
        async (h, f) =>
          JSON.parse(
            await (globalThis as unknown as Stores).webStores.checkServerKey(
              h,
              f,
            ),
          ),
        host,
        fingerprint,
      );
    await page.starter.evaluate(
      (key) => localStorage.setItem("chat.server-key.old.example:8767", key),
      old,
    );
    assert.deepEqual(await check("old.example:8767", other), {
      kind: "changed",
      remembered: old,
    });
    await page.starter.evaluate(() => localStorage.clear());
    assert.deepEqual(await check("OLD.example:8767", old), { kind: "known" });
  },
);

tabsTest(
  "web: two tabs ignoring users at once both keep their entries",
  async (page) => {
    for (const tab of [page.a, page.b]) {
      await tab.evaluate(() =>
        (globalThis as unknown as Stores).webStores.openIgnored()
      );
    }
    for (let round = 0; round < ROUNDS; round++) {
      await release(
        [page.a, page.b],
        page.starter,
        round,
        (
          tab,
        ) => [{ kind: "ignore", server: SERVER, name: `tab${tab}n${round}` }],
      );
    }
    const names = new Set(
      await page.starter.evaluate(
        (server) =>
          (globalThis as unknown as Stores).webStores.ignoredNames(server),
        SERVER,
      ),
    );
    const lost = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const tab of [0, 1]) {
        if (!names.has(`tab${tab}n${round}`)) lost.push(`tab${tab}n${round}`);
      }
    }
    assert.deepEqual(lost, [], "entries lost");
  },
);
