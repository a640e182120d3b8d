/// <reference lib="dom" />
/**
 * One tab signed out (/quit) and signed in again (Connect again) takes its
 * own end-to-end keys back at once: the Web Lock over them that it let go
 * at the sign-out is not "another tab". Before, Connect again said for a
 * moment that another tab of this browser had the keys (the tab's own lock,
 * still being let go), and private messages were refused until it came.
 * In real Chromium against a real `chat serve`. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  holdWrites,
  LEAK_CHECKS_OFF,
  letGo,
  NO_MESSAGE_RATE,
  signedInPage,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

/** Resolves once the server lists `name` as online (asked until it does). */
async function untilOnline(client: ChatClient, name: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const list = await client.request({ t: "list" });
    if (list.t === "users" && list.users.some((u) => u.name === name)) return;
    if (Date.now() > deadline) {
      throw new Error(`${name} did not come back: ${JSON.stringify(list)}`);
    }
  }
}

/**
 * /quit again once the page asked about the line on its way (held by its
 * keys' write): asked first, as for any line without its answer, it leaves
 * the second time.
 */
async function quitAgain(page: Parameters<typeof typeLine>[0]): Promise<void> {
  await waitForLine(page, /^1 line you sent has no answer from the server yet/);
  await typeLine(page, "/quit");
}

Deno.test({
  name:
    "web client: /quit then Connect again in one tab takes its end-to-end keys back without saying another tab has them",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    const key = await chat.keysOf("webby");
    const probe = await chat.signedInClient("probe");

    // Round 1 as a person does it; round 2 with a write of the keys'
    // records still landing at the sign-out, as when a message was being
    // sent or opened: the tab lets the lock go once it has landed, and
    // Connect again came before that.
    for (const round of [1, 2]) {
      await typeLine(page, `/msg termy before quit ${round}`);
      await termy.waitFor(
        new RegExp(`Private message from webby: before quit ${round}`),
      );
      if (round === 2) {
        await holdWrites(page);
        await typeLine(page, "/msg termy while held");
      }
      await typeLine(page, "/quit");
      // The held line is on its way (its keys' write holds its send): the
      // first /quit asks about it, the second leaves.
      if (round === 2) await quitAgain(page);
      await page.waitForSelector("#again:not([hidden])", { timeout: WAIT_MS });
      if (round === 2) {
        assert.ok(
          await page.evaluate(async () =>
            (await navigator.locks.query()).held?.some((lock) =>
              lock.name?.startsWith("chat-e2e ") === true
            ) === true
          ),
          "the keys' lock was let go at once: no write was landing",
        );
      }
      await page.click("#connect-again");
      if (round === 2) {
        // Signed in again (the page takes its keys just after): only now
        // does the write land and the lock go.
        await untilOnline(probe, "webby");
        await letGo(page);
      }
      await page.waitForFunction(
        (round: number) =>
          [...document.querySelectorAll("#log .line")].filter((row) =>
            row.textContent === "Connected again as webby."
          ).length === round,
        { timeout: WAIT_MS },
        round,
      );
      // At once, with no line between: private messages go end to end.
      await page.focus("#line");
      await typeLine(page, `/msg termy round ${round}`);
      await termy.waitFor(
        new RegExp(`Private message from webby: round ${round}`),
      );
    }
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((r) => r.textContent ?? ""),
    );
    assert.deepEqual(
      rows.filter((row) =>
        /Another tab of this browser|end-to-end keys are in this tab now|from the tab of this browser that has/
          .test(row)
      ),
      [],
    );
    assert.equal(await chat.keysOf("webby"), key);
    await probe.quit();
    assert.doesNotMatch(termy.stdout, /ERROR/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: Connect again does not wait for ever for the tab's own last write of its keys: it signs in, says so, and the keys come once the write lands",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const termy = await chat.terminal("termy");
    await typeLine(page, "/msg termy before quit");
    await termy.waitFor(/Private message from webby: before quit/);
    // A write of the keys' records that does not land until let go, well
    // past the sign-in: the tab keeps its hold on the keys until it lands.
    await holdWrites(page);
    await typeLine(page, "/msg termy while held");
    await typeLine(page, "/quit");
    await quitAgain(page);
    await page.waitForSelector("#again:not([hidden])", { timeout: WAIT_MS });
    await page.click("#connect-again");
    const rowWith = (text: string, timeout: number) =>
      page.waitForFunction(
        (text: string) =>
          [...document.querySelectorAll("#log .line")].some((row) =>
            row.textContent?.includes(text) === true
          ),
        { timeout },
        text,
      );
    // Signed in again while the write is still held.
    await rowWith("Connected again as webby.", 2 * WAIT_MS);
    await rowWith("has not finished saving your end-to-end keys", WAIT_MS);
    await letGo(page);
    await rowWith("end-to-end keys are in this tab now", WAIT_MS);
    await page.focus("#line");
    await typeLine(page, "/msg termy after the write");
    await termy.waitFor(/Private message from webby: after the write/);
    assert.doesNotMatch(termy.stdout, /ERROR/);
    assert.deepEqual(problems, []);
  },
});
