/// <reference lib="dom" />
/**
 * Right-to-left text in the page's rows, in real Chromium against a real
 * `chat serve`: each part a user wrote (the sender's name, the group's
 * name, the message's text) is a run of its own for the bidi algorithm (a
 * `<bdi>`), so a Hebrew message ends on its left, as it reads, and a row's
 * own wording stays left to right around it; the row's text reads as
 * before (to copy, and for the tests that read rows). The message field
 * takes the direction of what is typed (`dir="auto"`). Measured where the
 * characters are drawn (a Range's boxes), not from the markup. Slow (a
 * browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  sendPhoto,
  signedInPage,
  startBrowserChat,
  typeLine,
  upload,
  WAIT_MS,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";

/**
 * Where the characters `chars` of the row whose text contains `marker` are
 * drawn: the left edge of each (the first time it occurs in the row's text
 * from `from` on), in CSS pixels.
 */
function leftOf(
  page: Page,
  marker: string,
  from: string,
  chars: string[],
): Promise<number[]> {
  return page.$$eval(
    "#log .line",
    (rows, marker, from, chars) => {
      const row = rows.find((r) => (r.textContent ?? "").includes(marker));
      if (row === undefined) throw new Error(`no row with ${marker}`);
      // The text nodes in order, to find a character by its offset.
      const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
      const nodes: Text[] = [];
      for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
        nodes.push(n as Text);
      }
      const text = row.textContent ?? "";
      const start = text.indexOf(from);
      return chars.map((char) => {
        let at = text.indexOf(char, start);
        if (at < 0) throw new Error(`no ${char} in ${text}`);
        for (const node of nodes) {
          if (at < node.length) {
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + char.length);
            return range.getBoundingClientRect().left;
          }
          at -= node.length;
        }
        throw new Error("offset past the row's text");
      });
    },
    marker,
    from,
    chars,
  );
}

/**
 * A right-to-left file name ending in "!" in the row containing `marker`
 * (from `from` on) reads as it is written: its "!" drawn left of its first
 * letter `letter`, and that letter left of `after`, the row's own text that
 * follows it. Left to right with the row, the "!" stood right of the name.
 */
async function assertNameReads(
  page: Page,
  marker: string,
  from: string,
  letter: string,
  after: string,
): Promise<void> {
  const [bang, first, next] = await leftOf(page, marker, from, [
    "!",
    letter,
    after,
  ]);
  assert.ok(bang! < first!, `"!" at ${bang}px, "${letter}" at ${first}px`);
  assert.ok(
    first! < next!,
    `"${letter}" at ${first}px, "${after}" at ${next}px`,
  );
}

