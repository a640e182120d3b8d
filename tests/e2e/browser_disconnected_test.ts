/// <reference lib="dom" />
/**
 * What the web page says once it is not connected, in real Chromium against
 * a real `chat serve`: dismissed by the server (the same name signed in from
 * another tab) or after /quit it does not reconnect, so a line typed then is
 * refused, saying what to do, rather than shown as queued and never sent;
 * the status line says the reason once ("Disconnected: Disconnected." it
 * said); and a server that is down reads as the terminal says it, not as
 * "Cannot connect to HOST: Cannot connect to ws://HOST/". Slow (a browser
 * starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  join,
  LEAK_CHECKS_OFF,
  logRows,
  openPage,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import {
  ChatProcess,
  listeningPort,
  serveProcess,
} from "../_helpers/process.ts";

/** Waits until the status line under the input reads `text`. */
async function waitForStatus(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (text: string) => document.getElementById("status")?.textContent === text,
      { timeout: WAIT_MS },
      text,
    );
  } catch (error) {
    const now = await page.$eval("#status", (e) => e.textContent);
    throw new Error(`The status says '${now}', not '${text}'`, {
      cause: error,
    });
  }
}

Deno.test({
  name:
    "web client: a page dismissed by another tab of its name, or after /quit, refuses a line rather than queueing it for ever",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const first = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");

    // The same name in a second tab: the server ends the first one's
    // session, and the first does not take the name back (it would, for
    // ever, from each other).
    const second = await openPage(chat.browser, chat.url, problems);
    await join(second, "webby");
    const replaced =
      "Disconnected by the server: you signed in from another place.";
    await waitForLine(first, /^Disconnected by the server: you signed in/);

    await first.bringToFront();
    await first.focus("#line");
    await typeLine(first, "is anyone there");
    await waitForLine(
      first,
      /^ERROR: Not connected\. Click Connect again \(under the input\) to join again$/,
    );
    assert.ok(
      !(await logRows(first)).some((row) => row.startsWith("(queued)")),
      "the line was shown as queued: it would never be sent",
    );
    await waitForStatus(first, replaced);
    // Whoever sends next from the second tab is heard; the first sent
    // nothing meanwhile.
    await second.bringToFront();
    await second.focus("#line");
    await typeLine(second, "from the second tab");
    await termy.waitFor(/\[Broadcast from webby\]: from the second tab/);
    assert.doesNotMatch(termy.stdout, /is anyone there/);
    // Its answer came: /quit does not ask about it (a line on its way).
    await waitForLine(second, /from the second tab$/);

    await typeLine(second, "/quit");
    await waitForLine(second, /^Disconnected\.$/);
    await waitForStatus(second, "Disconnected.");
    await typeLine(second, "after quitting");
    await waitForLine(
      second,
      /^ERROR: Not connected\. Click Connect again \(under the input\) to join again$/,
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a server that is down is said once: Cannot connect to HOST. Is 'chat serve' running there?",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const host = new URL(chat.url).host;
    await chat.stop();
    const said =
      `Last try: Cannot connect to ${host}. Is 'chat serve' running there?`;
    await page.waitForFunction(
      (said: string) =>
        document.getElementById("status")?.textContent?.endsWith(said),
      { timeout: WAIT_MS },
      said,
    ).catch(async (error) => {
      const now = await page.$eval("#status", (e) => e.textContent);
      throw new Error(`The status says '${now}'`, { cause: error });
    });

    await chat.start();
    await waitForLine(page, /^Reconnected as webby\.$/);
    assert.deepEqual(
      problems.filter((p) => !/WebSocket connection to .* failed/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: a page refused when it reconnects (its name went to another key) says the lines queued meanwhile were not sent, and refuses the next ones",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.stop();
    // Typed while the server is away: queued, to be sent once back.
    await page.focus("#line");
    await typeLine(page, "sent once back");
    await waitForLine(page, /^\(queued\) sent once back$/);

    // Meanwhile the host released the name, and another key took it (on the
    // same data, served for a moment on another port).
    const release = new ChatProcess([
      "admin",
      "release",
      "webby",
      "--data",
      `${chat.dir}/chat-data`,
    ]);
    assert.equal((await release.finish()).code, 0, release.stderr);
    const aside = serveProcess(chat.dir, 0);
    try {
      const port = await listeningPort(aside);
      const other = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${chat.dir}/public.pem`,
        "--user",
        "webby",
      ], {
        env: {
          XDG_CONFIG_HOME: await Deno.makeTempDir({
            dir: chat.dir,
            prefix: "config-",
          }),
        },
      });
      await other.waitFor(/SUCCESS: Username registered\./);
      other.write("/quit\n");
      await other.finish();
    } finally {
      aside.kill();
      await aside.finish();
    }

    // Back: the page's key is refused, and nothing will reconnect it.
    await chat.start();
    // Any key tries again at once.
    await page.keyboard.press("Shift");
    await page.waitForFunction(
      () =>
        document.getElementById("status")?.textContent?.startsWith(
          "Could not reconnect: ",
        ),
      { timeout: 4 * WAIT_MS },
    );
    await waitForLine(page, /^ERROR: Not sent: sent once back$/);
    await typeLine(page, "typed after");
    await waitForLine(
      page,
      /^ERROR: Not connected\. Click Connect again \(under the input\) to join again$/,
    );
    assert.ok(
      !(await logRows(page)).some((row) => row === "(queued) typed after"),
      "the line was shown as queued: it would never be sent",
    );
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
      [],
    );
  },
});

Deno.test({
  name:
    "web client: after /quit, or dismissed by another tab, Connect again signs in anew without a reload, and sends nothing typed while out",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    // Gone by a reload.
    await page.evaluate(() => {
      (globalThis as { notReloaded?: boolean }).notReloaded = true;
    });
    assert.equal(await page.$("#again:not([hidden])"), null);

    await page.focus("#line");
    await typeLine(page, "/quit");
    await waitForStatus(page, "Disconnected.");
    await page.waitForSelector("#again:not([hidden]) #connect-again", {
      timeout: WAIT_MS,
    });
    await page.focus("#line");
    await typeLine(page, "typed while out");
    await waitForLine(
      page,
      /^ERROR: Not connected\. Click Connect again \(under the input\) to join again$/,
    );

    await page.click("#connect-again");
    await waitForLine(page, /^Connected again as webby\.$/);
    await waitForStatus(page, `Connected to ${new URL(chat.url).host}`);
    assert.equal(await page.$("#again:not([hidden])"), null);
    assert.equal(
      await page.evaluate(() =>
        (globalThis as { notReloaded?: boolean }).notReloaded
      ),
      true,
    );
    // The people list is asked anew: termy is there.
    await page.waitForSelector(
      "xpath/.//ul[@id='people']//button[text()='termy']",
      { timeout: WAIT_MS },
    );
    await page.focus("#line");
    await typeLine(page, "back again");
    await termy.waitFor(/\[Broadcast from webby\]: back again/);
    assert.doesNotMatch(termy.stdout, /typed while out/);

    // Dismissed (the name signed in from another tab), and back.
    const second = await openPage(chat.browser, chat.url, problems);
    await join(second, "webby");
    await waitForLine(page, /^Disconnected by the server: you signed in/);
    await page.bringToFront();
    await page.click("#connect-again");
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#log .line")].filter((row) =>
          row.textContent === "Connected again as webby."
        ).length === 2,
      { timeout: WAIT_MS },
    );
    await waitForLine(second, /^Disconnected by the server: you signed in/);
    await page.focus("#line");
    await typeLine(page, "first tab again");
    await termy.waitFor(/\[Broadcast from webby\]: first tab again/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a file offer asked about when the connection ends loses its Accept and Decline, and says why and what to do",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await Deno.writeTextFile(`${chat.dir}/notes.txt`, "meeting notes\n");
    await termy.write(`/file webby ${chat.dir}/notes.txt\n`);
    await page.waitForSelector("#log .line.offer button", { timeout: WAIT_MS });

    await chat.stop();
    // Before, the buttons stayed: Accept then said "Accepted notes.txt"
    // and answered no one, and the deadline later declined on the closed
    // connection.
    await waitForLine(
      page,
      /^Not answered: notes\.txt \(14 B\) from termy: .+; termy can offer it again once you are back\.$/,
    );
    assert.equal((await page.$$("#log .line.offer button")).length, 0);
    assert.deepEqual(
      problems.filter((p) => !/WebSocket connection to .* failed/.test(p)),
      [],
    );
  },
});
