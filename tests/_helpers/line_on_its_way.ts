/// <reference lib="dom" />
/**
 * A web page with a line on its way: sent, stored and read by the others,
 * the server's answer to it held by a proxy (no answer yet, not yet said
 * pending). For the tests of what leaving does then.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  type BrowserChat,
  signedInThrough,
  typeAnswerHeld,
} from "./browser.ts";
import type { HoldingProxy } from "./holding_proxy.ts";
import { type ChatClient, decodeText } from "../../src/client/chat_client.ts";

/**
 * webby's page signed in through `proxy`, its line "line on its way" stored
 * and read by sophia, the server's answer to it held by the proxy.
 */
export async function lineOnItsWay(
  chat: BrowserChat,
  proxy: HoldingProxy,
  sophia: ChatClient,
): Promise<{ page: Page; problems: string[] }> {
  const heard = Promise.withResolvers<string>();
  sophia.onMessage(({ message, body }) => {
    if (message.t === "public") heard.resolve(decodeText(body));
  });
  const { page, problems } = await signedInThrough(chat, proxy, "webby");
  // The server's answer to the line is held.
  await typeAnswerHeld(chat, proxy, page, "line on its way");
  // Stored, and read by the others.
  assert.equal(await heard.promise, "line on its way");
  return { page, problems };
}