Deno.test({
  name:
    "web client: a right-to-left message is an isolated run, its punctuation where it reads, the row's wording left to right",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const scripty = await chat.signedInClient("scripty");
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);

    // Hebrew ending in "!": read right to left, the "!" ends it on the left
    // of its first letter. Left to right with the row, it stood on the right.
    assert.equal((await scripty.say("שלום לכולם!")).t, "ok");
    await waitForLine(page, /\[Broadcast from scripty\]: שלום לכולם!$/);
    const [bang, shin, colon] = await leftOf(page, "שלום לכולם!", "]: ", [
      "!",
      "ש",
      ":",
    ]);
    assert.ok(
      bang! < shin!,
      `the "!" (at ${bang}px) is not on the left of "ש" (at ${shin}px)`,
    );
    // The row's wording stays before the message, left to right.
    assert.ok(colon! < bang!, `"]:" (at ${colon}px) is not left of the text`);

    // Digits first, then Arabic: read right to left, the digits come first,
    // on the right. Left to right with the row, they stood on the left.
    assert.equal((await scripty.say("123 مرحبا")).t, "ok");
    await waitForLine(page, /\[Broadcast from scripty\]: 123 مرحبا$/);
    const [one, meem] = await leftOf(page, "123 مرحبا", "]: ", ["1", "م"]);
    assert.ok(
      meem! < one!,
      `"123" (at ${one}px) is not on the right of "م" (at ${meem}px)`,
    );

    // The sender's name and the text are runs of their own (the wording
    // around them is not).
    const html = await page.$$eval(
      "#log .line",
      (rows) =>
        rows.find((r) => (r.textContent ?? "").includes("לכולם"))!.innerHTML,
    );
    assert.match(html, /\[Broadcast from <bdi>scripty<\/bdi>\]: <bdi>שלום/);

    // One's own message, confirmed: its text a run too; the row's text
    // reads as it did.
    await page.type("#line", "!עברית");
    assert.equal(
      await page.$eval("#line", (e) => (e as HTMLTextAreaElement).dir),
      "auto",
    );
    await page.keyboard.press("Enter");
    await waitForLine(page, /^\[\d\d:\d\d\] Broadcast message sent: !עברית$/);
    const [mine, ayin] = await leftOf(page, "sent: !עברית", "sent: ", [
      "!",
      "ע",
    ]);
    // "!" first, then Hebrew: right to left, the "!" is on the right.
    assert.ok(mine! > ayin!, `"!" at ${mine}px, "ע" at ${ayin}px`);

    // A bidi control in the text still shows as text, and makes no run.
    assert.equal((await scripty.say("a\u2069b\u2068c")).t, "ok");
    await waitForLine(
      page,
      /\[Broadcast from scripty\]: a<U\+2069>b<U\+2068>c$/,
    );
    const shot = Deno.env.get("RTL_SHOT");
    if (shot !== undefined) await page.screenshot({ path: shot });
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a Hebrew file name in an offer's row is a run of its own, its '!' where it reads",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    await Deno.writeTextFile(`${chat.dir}/דוח!`, "meeting notes\n");

    await termy.write(`/file webby ${chat.dir}/דוח!\n`);
    await page.waitForSelector(
      `#log .line.offer button[aria-label^="Accept דוח! "]`,
      { timeout: WAIT_MS },
    );
    const marker = "termy wants to send you דוח! (14 B). Accept?";
    // The size after the name, as the row says it.
    await assertNameReads(page, marker, "you ", "ד", "(");
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a Hebrew file name in the page's file lines (Accepted ..., Offering ...) is a run of its own, its '!' where it reads",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    await chat.keysOf("termy");
    await Deno.writeTextFile(`${chat.dir}/דוח!`, "meeting notes\n");

    // The answer's row, in consent.ts describeOffer's words.
    await termy.write(`/file webby ${chat.dir}/דוח!\n`);
    const accept = await page.waitForSelector(
      `#log .line.offer button[aria-label="Accept דוח! (14 B) from termy"]`,
      { timeout: WAIT_MS },
    );
    await accept!.click();
    await waitForLine(page, /^Accepted דוח! \(14 B\) from termy\.$/);
    await assertNameReads(page, "Accepted דוח! (14 B)", "Accepted ", "ד", "(");

    // The page's own offer, in the terminal's words (text_output.ts).
    await Deno.writeTextFile(`${chat.dir}/שלום!`, "hi\n");
    await typeLine(page, "/query termy");
    await waitForLine(page, /^Plain lines now go to termy/);
    await upload(page, `${chat.dir}/שלום!`);
    await waitForLine(
      page,
      /^Offering שלום! \(3 B\) to termy; waiting for an answer\.$/,
    );
    await assertNameReads(page, "Offering שלום! (3 B)", "Offering ", "ש", "(");
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a Hebrew file name in the page's held and sent lines (... waits: ..., File ... sent to ...) is a run of its own, its '!' where it reads",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    // scripty answers no offer: 4 under way to it, the next one is held.
    const scripty = await chat.signedInClient("scripty");
    try {
      const downloads = `${chat.dir}/downloads`;
      await Deno.mkdir(downloads);
      await chat.terminal(
        "termy",
        "--accept-files",
        "all",
        "--downloads",
        downloads,
        "--open-with",
        "true",
      );
      const { page, problems, offered } = await webbyToTermy(chat, scripty);
      await chat.keysOf("termy");
      await waitForLine(page, /^Plain lines now go to termy/);

      // The sent line, in render.ts renderSentFile's words.
      await Deno.writeTextFile(`${chat.dir}/שלום!`, "hi\n");
      await upload(page, `${chat.dir}/שלום!`);
      await waitForLine(page, /^File שלום! sent to termy successfully\.$/);
      await assertNameReads(page, "File שלום! sent to", "File ", "ש", "sent");

      // The held line, in sending_places.ts heldNotice's words.
      await typeLine(page, "/query scripty");
      await waitForLine(page, /^Plain lines now go to scripty/);
      for (let i = 1; i <= 4; i++) {
        await sendPhoto(page, chat.dir, i);
        await offered(i);
      }
      await Deno.writeTextFile(`${chat.dir}/דוח!`, "meeting notes\n");
      await upload(page, `${chat.dir}/דוח!`);
      await waitForLine(
        page,
        /^דוח! waits: 4 files to scripty are under way already/,
      );
      await assertNameReads(page, "דוח! waits: ", "", "ד", "w");
      assert.deepEqual(
        await page.$$eval(
          "#log .line",
          (rows) =>
            rows.filter((r) =>
              /^(File שלום! sent|דוח! waits)/.test(r.textContent ?? "")
            ).map((r) => r.innerHTML.replace(/ \(\/transfers.*$/, "")),
        ),
        [
          "File <bdi>שלום!</bdi> sent to <bdi>termy</bdi> successfully.",
          "<bdi>דוח!</bdi> waits: 4 files to <bdi>scripty</bdi> are under way already, the most at once; it is offered once one of them ends",
        ],
      );
      assert.deepEqual(problems, []);
    } finally {
      await scripty.quit();
    }
  },
});
