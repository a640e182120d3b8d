/**
 * The web page says that an end-to-end private message has not arrived, as
 * the terminal does (unarrived.ts): alice, a protocol peer with keys on a
 * real server, seals her second message to webby and never sends it (what a
 * host holding it back leaves), then sends a third; the page in Chromium
 * shows the third, then the line that one message from alice has not
 * arrived.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import { UNARRIVED_GRACE_MS } from "../../src/client/unarrived.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  logRows,
  openPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";
import type { TestServer } from "../_helpers/chat.ts";

/**
 * Webby on the page, and alice, a protocol peer with keys, who has sent
 * "first", sealed "held back" and not sent it, then sent "third": the page
 * has shown "third" and knows of the gap before it.
 */
async function gapOnPage(chat: Awaited<ReturnType<typeof startBrowserChat>>) {
  const port = new URL(chat.url).port;
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(`${chat.dir}/public.pem`),
  );
  const server = { url: `ws://127.0.0.1:${port}`, spki } as TestServer;
  const page = await openPage(chat.browser, chat.url, []);
  await join(page, "webby");
  await chat.keysOf("webby");
  const alice = await e2ePeer(server, "alice");
  const send = (client: ChatClient, text: string) =>
    alice.e2e.sendText(client, "webby", text, cid());
  await send(alice.client, "first");
  await waitForLine(page, /alice: first/);
  // Sealed on her chain, and answered here as if the server took it.
  const dropping = new Proxy(alice.client, {
    get(target, key) {
      if (key === "request") {
        return () => Promise.resolve({ t: "ok", re: null, text: "" });
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  await send(dropping, "held back");
  await send(alice.client, "third");
  await waitForLine(page, /alice: third/);
  return { page, alice };
}

Deno.test({
  name:
    "web: a private message sealed for the page and never delivered is said not to have arrived once a later one comes",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, alice } = await gapOnPage(chat);
    await waitForLine(
      page,
      /1 message from alice has not arrived \(the server may have held it back\)/,
    );
    await alice.client.quit();
  },
});

Deno.test({
  name:
    "web: a gap seen before /quit is not said after it (the page forgets it as it signs out)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, alice } = await gapOnPage(chat);
    await typeLine(page, "/quit");
    await waitForLine(page, /^Disconnected\.$/);
    // Said, it would be UNARRIVED_GRACE_MS after the gap was seen: waited
    // out (its absence has no event to wait for).
    await new Promise((resolve) =>
      setTimeout(resolve, UNARRIVED_GRACE_MS + 1_000)
    );
    const rows = await logRows(page);
    assert.ok(rows.some((row) => /alice: third/.test(row)), rows.join("\n"));
    assert.ok(!rows.some((row) => /not arrived/.test(row)), rows.join("\n"));
    await alice.client.quit();
  },
});
