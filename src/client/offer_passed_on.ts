// This module is browser compatible.

/**
 * When an offer of a file has reached its recipients: the terminal's and
 * the page's senders say "Offering ..." only then, never for an offer the
 * server refuses outright (`/file ghost notes.txt`).
 *
 * @module
 */

import type { ChatClient } from "./chat_client.ts";

/**
 * Calls `asked` once the server has passed the offer `offered` on to its
 * recipients. The server answers requests in the order they came, but for an
 * offer's reply, which waits for the recipients' answers (PROTOCOL.md 5.2):
 * a ping sent after the offer and answered before it means the offer was not
 * refused outright and waits for them.
 */
export function askedWhenPassedOn(
  client: ChatClient,
  offered: Promise<unknown>,
  asked: () => void,
): void {
  let replied = false;
  void offered.then(() => replied = true);
  void client.request({ t: "ping" }).then((pong) => {
    if (pong.t === "pong" && !replied) asked();
  });
}
