// This module is browser compatible.

/**
 * A file offer its sender took back before its answers came (PROTOCOL.md
 * 5.6, "Taking an offer back"): the terminal's and the page's senders end
 * it the same way.
 *
 * @module
 */

import type { ChatClient, Reply } from "./chat_client.ts";

/**
 * Takes back offer `offer` (its request id) before its answers are in
 * (/cancel, the second /quit): the server tells its recipients, whose
 * questions go; `withdraw` ends the sender's wait for its reply. A server
 * that does not know this (`xfer` 0 is no transfer) ignores it, and the
 * transfer is cancelled when its reply comes (cancelCrossedReply).
 */
export function takeBackOffer(
  client: ChatClient,
  offer: number,
  withdraw: () => void,
): void {
  client.post({ t: "file_cancel", xfer: 0, offer, reason: "withdrawn" });
  withdraw();
}

/**
 * After the offer whose reply is `offered` was taken back: a reply that
 * crossed the withdrawal (or came from a server that ignored it) starts
 * nothing, since the transfer it opens is cancelled at once.
 */
export function cancelCrossedReply(
  client: ChatClient,
  offered: Promise<Reply>,
): void {
  void offered.then((late) => {
    if (late.t !== "file_ready") return;
    client.post({ t: "file_cancel", xfer: late.xfer, reason: "withdrawn" });
  });
}

/** The sender's own account of an offer it took back, less its name. */
export const TAKEN_BACK = {
  kind: "cancelled",
  reason: "you took it back",
  results: [],
  byYou: true,
} as const;
