/// <reference lib="dom" />
/**
 * /cancel N on the web page stops the whole file N, as in the terminal
 * (README's /cancel text): a group file whose transfer broke for two
 * members is offered again to each of them in turn, and /cancel of it while
 * the first one's offer waits for an answer offers it to the other one
 * neither. Before, taking back the first offer stopped it for that one
 * alone and the page went on to the next. Real Chromium against a real
 * `chat serve`; the members real ChatClients over real sockets, which sign
 * in again with their keys. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  type BrowserChat,
  LEAK_CHECKS_OFF,
  NO_MESSAGE_RATE,
  offersTo,
  signedInPage,
  startBrowserChat,
  transferNumber,
  typeLine,
  upload,
  waitForLine,
} from "../_helpers/browser.ts";
import { testIdentity } from "../_helpers/chat.ts";

/** `name` signed in with `identity` (so again later under the same name). */
async function signIn(
  chat: BrowserChat,
  name: string,
  identity: Identity,
): Promise<ChatClient> {
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(`${chat.dir}/public.pem`),
  );
  const client = await ChatClient.connect(
    `ws://127.0.0.1:${new URL(chat.url).port}`,
    { pinnedSpki: spki },
  );
  const welcome = await client.register(name, identity);
  assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
  return client;
}

/** Resolves once `client` is sent a chunk of a file. */
function firstChunk(client: ChatClient): Promise<void> {
  return new Promise((resolve) =>
    client.onMessage(({ message }) => {
      if (message.t === "file_chunk") resolve();
    })
  );
}

Deno.test({
  name:
    "web client: /cancel N of a file being offered again to several people stops it for all of them",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat(...NO_MESSAGE_RATE);
    const jojoKey = await testIdentity();
    const kikiKey = await testIdentity();
    const clients: ChatClient[] = [];
    try {
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");
      await typeLine(page, "/create crew");
      await waitForLine(page, /Group 'crew' created/);
      const jojo = await signIn(chat, "jojo", jojoKey);
      const kiki = await signIn(chat, "kiki", kikiKey);
      clients.push(jojo, kiki);
      for (const member of [jojo, kiki]) {
        const joined = await member.request({ t: "join", group: "crew" });
        assert.notEqual(joined.t, "error", JSON.stringify(joined));
      }
      await typeLine(page, "/query #crew");
      await waitForLine(page, /^Plain lines now go to group crew/);
      const toJojo = offersTo(jojo);
      const toKiki = offersTo(kiki);
      const chunks = [firstChunk(jojo), firstChunk(kiki)];
      // Larger than the chunks sent ahead of the answers, which neither
      // sends: the transfer runs until both are cut off.
      const path = `${chat.dir}/big.bin`;
      await Deno.writeFile(path, new Uint8Array(4 * 1024 * 1024).fill(7));
      await upload(page, path);
      await toJojo.offered(1);
      await toKiki.offered(1);
      jojo.post({ t: "file_accept", xfer: toJojo.offers[0]!.xfer });
      kiki.post({ t: "file_accept", xfer: toKiki.offers[0]!.xfer });
      await Promise.all(chunks);
      // Both connections break mid-transfer: the file is to be offered
      // again to each of them (resumable), one after the other.
      jojo.abort();
      kiki.abort();
      await waitForLine(
        page,
        /^big\.bin will be offered again, resuming where it stopped$/,
      );
      const jojoBack = await signIn(chat, "jojo", jojoKey);
      clients.push(jojoBack);
      const againToJojo = offersTo(jojoBack);
      await againToJojo.offered(1);
      // kiki back while jojo's offer waits for an answer: next in turn.
      const kikiBack = await signIn(chat, "kiki", kikiKey);
      clients.push(kikiBack);
      const againToKiki = offersTo(kikiBack);
      const n = await transferNumber(
        page,
        /^ {2}\d+\. offered big\.bin to jojo/,
      );
      await typeLine(page, `/cancel ${n}`);
      await waitForLine(page, /^Took back the offer of big\.bin\.$/);
      // Nothing of the file is left to ask about: /quit leaves at once.
      // Before, the page went on to kiki, and /quit asked about
      // "big.bin to kiki" (and kiki was offered it).
      await typeLine(page, "/quit");
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll("#log .line")].some((row) =>
            /^Disconnected\.$|^A file is still being sent/.test(
              row.textContent ?? "",
            )
          ),
      );
      const log = await page.$eval("#log", (e) => e.textContent ?? "");
      assert.doesNotMatch(log, /still being sent/);
      // The offer to jojo is said as it reaches jojo, before it is taken
      // back, as the terminal's. Before, it was held until the offer ended
      // and came after "Took back the offer of big.bin.".
      const rows = await page.$$eval(
        "#log .line",
        (all) => all.map((row) => row.textContent ?? ""),
      );
      const offering = rows.findIndex((text) =>
        /^Offering big\.bin \(4\.0 MiB\) to jojo; waiting for an answer\.$/
          .test(text)
      );
      const tookBack = rows.indexOf("Took back the offer of big.bin.");
      assert.ok(
        offering !== -1 && offering < tookBack,
        JSON.stringify(rows.slice(-8)),
      );
      assert.deepEqual(againToKiki.offers, []);
      assert.deepEqual(
        problems.filter((text) => !/ERR_CONNECTION|WebSocket/.test(text)),
        [],
      );
      await page.close();
    } finally {
      for (const client of clients) await client.quit().catch(() => {});
    }
  },
});
