/**
 * The web page offers a file again after its connection broke (here, a
 * server restart), and says the lines of that offer's key (a recipient
 * without end-to-end keys: the host can read the file) only once the offer
 * reaches its recipients, as the terminal does (outgoing_files.ts): an offer
 * made again that never reached anyone (the restarted server refuses it as
 * too large) says its outcome and no more. Before, the page said the held
 * WARNING of that offer too, a second time, with nothing offered. Real
 * Chromium against a real `chat serve`, restarted with a smaller
 * `--max-file-size`, and a real client without keys that answers nothing.
 * Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  logRows,
  sendPhoto,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
  webbyToTermy,
} from "../_helpers/browser.ts";

const KEYLESS =
  /^WARNING: termy has not published end-to-end keys: photo1\.jpg is not end-to-end encrypted/;

Deno.test({
  name:
    "web client: a file offered again that reaches nobody (refused as too large after a restart) says its outcome, not the offer's held key warning",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const termy = await chat.signedInClient("termy");
    try {
      const { page, problems, offered } = await webbyToTermy(chat, termy);
      await sendPhoto(page, chat.dir, 1, 1000);
      // The first offer's key line, said at once; the offer waits for an
      // answer that never comes.
      await waitForLine(page, KEYLESS);
      await offered(1);
      await chat.stop();
      await page.waitForFunction(
        () => document.body.classList.contains("disconnected"),
        { timeout: WAIT_MS },
      );
      await waitForLine(page, /^photo1\.jpg will be offered again/);
      await chat.start("--max-file-size", "100");
      await waitForLine(page, /Reconnected as webby\.$/);
      // Offered again once back: its key goes (termy has no keys: the
      // WARNING is held), and the server refuses the offer outright.
      await waitForLine(page, /this server accepts at most 100\)/);
      const rows = await logRows(page);
      assert.equal(
        rows.filter((row) => KEYLESS.test(row)).length,
        1,
        rows.join("\n"),
      );
      assert.deepEqual(
        problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
        [],
      );
      await page.close();
    } finally {
      await termy.quit().catch(() => {});
    }
  },
});
