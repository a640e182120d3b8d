/// <reference lib="dom" />
/**
 * A page without its own end-to-end keys sends nothing private in the
 * clear: not from a second tab (the first has the keys), not after the
 * browser's copy of them no longer opens. A reader who knows the sender's
 * key would refuse such a message (plain_messages.ts), and one who does not
 * would be shown what the host could read; the page refuses instead, saying
 * what to do (own_keys.ts).
 */

import assert from "node:assert/strict";
import {
  join,
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { TestClient } from "../_helpers/chat.ts";

/** Writes over this browser's kept keyrings; how many there were. */
function damageKeyrings(): Promise<number> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("chat-e2e");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      const store = tx.objectStore("records");
      const keys = store.getAllKeys();
      let damaged = 0;
      keys.onsuccess = () => {
        for (const key of keys.result) {
          if (!String(key).startsWith("keyring ")) continue;
          store.put("damaged", key);
          damaged++;
        }
      };
      tx.oncomplete = () => {
        open.result.close();
        resolve(damaged);
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

Deno.test({
  name:
    "web: a page without its end-to-end keys (another tab has them, or they no longer open) refuses private and group messages rather than send them in the clear",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const jojo = new TestClient(await chat.signedInClient("jojo"));
    try {
      assert.equal(
        (await jojo.client.request({ t: "create", group: "crew" })).t,
        "ok",
      );
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");

      // A second tab: the first has this browser's keys.
      const second = await signedInPage(chat, "webby2", problems);
      await waitForLine(second, /^WARNING: Another tab of this browser/);
      await typeLine(second, "/join crew");
      await typeLine(second, "/group crew from the second tab");
      await waitForLine(
        second,
        /^ERROR: Not sent: group messages go from the tab of this browser that has your end-to-end keys/,
      );
      await second.close();

      // The keys kept in this browser no longer open.
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      assert.equal(await page.evaluate(damageKeyrings), 1);
      await page.reload();
      await join(page, "webby");
      await waitForLine(
        page,
        /^WARNING: Cannot read end-to-end keys in this browser's storage .*Without your end-to-end keys this page sends no private or group message/,
      );
      await typeLine(page, "/msg jojo not in the clear");
      await waitForLine(
        page,
        /^ERROR: Not sent: this browser could not open your end-to-end keys \(see the warning after you joined\), and private messages never go/,
      );
      await typeLine(page, "/join crew");
      await typeLine(page, "/group crew nor this");
      await waitForLine(
        page,
        /^ERROR: Not sent: this browser could not open your end-to-end keys .* and group messages never go/,
      );

      // The room still works, and before its line jojo got nothing else.
      await typeLine(page, "said aloud");
      await jojo.waitFor(({ message, text }) =>
        message.t === "public" && text === "said aloud"
      );
      assert.deepEqual(
        jojo.chat().filter(([, from]) => from !== "jojo"),
        [["public", "webby", "said aloud"]],
      );
      assert.deepEqual(problems, []);
    } finally {
      await jojo.quit();
    }
  },
});
