/**
 * The web page's /history after `chat admin release`: the name's next key,
 * signed in on the page, is shown the old key's public lines as anyone
 * else's, and its own as its own (docs/PROTOCOL.md 5.3, `own_after`).
 */
import assert from "node:assert/strict";
import { ChatProcess } from "../_helpers/process.ts";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: /history shows a released name's old lines to its next key as another person's, and its own as its own",
  ...LEAK_CHECKS_OFF,
  async fn() {
    const data = await Deno.makeTempDir({ prefix: "chat-browser-released-" });
    try {
      await using chat = await startBrowserChat("--data", data);
      const old = await chat.signedInClient("alice");
      assert.equal((await old.say("said by the old key")).t, "ok");
      await old.quit();
      const released = new ChatProcess([
        "admin",
        "release",
        "alice",
        "--data",
        data,
      ]);
      assert.equal((await released.finish()).code, 0, released.stderr);

      const problems: string[] = [];
      const page = await signedInPage(chat, "alice", problems);
      await typeLine(page, "said by the next key");
      await waitForLine(page, /Broadcast message sent: said by the next key$/);
      await typeLine(page, "/history");
      await waitForLine(page, /End of history for the public room/);
      const log = await page.$eval("#log", (e) => (e as HTMLElement).innerText);
      assert.match(log, /\[Broadcast from alice\]: said by the old key/);
      assert.doesNotMatch(log, /Broadcast message sent: said by the old key/);
      assert.equal(
        log.match(/Broadcast message sent: said by the next key/g)?.length,
        2,
        log,
      );
      assert.deepEqual(problems, []);
    } finally {
      await Deno.remove(data, { recursive: true });
    }
  },
});
