/// <reference lib="dom" />
/**
 * What a new user found using the web page, in real Chromium against a real
 * `chat serve` and `chat connect`: on a phone, the log left the newest
 * messages out of sight once it got shorter (the server key unfolded above
 * it); a screen reader heard a person's button as "termy 1", without
 * "unread" or their away note, and the log without a name; a phone's
 * header read "chat 1…" and "Server ke…"; a name typed after a refused one
 * was added to it. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { SerializedAXNode } from "puppeteer-core";
import {
  inView,
  join,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a log at its newest line stays there when it gets shorter (a phone's server key unfolded), and shows what comes next",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await join(page, "webby");
    for (let i = 1; i <= 40; i++) await termy.write(`line ${i}\n`);
    await waitForLine(page, /\]: line 40$/);
    await page.waitForFunction(
      () => {
        const log = document.getElementById("log")!;
        return log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      },
      { timeout: WAIT_MS },
    );
    assert.ok(await inView(page, "line 40"), "line 40 is out of sight");

    // Folded on a phone: a tap unfolds it, and the log gets shorter.
    const before = await page.$eval("#log", (log) => log.clientHeight);
    await page.click("#key summary");
    await page.waitForFunction(
      (before: number) => document.getElementById("log")!.clientHeight < before,
      { timeout: WAIT_MS },
      before,
    );
    await termy.write("after the key\n");
    await waitForLine(page, /\]: after the key$/);
    assert.ok(
      await inView(page, "after the key"),
      "the line that came after the log got shorter is out of sight",
    );
    assert.deepEqual(problems, []);
  },
});

/** The accessibility tree's nodes under `node`, depth first. */
function* axNodes(node: SerializedAXNode | null): Generator<SerializedAXNode> {
  if (node === null) return;
  yield node;
  for (const child of node.children ?? []) yield* axNodes(child);
}

