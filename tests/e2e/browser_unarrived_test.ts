/**
 * The web page says that an end-to-end private message has not arrived, as
 * the terminal does (unarrived.ts): alice, a protocol peer with keys on a
 * real server, seals her second message to webby and never sends it (what a
 * host holding it back leaves), then sends a third; the page in Chromium
 * shows the third, then the line that one message from alice has not
 * arrived.
 */

import type { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  join,
  LEAK_CHECKS_OFF,
  openPage,
  startBrowserChat,
  waitForLine,
} from "../_helpers/browser.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";
import type { TestServer } from "../_helpers/chat.ts";

Deno.test({
  name:
    "web: a private message sealed for the page and never delivered is said not to have arrived once a later one comes",
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
    await waitForLine(
      page,
      /1 message from alice has not arrived \(the server may have held it back\)/,
    );
    await alice.client.quit();
  },
});
