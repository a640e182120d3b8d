/**
 * The web page keeps what it was shown per store, as the terminal does
 * (store_ledgers.ts): a server restarted with `--data :memory:` numbers its
 * messages from 1 again, and a private message whose id one shown before
 * the restart had is new, not a duplicate.
 */
import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: a private message after the server restarted with a new store is shown, though its id is one shown before",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat("--data", ":memory:");
    const problems: string[] = [];
    const page = await signedInPage(chat, "phoenix", problems);
    // bob, one name per store (a name stays bound to the key that took it).
    const saysTo = async (texts: string[]) => {
      const bob = await chat.signedInClient("bob");
      try {
        for (const text of texts) {
          const reply = await bob.request(
            { t: "msg", to: "phoenix" },
            new TextEncoder().encode(text),
          );
          assert.equal(reply.t, "ok");
          await waitForLine(page, new RegExp(`${text}$`));
        }
      } finally {
        await bob.quit();
      }
    };
    await saysTo(["first before", "second before", "third before"]);

    await chat.stop();
    await page.waitForFunction(
      () => document.body.classList.contains("disconnected"),
      { timeout: WAIT_MS },
    );
    await chat.start();
    await waitForLine(page, /Reconnected as phoenix\.$/);
    // The new store's first messages have the ids of those above.
    await saysTo(["first after the restart", "second after the restart"]);
    assert.deepEqual(
      problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)),
      [],
    );
  },
});
