/// <reference lib="dom" />
/**
 * A private line the server does not answer within 10 s is said pending on
 * the page, and its answer, when it comes, is marked late first
 * (answer_within.ts `lateNotice`), as in the terminal (56d04ae) and as the
 * README says. In real Chromium against a real `chat serve` (stopped with
 * SIGSTOP while the line goes, then let go on) and a real `chat connect`.
 * Slow (a browser starts, and the 10 s wait): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";
import { freeze } from "../_helpers/freeze.ts";

Deno.test({
  name:
    "web client: the answer to a line said pending is marked late when it comes",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, terminal: nana } = await webbyAnd(chat, "nana");
    await chat.keysOf("nana");
    await page.focus("#line");
    await typeLine(page, "/msg nana first");
    await waitForLine(page, /Private message to nana: first$/);
    await nana.waitFor(/first/);
    const pid = chat.server.child.pid;
    await freeze(pid);
    try {
      await typeLine(page, "/msg nana second");
      await waitForLine(page, /it is still pending/);
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    await waitForLine(page, /Private message to nana: second$/);
    await nana.waitFor(/second/);
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    const answer = rows.findIndex((row) =>
      row.endsWith("Private message to nana: second")
    );
    assert.match(
      rows[answer - 1] ?? "",
      /Late answer to your message to nana, said pending above \(what came after it may be shown before it\):$/,
      rows.join("\n"),
    );
  },
});

Deno.test({
  name:
    "web client: a public line the server does not answer within 10 s is said pending and the next goes behind it; its answer is marked late",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, terminal: nana } = await webbyAnd(chat, "nana");
    await page.focus("#line");
    await typeLine(page, "before");
    await waitForLine(page, /Broadcast message sent: before$/);
    const pid = chat.server.child.pid;
    await freeze(pid);
    try {
      await typeLine(page, "stuck");
      // Held with every line after it until the connection dropped, before.
      await waitForLine(
        page,
        /^The server has not answered your message to everyone within 10 seconds: it is still pending/,
      );
      await typeLine(page, "behind it");
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    await waitForLine(page, /Broadcast message sent: stuck$/);
    await waitForLine(page, /Broadcast message sent: behind it$/);
    // Sent in the order typed.
    await nana.waitFor(/stuck[\s\S]*behind it/);
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    const answer = rows.findIndex((row) =>
      row.endsWith("Broadcast message sent: stuck")
    );
    assert.match(
      rows[answer - 1] ?? "",
      /^Late answer to your message to everyone, said pending above/,
      rows.join("\n"),
    );
  },
});
