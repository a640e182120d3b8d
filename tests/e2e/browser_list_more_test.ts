/// <reference lib="dom" />
/**
 * The people list of the web page says when the server's `users` reply left
 * users out (`more`, docs/PROTOCOL.md 5.5): 2000 users, or fewer whose away
 * reasons fill the 255 KiB a reply may name (some 200 reasons of control
 * characters, 1200 bytes of JSON escapes each). Without it the list passes
 * for everyone online: here, those 200 hostile users, and not the page's own
 * name or anyone who signed in after them.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { MAX_AWAY_CHARS } from "../../src/protocol/limits.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  WAIT_MS,
} from "../_helpers/browser.ts";

const AWAY_USERS = 210;

Deno.test({
  name:
    "web: the people list says how many online users the server's list left out (more), after those it names",
  ...LEAK_CHECKS_OFF,
  async fn() {
    // The users all connect from loopback: the per-address limits lifted.
    await using chat = await startBrowserChat(
      "--max-per-address",
      "1000",
      "--handshake-rate",
      "0",
      "--max-unfinished-per-address",
      "0",
      "--rate-per-address",
      "0",
    );
    const port = new URL(chat.url).port;
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${chat.dir}/public.pem`),
    );
    const clients: ChatClient[] = [];
    const signIn = async (name: string) => {
      const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
        pinnedSpki: spki,
      });
      clients.push(client);
      assert.equal((await client.register(name)).t, "welcome");
      const reply = await client.request({
        t: "away",
        reason: "\x01".repeat(MAX_AWAY_CHARS),
      });
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    };
    try {
      for (let i = 0; i < AWAY_USERS; i += 10) {
        await Promise.all(
          Array.from(
            { length: Math.min(10, AWAY_USERS - i) },
            (_, j) => signIn(`away${i + j}`),
          ),
        );
      }
      const page = await openPage(chat.browser, chat.url, []);
      await join(page, "webby");
      await page.waitForFunction(
        () => document.getElementById("people")?.textContent?.includes("away0"),
        { timeout: WAIT_MS },
      );
      const said = await page.evaluate(() =>
        [...document.querySelectorAll("#people li")].map((li) =>
          li.textContent ?? ""
        )
      );
      const last = said.at(-1) ?? "";
      const more = Number(/^\.\.\. and (\d+) more users?$/.exec(last)?.[1]);
      assert.ok(more > 0, `the people list ends: ${last}`);
      // Those named, and those counted, are everyone online.
      assert.equal(said.length - 1 + more, AWAY_USERS + 1);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
    }
  },
});
