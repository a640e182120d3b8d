// This module is browser compatible.

/**
 * A file offer the server refuses with `slow_down` (its message rate: a
 * burst of files typed at once, each with its key's messages, passes its
 * burst) goes again after the server's pause, as a chat line does
 * (unconfirmed_chat.ts): still in its turn, so the files typed after it
 * wait, and nothing is said of it unless it is refused for good. The
 * terminal's and the page's senders offer through it.
 *
 * @module
 */

import type { ChatClient, Reply, Request } from "./chat_client.ts";
import { askedWhenPassedOn } from "./offer_passed_on.ts";
import { cancelCrossedReply } from "./offer_withdrawal.ts";
import { SLOW_DOWN_RETRIES, SLOW_DOWN_WAIT_MS } from "./with_patience.ts";

export interface OfferHooks {
  /**
   * The offer is out as request `offer`, which `withdraw` takes back
   * (/cancel): listed until `unlisted` (each try has a number of its own).
   */
  listed: (offer: number, withdraw: () => void) => void;
  unlisted: (offer: number) => void;
  /** The server passed the offer on to its recipients (offer_passed_on.ts). */
  passedOn: () => void;
}

/**
 * Sends `offer`, and again after a pause (SLOW_DOWN_WAIT_MS, growing) each
 * time the server refuses it with `slow_down`, up to SLOW_DOWN_RETRIES
 * times; resolves with its reply, or "withdrawn" once taken back (in a
 * pause too: then it does not go again).
 */
export async function offerWithPatience(
  client: ChatClient,
  offer: Extract<Request, { t: "file_offer" }>,
  hooks: OfferHooks,
): Promise<Reply | "withdrawn"> {
  const withdrawn = Promise.withResolvers<"withdrawn">();
  let taken = false;
  const withdraw = () => {
    taken = true;
    withdrawn.resolve("withdrawn");
  };
  let listed: number | null = null;
  try {
    for (let attempt = 1;; attempt++) {
      const { id, reply: offered } = client.numberedRequest(offer);
      if (listed !== null) hooks.unlisted(listed);
      listed = id;
      hooks.listed(id, withdraw);
      askedWhenPassedOn(client, offered, () => {
        if (!taken) hooks.passedOn();
      });
      const reply = await Promise.race([offered, withdrawn.promise]);
      if (reply === "withdrawn") {
        cancelCrossedReply(client, offered);
        return reply;
      }
      if (
        reply.t !== "error" || reply.code !== "slow_down" ||
        attempt > SLOW_DOWN_RETRIES
      ) return reply;
      // Listed still: /cancel in the pause takes it back for good. A
      // connection ending in the pause answers the next try at once.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const woke = await Promise.race([
        new Promise<"slept">((wake) => {
          timer = setTimeout(() => wake("slept"), SLOW_DOWN_WAIT_MS * attempt);
        }),
        withdrawn.promise,
        client.ended.then(() => "ended" as const),
      ]);
      clearTimeout(timer);
      if (woke === "withdrawn") return woke;
    }
  } finally {
    if (listed !== null) hooks.unlisted(listed);
  }
}