Deno.test({
  name:
    "web client: a screen reader hears a person's unread count and away note with their button ('termy, 1 unread, away: lunch'), and the log by name",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    await termy.write("/away lunch\n");
    await termy.waitFor(/You are marked as away: lunch/);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    await termy.write("/msg webby psst\n");
    await page.waitForFunction(
      () => document.querySelector("#people .badge")?.textContent === "1",
      { timeout: WAIT_MS },
    );
    const tree = [...axNodes(await page.accessibility.snapshot())];
    const names = tree.filter((n) => n.role === "button").map((n) => n.name);
    assert.ok(
      names.includes("termy, 1 unread, away: lunch"),
      `no button says termy's count and away note: ${JSON.stringify(names)}`,
    );
    assert.ok(names.includes("webby (you)"), JSON.stringify(names));
    assert.equal(tree.find((n) => n.role === "log")?.name, "Messages");
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: on a phone (390x844) the one-line header reads 'chat', 'Server key' and 'Forget me in this browser' whole, not 'chat 1…' and 'Server ke…'",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await join(page, "webby");
    const header = await page.evaluate(() => {
      const summary = document.querySelector("#key > summary")!;
      // The summary's own words, before the fingerprint (cut by design).
      const h1 = document.querySelector("header h1")!;
      const forget = document.getElementById("forget")!;
      return {
        words: summary.firstChild!.textContent!.trim(),
        // Where the fingerprint starts: an ellipsis needs room after it.
        codeLeft: document.getElementById("fingerprint")!
          .getBoundingClientRect().left,
        summaryRight: summary.getBoundingClientRect().right,
        h1Cut: h1.scrollWidth > h1.clientWidth,
        h1Text: (h1 as HTMLElement).innerText,
        forgetRight: forget.getBoundingClientRect().right,
        top: document.querySelector("header")!.getBoundingClientRect().height,
      };
    });
    assert.equal(header.words, "Server key");
    // Room for 'Server key' and the start of its fingerprint ("SH…"): the
    // ellipsis then cuts the fingerprint, not the words.
    assert.ok(
      header.codeLeft + 24 <= header.summaryRight,
      `'Server key' is cut: ${JSON.stringify(header)}`,
    );
    assert.equal(header.h1Cut, false, JSON.stringify(header));
    assert.equal(header.h1Text, "chat");
    assert.ok(header.forgetRight <= 390, JSON.stringify(header));
    // Still one line.
    assert.ok(header.top < 50, JSON.stringify(header));
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a name refused at sign-in (taken, or not a valid name) is selected, so the name typed next replaces it",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    await chat.terminal("jojo");
    const problems: string[] = [];
    const page = await openPage(chat.browser, chat.url, problems);
    await page.waitForFunction(
      () => document.activeElement?.id === "name",
      { timeout: WAIT_MS },
    );
    const refused = async (name: string, error: RegExp) => {
      await typeLine(page, name);
      await page.waitForFunction(
        (source: string) =>
          new RegExp(source).test(
            document.getElementById("join-error")?.textContent ?? "",
          ),
        { timeout: WAIT_MS },
        error.source,
      );
    };
    await refused("jojo", /^ERROR: The name 'jojo' belongs to another/);
    // Typed over, as a person does, without clearing the field first.
    await refused("bad name!", /^ERROR: Invalid username 'bad name!'/);
    await typeLine(page, "webby");
    await waitForLine(page, /^\[\d\d:\d\d\] SUCCESS: Username registered\.$/);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#people button")].some((button) =>
          button.textContent === "webby (you)"
        ),
      { timeout: WAIT_MS },
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: while the server is down, the status line counts a line typed as soon as it shows as queued",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.stop();
    await page.waitForFunction(
      () => document.getElementById("status")?.textContent?.startsWith("Re"),
      { timeout: WAIT_MS },
    );
    // What the status line said when each "(queued)" row came, read before
    // anything else the page does (its second's tick) can change it.
    await page.evaluate(() => {
      const said: string[] = [];
      (window as { said?: string[] }).said = said;
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const node of change.addedNodes) {
            if (!(node.textContent ?? "").startsWith("(queued) ")) continue;
            said.push(document.getElementById("status")?.textContent ?? "");
          }
        }
      }).observe(document.getElementById("log")!, { childList: true });
    });
    for (const line of ["one", "two", "three"]) {
      await typeLine(page, line);
      await waitForLine(page, new RegExp(`^\\(queued\\) ${line}$`));
    }
    const said = await page.evaluate(() =>
      (window as { said?: string[] }).said ?? []
    );
    assert.equal(said.length, 3);
    said.forEach((status, i) => {
      const count = i === 0 ? "1 line queued" : `${i + 1} lines queued`;
      assert.ok(
        status.includes(count),
        `with ${i + 1} shown as queued, the status line said: ${status}`,
      );
    });
    await chat.start();
    await waitForLine(page, /^Reconnected as webby\.$/);
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: a long away note beside a person leaves their name whole on one row, not a letter a row",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    await termy.write(
      `/away ${"gone fishing at the lake with no phone signal ".repeat(4)}\n`,
    );
    await termy.waitFor(/You are marked as away/);
    for (const [width, height] of [[1280, 800], [390, 844]]) {
      const problems: string[] = [];
      const page = await openPage(chat.browser, chat.url, problems);
      await page.setViewport({ width: width!, height: height! });
      await join(page, `webby${width}`);
      await page.waitForFunction(
        () =>
          document.querySelector("#people li.away .away")?.textContent
            ?.startsWith("away: gone fishing"),
        { timeout: WAIT_MS },
      );
      // The rows the name's text takes on the screen.
      const rows = await page.$eval("#people li.away > button", (button) => {
        const range = document.createRange();
        range.selectNodeContents(button.firstChild!);
        const tops = new Set(
          [...range.getClientRects()].filter((box) => box.width > 0).map((
            box,
          ) => Math.round(box.top)),
        );
        return { text: button.firstChild!.textContent, rows: tops.size };
      });
      assert.deepEqual(rows, { text: "termy", rows: 1 }, `at ${width}px`);
      assert.deepEqual(problems, []);
      await page.close();
    }
  },
});

