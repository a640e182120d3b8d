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
import { plainLookalikeWarning } from "../../src/client/plain_messages.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  logRows,
  openPage,
  startBrowserChat,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { testIdentity, type TestServer } from "../_helpers/chat.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";

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

Deno.test({
  name:
    "web: a plain private message from a name that reads like one the page knows by a key (Iucy, lucy) is preceded by a warning that the host may be posing as lucy",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const port = new URL(chat.url).port;
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${chat.dir}/public.pem`),
    );
    const server = { url: `ws://127.0.0.1:${port}`, spki } as TestServer;
    const page = await openPage(chat.browser, chat.url, []);
    await join(page, "webby");
    await chat.keysOf("webby");
    // lucy writes end to end: the page learns her key.
    const oneKey = await testIdentity();
    const lucy = await e2ePeer(server, "lucy", oneKey);
    const sent = await lucy.e2e.sendText(
      lucy.client,
      "webby",
      "hi webby",
      cid(),
    );
    assert.equal(sent.t, "ok", JSON.stringify(sent));
    await waitForLine(page, /lucy: hi webby/);
    // Iucy writes in the clear, which carries no key: an honest server gives
    // the name to lucy's key alone (here it did), a hostile one to anyone.
    const eve = await ChatClient.connect(server.url, { pinnedSpki: spki });
    assert.equal((await eve.register("Iucy", oneKey)).t, "welcome");
    const reply = await eve.request(
      { t: "msg", to: "webby" },
      new TextEncoder().encode("new laptop: the exam?"),
    );
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    await waitForLine(page, /Iucy: new laptop: the exam\?/);
    const rows = await logRows(page);
    await eve.quit();
    await lucy.client.quit();
    const warned = rows.findIndex((row) =>
      row.includes(plainLookalikeWarning("Iucy", "lucy"))
    );
    const shown = rows.findIndex((row) => row.includes("new laptop"));
    assert.ok(warned !== -1 && warned < shown, rows.join("\n"));
    assert.equal(rows.filter((row) => row.includes("looks like")).length, 1);
  },
});
