/// <reference lib="dom" />
/**
 * The keyboard's focus ring in the lists beside the log, in real Chromium
 * against a real `chat serve`: the lists scroll (overflow), and their
 * buttons are as wide as the lists, so the ring drawn 4 px outside a
 * button was cut at its sides: Tab to All showed a line above it and one
 * under it, read as separators, and on a phone's strip, scrolled to the
 * button, the line under it alone, as an underline. Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";

/**
 * Tabs from the input through the lists and the Create form; for each
 * element focused there whose ring (outline and its offset) is cut by the
 * lists' scrolled area, what it is and by how many pixels on which side.
 */
async function cutRings(page: Page): Promise<string[]> {
  await page.focus("#line");
  const cut: string[] = [];
  for (let step = 0; step < 20; step++) {
    await page.keyboard.press("Tab");
    const found = await page.evaluate(() => {
      const side = document.getElementById("side")!;
      const focused = document.activeElement;
      if (focused === null || !side.contains(focused)) return null;
      const style = getComputedStyle(focused);
      const ring = parseFloat(style.outlineWidth) +
        parseFloat(style.outlineOffset);
      const box = focused.getBoundingClientRect();
      const frame = side.getBoundingClientRect();
      // The scrolled area: within the borders, left of a scroll bar.
      const area = {
        left: frame.left + side.clientLeft,
        top: frame.top + side.clientTop,
        right: frame.left + side.clientLeft + side.clientWidth,
        bottom: frame.top + side.clientTop + side.clientHeight,
      };
      const sides = [
        ["left", area.left - (box.left - ring)],
        ["top", area.top - (box.top - ring)],
        ["right", box.right + ring - area.right],
        ["bottom", box.bottom + ring - area.bottom],
      ].filter(([, over]) => (over as number) > 0.5)
        .map(([name, over]) => `${name} ${Math.round(over as number)} px`);
      const label = focused.getAttribute("aria-label") ??
        focused.textContent ?? "";
      return { label, sides };
    });
    if (found === null) {
      if (step > 6) break;
      continue;
    }
    if (found.sides.length > 0) {
      cut.push(`${found.label}: ${found.sides.join(", ")}`);
    }
  }
  return cut;
}

Deno.test({
  name:
    "web client: the focus ring of a button in the lists beside the log shows whole, on a desktop and a phone",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    await termy.write("/create crew\n");
    await termy.waitFor(/Group 'crew' created and joined/);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await page.waitForFunction(
      () => document.getElementById("groups")?.textContent === "#crewJoin",
      { timeout: WAIT_MS },
    );
    await page.setViewport({ width: 1100, height: 700 });
    assert.deepEqual(await cutRings(page), [], "on a desktop");
    // A phone: the lists are a strip under the input, scrolled to each.
    await page.setViewport({ width: 390, height: 740 });
    assert.deepEqual(await cutRings(page), [], "on a phone");
    assert.deepEqual(problems, []);
  },
});
