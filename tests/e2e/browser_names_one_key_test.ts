/// <reference lib="dom" />
/**
 * One browser profile has one identity key, as one config folder has in
 * the terminal (README, "Your name"): names signed in from it, in two tabs
 * or one after another, show the same key. What must not mislead is
 * `/verify`: a safety number covers the name as well as the key, so each
 * name has its own, and verifying one name leaves the others unverified.
 * In real Chromium against a real `chat serve` and a real terminal. Slow
 * (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import type { ChatProcess } from "../_helpers/process.ts";

/** The identity key's fingerprint the page showed at sign-in. */
function identityOf(page: Page): Promise<string> {
  return page.$$eval("#log .line", (rows) => {
    for (const row of rows) {
      const found = /Your identity key: (SHA256:\S+)$/.exec(
        row.textContent ?? "",
      );
      if (found !== null) return found[1]!;
    }
    throw new Error("No identity key in the page's log");
  });
}

/** The 60 digits termy's terminal says next for `/verify name`. */
async function safetyNumberOf(
  termy: ChatProcess,
  name: string,
): Promise<string> {
  await termy.write(`/verify ${name}\n`);
  const [, first, second] = await termy.waitFor(
    new RegExp(
      `Safety number with ${name} [^\\n]*\\n {2}((?:\\d{5} ){5}\\d{5})\\n {2}((?:\\d{5} ){5}\\d{5})\\n${name} is not verified\\.`,
    ),
  );
  return `${first} ${second}`;
}

Deno.test({
  name:
    "web client: two names of one browser share its identity key, but each has its own safety number, and verifying one verifies only it",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const ann = await signedInPage(chat, "ann", problems);
    const bea = await signedInPage(chat, "bea", problems);
    const termy = await chat.terminal("termy");
    const key = await identityOf(ann);
    assert.equal(await identityOf(bea), key);
    assert.equal(await chat.keysOf("ann"), key);
    assert.equal(await chat.keysOf("bea"), key);

    const withAnn = await safetyNumberOf(termy, "ann");
    const withBea = await safetyNumberOf(termy, "bea");
    assert.notEqual(withAnn, withBea);

    // ann's page computes the same number termy does for ann.
    await ann.bringToFront();
    await typeLine(ann, "/verify termy");
    await waitForLine(ann, /^termy is not verified\.$/);
    const shown = await ann.$$eval(
      "#log .line",
      (rows) => rows.map((row) => row.textContent).join(" "),
    );
    assert.ok(
      shown.replace(/\s+/g, " ").includes(withAnn),
      `ann's page does not show ${withAnn}`,
    );

    await termy.write(`/verify ann ${withAnn}\n`);
    await termy.waitFor(
      /The safety numbers match: ann \(key SHA256:\S+\) is marked verified/,
    );
    // bea, of the same key, is not verified by it.
    await termy.write("/verify bea\n");
    await termy.waitFor(/\nbea is not verified\.\n[^]*\nbea is not verified\./);
    assert.deepEqual(problems, []);
  },
});