Deno.test({
  name:
    "web client: the tab's title counts what is to its user (private messages, mentions) and not seen, not the room's chatter, until it is seen",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await chat.keysOf("webby");
    // Another tab in front: webby's is in the background.
    const other = await chat.browser.newPage();
    await other.bringToFront();
    // Polled: a tab in the background has no animation frames.
    await page.waitForFunction(() => document.hidden, {
      timeout: WAIT_MS,
      polling: 100,
    });
    const shown = (end: string) =>
      page.waitForFunction(
        (end: string) =>
          [...document.querySelectorAll("#log .line")].some((row) =>
            row.textContent?.endsWith(end)
          ),
        { timeout: WAIT_MS, polling: 100 },
        end,
      );
    // The room, shown: chatter does not count, a mention does.
    await termy.write("anyone there?\n");
    await termy.write("hello?\n");
    await termy.write("@webby are you there?\n");
    await shown("]: @webby are you there?");
    // A private message, in a conversation not shown.
    await termy.write("/msg webby psst\n");
    await page.waitForFunction(() => document.title === "(2) chat", {
      timeout: WAIT_MS,
      polling: 100,
    });
    // Seen in front: the room's mention; termy's message waits for its view.
    await page.bringToFront();
    await page.waitForFunction(() => document.title === "(1) chat", {
      timeout: WAIT_MS,
    });
    await page.click('#side button[data-key="view @termy"]');
    await page.waitForFunction(() => document.title === "chat", {
      timeout: WAIT_MS,
    });
    // In front, in the view it comes in: seen at once.
    await termy.write("/msg webby again\n");
    await shown(": again");
    assert.equal(await page.title(), "chat");
    await other.close();
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: on a phone (360 by 640) and at 200 % zoom (640 by 360) a group's view leaves most of the height to its log",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.terminal("termy");
    const problems: string[] = [];
    const sizes = [
      { width: 360, height: 640, isMobile: true },
      { width: 640, height: 360, isMobile: false },
    ];
    for (const [i, size] of sizes.entries()) {
      const page = await (await chat.browser.createBrowserContext()).newPage();
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      await page.setViewport(size);
      await page.goto(chat.url);
      await join(page, `webby${i}`);
      await typeLine(page, i === 0 ? "/create haha" : "/join haha");
      await waitForLine(page, /Group 'haha' created|Joined group 'haha'/);
      await page.click('#side button[data-key="view #haha"]');
      await page.waitForFunction(
        () => document.getElementById("privacy")?.textContent?.includes("haha"),
        { timeout: WAIT_MS },
      );
      const at = `at ${size.width} by ${size.height}`;
      const share = await page.evaluate(() =>
        document.getElementById("log")!.getBoundingClientRect().height /
        innerHeight
      );
      assert.ok(share >= 0.55, `the log had ${share.toFixed(2)} of it ${at}`);
      // The group's privacy sentence on one line, whole once tapped.
      const height = () =>
        page.$eval("#privacy", (p) => p.getBoundingClientRect().height);
      const line = await height();
      assert.ok(line < 25, `privacy ${line}px high ${at}`);
      await page.click("#privacy");
      assert.ok(await height() > line * 1.5, `privacy not whole ${at}`);
      // A message elsewhere (its count redraws the lists) leaves it whole.
      await termy.write(`/msg webby${i} psst\n`);
      await page.waitForSelector(
        '#side button[data-key="view @termy"] .badge',
        {
          timeout: WAIT_MS,
        },
      );
      assert.ok(await height() > line * 1.5, `privacy cut again ${at}`);
      await page.close();
    }
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: on a phone (360 by 640) and at 200 % zoom (640 by 360) a long line being typed leaves most of the height to the log",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const sizes = [
      { width: 360, height: 640, isMobile: true },
      { width: 640, height: 360, isMobile: false },
    ];
    for (const [i, size] of sizes.entries()) {
      const page = await (await chat.browser.createBrowserContext()).newPage();
      page.on("pageerror", (error) => problems.push(`page error: ${error}`));
      await page.setViewport(size);
      await page.goto(chat.url);
      await join(page, `webby${i}`);
      // Four sentences: the field beside its buttons wraps them into more
      // rows than a phone's width used to.
      await page.focus("#line");
      await page.keyboard.type(
        "a fairly long message typed on a phone that goes on and on ".repeat(
          4,
        ),
      );
      const at = `at ${size.width} by ${size.height}`;
      const { share, scrolls } = await page.evaluate(() => {
        const field = document.getElementById("line")!;
        return {
          share: document.getElementById("log")!.getBoundingClientRect()
            .height / innerHeight,
          scrolls: field.scrollHeight > field.clientHeight,
        };
      });
      assert.ok(share >= 0.45, `the log had ${share.toFixed(2)} of it ${at}`);
      // The rest of the text is a scroll away in the field.
      assert.ok(scrolls, `the field does not scroll ${at}`);
      await page.close();
    }
    assert.deepEqual(problems, []);
  },
});
