// This module is browser compatible.

/**
 * When an offer of a file has reached its recipients: the terminal's and
 * the page's senders say "Offering ..." only then, never for an offer the
 * server refuses outright (`/file ghost notes.txt`).
 *
 * @module
 */

import type { ChatClient } from "./chat_client.ts";
import { SLOW_DOWN_RETRIES, SLOW_DOWN_WAIT_MS } from "./with_patience.ts";

/**
 * Calls `asked` once the server has passed the offer `offered` on to its
 * recipients. The server answers requests in the order they came, but for an
 * offer's reply, which waits for the recipients' answers (PROTOCOL.md 5.2):
 * a ping sent after the offer and answered before it means the offer was not
 * refused outright and waits for them. A ping the server refuses with
 * `slow_down` (the offer took its last token: a burst of files, or an offer
 * that went again after its own slow_down) is sent again after the pause,
 * while the offer is not answered: before, such an offer was never said
 * passed on, and the lines and files typed after it waited for its answer.
 */
export function askedWhenPassedOn(
  client: ChatClient,
  offered: Promise<unknown>,
  asked: () => void,
): void {
  let replied = false;
  const answered = offered.then(() => replied = true);
  void (async () => {
    for (let attempt = 1; !replied; attempt++) {
      const pong = await client.request({ t: "ping" });
      if (pong.t === "pong") {
        if (!replied) asked();
        return;
      }
      if (
        pong.t !== "error" || pong.code !== "slow_down" ||
        attempt > SLOW_DOWN_RETRIES
      ) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise((wake) => {
          timer = setTimeout(wake, SLOW_DOWN_WAIT_MS * attempt);
        }),
        answered,
        client.ended,
      ]);
      clearTimeout(timer);
      if (client.isOver) return;
    }
  })();
}
