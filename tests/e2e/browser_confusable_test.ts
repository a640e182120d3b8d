/// <reference lib="dom" />
/**
 * Names that only a font tells apart: names are ASCII letters, digits and
 * `_-.`, unique ignoring case, so `Iucy` (capital i) and `lucy`, `j0jo` and
 * `jojo`, `rnia` and `mia` are different users. In a proportional sans-serif
 * face they look alike; the terminal, and the page's log, use a monospace
 * one, where they do not. The people list, the button that says where plain
 * lines go and the line under the log must use it too, or eve signed in as
 * Iucy passes for lucy where webby picks whom to write to.
 *
 * The server now refuses a name that reads like another key's (PROTOCOL 8,
 * "Look-alike names"), but such pairs still exist: one key may hold both,
 * and names bound before the rule keep their owners. So the test signs both
 * in with one key, the way they can still meet on a page.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";
import { testIdentity } from "../_helpers/chat.ts";

Deno.test({
  name:
    "web: a name that differs only by a look-alike letter (Iucy, lucy) is drawn in the log's monospace face wherever the page names whom you write to",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const port = new URL(chat.url).port;
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${chat.dir}/public.pem`),
    );
    const oneKey = await testIdentity();
    const signIn = async (name: string) => {
      const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
        pinnedSpki: spki,
      });
      assert.equal(
        (await client.register(name, oneKey)).t,
        "welcome",
      );
      return client;
    };
    const lucy = await signIn("lucy");
    const eve = await signIn("Iucy");
    const page = await openPage(chat.browser, chat.url, []);
    await join(page, "webby");
    await page.waitForFunction(
      () => document.getElementById("people")?.textContent?.includes("Iucy"),
      { timeout: WAIT_MS },
    );
    // webby means to write to lucy, and clicks eve's button.
    const [eveButton] = await page.$$(
      "xpath/.//ul[@id='people']//button[text()='Iucy']",
    );
    await eveButton!.click();
    const faces = await page.evaluate(() => {
      const face = (selector: string) =>
        getComputedStyle(document.querySelector(selector)!).fontFamily;
      return {
        log: face("#log"),
        people: face("#people li button"),
        target: face("#target"),
        privacy: face("#privacy"),
        line: face("#line"),
      };
    });
    await eve.quit();
    await lucy.quit();
    assert.match(faces.log, /monospace/);
    assert.deepEqual(faces, {
      log: faces.log,
      people: faces.log,
      target: faces.log,
      privacy: faces.log,
      line: faces.log,
    });
  },
});
