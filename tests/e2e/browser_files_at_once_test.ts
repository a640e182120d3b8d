/// <reference lib="dom" />
/**
 * Files sent from the web page to more people at once than the server lets
 * a sender have under way (8, `maxTransfersPerUser`): the 9th waits for one
 * of the 8 to end, said in the terminal's line (sending_places.ts
 * `atOnceNotice`), is listed by /transfers, can be stopped by /cancel, and
 * is offered once one of the 8 ends. Before, the page offered it at once
 * and the server refused it ("You already have 8 transfers running").
 * Real Chromium against a real `chat serve`, nine real clients that are
 * asked and do not answer. Slow (a browser starts): in `deno task
 * test:slow`.
 */

import assert from "node:assert/strict";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  LEAK_CHECKS_OFF,
  logRows,
  NO_MESSAGE_RATE,
  offersTo,
  signedInPage,
  startBrowserChat,
  transferNumber,
  typeLine,
  upload,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a file to a 9th person while 8 are under way waits for one of them to end, said once, listed, cancellable, and is offered then",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const people: ChatClient[] = [];
    try {
      const asked: ReturnType<typeof offersTo>[] = [];
      for (let i = 1; i <= 9; i++) {
        const person = await chat.signedInClient(`p${i}`);
        people.push(person);
        asked.push(offersTo(person));
      }
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      const path = `${chat.dir}/notes.txt`;
      await Deno.writeTextFile(path, "x".repeat(1000));
      for (let i = 1; i <= 8; i++) {
        await typeLine(page, `/query p${i}`);
        await upload(page, path);
        await asked[i - 1]!.offered(1);
      }
      await typeLine(page, "/query p9");
      await upload(page, path);
      await waitForLine(
        page,
        /^notes\.txt waits: 8 files are under way already, the most at once; it is offered once one of them ends \(\/transfers lists it, \/cancel stops it\)$/,
      );
      await transferNumber(
        page,
        /^ {2}\d+\. sending notes\.txt to p9: waiting to offer it, after one of the 8 files under way ends$/,
      );
      // A 10th, to p9 too, stopped while it waits: it takes no place.
      const other = `${chat.dir}/other.txt`;
      await Deno.writeTextFile(other, "y".repeat(500));
      await upload(page, other);
      const tenth = await transferNumber(
        page,
        /^ {2}\d+\. sending other\.txt to p9: waiting to offer it, after one of the 8/,
      );
      await typeLine(page, `/cancel ${tenth}`);
      await waitForLine(page, /^Cancelled sending other\.txt\.$/);
      assert.equal(asked[8]!.offers.length, 0);
      // p1 declines: one of the 8 ends, and the 9th is offered, once.
      const first = asked[0]!.offers[0] as FileOfferNotice;
      people[0]!.post({ t: "file_decline", xfer: first.xfer });
      await asked[8]!.offered(1);
      const rows = await logRows(page);
      assert.deepEqual(
        rows.filter((text) => /transfers running|waits: 8 files/.test(text)),
        [
          "notes.txt waits: 8 files are under way already, the most at once; it is offered once one of them ends (/transfers lists it, /cancel stops it)",
          "other.txt waits: 8 files are under way already, the most at once; it is offered once one of them ends (/transfers lists it, /cancel stops it)",
        ],
        rows.join("\n"),
      );
      assert.equal(asked[8]!.offers.length, 1);
      assert.equal(asked[8]!.offers[0]!.size, 1000);
      assert.deepEqual(
        problems.filter((text) => !/ERR_CONNECTION|WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      for (const person of people) await person.quit().catch(() => {});
    }
  },
});
