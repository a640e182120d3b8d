/// <reference lib="dom" />
/**
 * Commands typed in a person's or a group's view, in real Chromium against
 * a real `chat serve`: `/history` alone shows that conversation's history
 * (it showed the public room's, "End of history for the public room", in
 * jojo's view), and `/leave` of the group viewed sends the next plain line
 * to everyone rather than to the group left (each was refused: "You are
 * not a member of group 'crew'"). Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  typeLine,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";
import { startBrowserChat } from "../_helpers/browser.ts";

/** The rows the log shows now (the view chosen), as text. */
function rows(page: Page): Promise<string[]> {
  return page.$$eval(
    "#log .line",
    (all) =>
      all.filter((r) => (r as HTMLElement).offsetParent !== null).map((r) =>
        r.textContent ?? ""
      ),
  );
}

Deno.test({
  name:
    "web client: /history in a person's or a group's view shows that conversation's history, /leave of the group viewed writes to everyone next, and the button left of the input says it goes back to everyone",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, problems, terminal: termy } = await webbyAnd(chat, "termy");
    await termy.write("hello room\n");
    await waitForLine(page, /\[Broadcast from termy\]: hello room$/);
    await typeLine(page, "/msg termy just us");
    await termy.waitFor(/Private message from webby: just us/);

    // The name field takes the protocol's longest name, no more.
    assert.equal(
      await page.$eval("#name", (e) => (e as HTMLInputElement).maxLength),
      32,
    );
    await typeLine(page, "/query termy");
    // The button left of the input says what a click does: back to
    // everyone (it was named "termy" alone).
    const target = await page.$("#target");
    const heard = await page.accessibility.snapshot({ root: target! });
    assert.equal(heard?.name, "Back to everyone (writing to termy now)");
    await typeLine(page, "/history");
    await waitForLine(page, /^End of history for .*termy.*\(\d+ messages?/);
    const shown = (await rows(page)).join("\n");
    assert.match(
      shown,
      /\[history .*\] Private message to termy: just us/,
    );
    assert.doesNotMatch(shown, /End of history for the public room/);
    assert.doesNotMatch(shown, /hello room/);

    await typeLine(page, "/create crew");
    await waitForLine(page, /crew/);
    await typeLine(page, "/query #crew");
    await typeLine(page, "in the crew");
    await waitForLine(
      page,
      /^\[\d\d:\d\d\] Group message to crew: in the crew$/,
    );
    await typeLine(page, "/history");
    // The group's (whether the server kept its message yet or not), not
    // the room's.
    await waitForLine(page, /^(End of history|No history) for group 'crew'/);
    await typeLine(page, "/leave crew");
    await waitForLine(
      page,
      /^You left group crew: plain lines go to everyone again$/,
    );
    assert.equal(
      await page.$eval("#target", (e) => e.textContent),
      "everyone",
    );
    assert.equal(
      (await page.accessibility.snapshot({ root: (await page.$("#target"))! }))
        ?.name,
      "Writing to everyone",
    );
    await typeLine(page, "after leaving");
    await termy.waitFor(/\[Broadcast from webby\]: after leaving/);
    assert.doesNotMatch(
      (await rows(page)).join("\n"),
      /You are not a member of group/,
    );
    assert.deepEqual(problems, []);
  },
});
