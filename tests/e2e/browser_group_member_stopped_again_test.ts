/// <reference lib="dom" />
/**
 * The page's side of group_member_stopped_again_test.ts: a group file the
 * page sends, whose member's part broke (bob's connection dropped), is
 * offered again to that member alone; the page's session ending before that
 * offer reaches them (the name signed in from another tab), the page's last
 * word on it says what happened to bob (the group's outcome: not received,
 * `bob disconnected`) and that it was not offered *again*, never that the
 * file was not offered at all. Before, the page said nothing more: the file
 * saw its connection end after the page had stopped reconnecting, and waited
 * for a next connection that never came. Real Chromium against a real `chat serve`;
 * bob a real `chat connect` behind a proxy that holds the file part way,
 * carol a real `chat connect`. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  join,
  LEAK_CHECKS_OFF,
  logRows,
  NO_MESSAGE_RATE,
  openGroup,
  openPage,
  randomFile,
  signedInPage,
  startBrowserChat,
  typeLine,
  upload,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";

const SIZE = 6 * 1024 * 1024;

Deno.test({
  name:
    "web client: a group member offered a file again alone, the page's session ended while they are away, is said not to have received it, and the file not offered again",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const port = new URL(chat.url).port;
    const proxy = new HoldingProxy(Number(port));
    try {
      // Each saves what comes without asking, in a folder of its own.
      const saving = async (name: string, at: number | string) => {
        const downloads = `${chat.dir}/downloads-${name}`;
        await Deno.mkdir(downloads);
        return await chat.terminalAt(at, null, name, ...[
          "--accept-files",
          "all",
          "--downloads",
          downloads,
          "--open-with",
          "true",
        ]);
      };
      const bob = await saving("bob", proxy.port);
      const carol = await saving("carol", port);
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      await typeLine(page, "/create team");
      await waitForLine(page, /Group 'team' created/);
      for (const member of [bob, carol]) {
        await member.write("/join team\n");
        await member.waitFor(/Joined group 'team'/);
      }
      await openGroup(page, "team");
      await randomFile(`${chat.dir}/big.bin`, SIZE);
      // bob holds 2 MiB of it; the group goes on at his pace until he is gone.
      proxy.holdAt(proxy.downBytes + 2 * 1024 * 1024);
      await upload(page, `${chat.dir}/big.bin`);
      await proxy.holding();
      bob.kill("SIGKILL");
      await bob.finish();
      proxy.release();
      await carol.waitFor(
        /\[Receive big\.bin from Group team webby\]/,
        WAIT_MS,
      );
      await waitForLine(
        page,
        /^big\.bin will be offered again, resuming where it stopped$/,
      );
      // The page's session ends while bob is away: the name signed in from
      // another tab, this one does not reconnect.
      const second = await openPage(chat.browser, chat.url, problems);
      await join(second, "webby");
      await waitForLine(page, /^Disconnected by the server: you signed in/);
      await waitForLine(page, /big\.bin was not offered/);
      const said = (await logRows(page)).join("\n");
      // bob's part of the group's outcome, said by the page.
      assert.match(said, /not received by bob[^\n]*bob disconnected/, said);
      // Never that it was not offered at all: the group's offer reached bob.
      assert.doesNotMatch(said, /big\.bin was not offered:/, said);
      assert.match(
        said,
        /ERROR: big\.bin was not offered again: the page stopped reconnecting/,
        said,
      );
      assert.deepEqual(problems, []);
    } finally {
      await proxy.close();
    }
  },
});
