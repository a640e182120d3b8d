/// <reference lib="dom" />
/**
 * The page's confirmation of what it sent names the recipient or group as
 * registered, as the terminal's does (render.ts `asRegistered`, shared):
 * `/msg NANA hi` is confirmed "Private message to nana: hi". In real
 * Chromium against a real `chat serve` and `chat connect`, end to end as a
 * user's messages go. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: /msg NANA and /group HAHA are confirmed as sent to nana and haha, the names as registered",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, problems, terminal: nana } = await webbyAnd(chat, "nana");
    await nana.write("/create haha\n");
    await nana.waitFor(/SUCCESS: Group 'haha' created and joined\./);
    await page.focus("#line");
    await typeLine(page, "/join HAHA");
    await waitForLine(page, /^SUCCESS: Joined group 'haha'\.$/);

    await typeLine(page, "/msg NANA nihao");
    await waitForLine(page, /^\[\d\d:\d\d\] Private message to nana: nihao$/);
    await nana.waitFor(/Private message from webby: nihao/);
    await typeLine(page, "/group HAHA Hello there!");
    await waitForLine(
      page,
      /^\[\d\d:\d\d\] Group message to haha: Hello there!$/,
    );
    await nana.waitFor(
      /\[Receive group haha message from webby\]: Hello there!/,
    );
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    assert.ok(
      !rows.some((row) => /to NANA|to HAHA/.test(row)),
      rows.join("\n"),
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: one's own lines show their time as others' do (public, private, group, /me)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, problems, terminal: nana } = await webbyAnd(chat, "nana");
    await nana.write("/create haha\n");
    await nana.waitFor(/SUCCESS: Group 'haha' created and joined\./);
    await page.focus("#line");
    await typeLine(page, "/join haha");
    await waitForLine(page, /^SUCCESS: Joined group 'haha'\.$/);
    await nana.write("hi all\n");
    await nana.write("/msg webby hi you\n");
    await nana.write("/group haha hi group\n");
    await waitForLine(page, /\]: hi group$/);
    await typeLine(page, "hello");
    await typeLine(page, "/me waves");
    await typeLine(page, "/msg nana hello you");
    await typeLine(page, "/group haha hello group");
    await waitForLine(page, /Group message to haha: hello group$/);
    await page.click("#view-all");
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    const said = rows.filter((row) =>
      /hi all|hi you|hi group|hello|waves/.test(row) && !/^Welcome/.test(row)
    );
    assert.equal(said.length, 7, said.join("\n"));
    assert.deepEqual(
      said.filter((row) => !/^\[\d\d:\d\d\] /.test(row)),
      [],
    );
    assert.deepEqual(problems, []);
  },
});
