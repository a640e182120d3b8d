// This module is browser compatible.

/**
 * The one line said of a file that did not go yet and will be offered
 * again (outgoing_files.ts): not an ERROR, since nothing is lost and the
 * file is not given up. An ERROR is said only once its outcome is final
 * (given up, or stopped before it went).
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { SentFileOutcome } from "./render.ts";

/**
 * `file` is not sent yet and will be offered again: once we are
 * `reconnected` (our connection is down), or, with it up, after a pause
 * (`why`: what stopped it, in a few words, as its outcome said it).
 */
export function offeredAgainLine(
  file: string,
  why: { reconnected: true } | { reason: string | null },
): string {
  const name = sanitizeForTerminal(file);
  if ("reconnected" in why) {
    return `Not sent yet: ${name} will be offered again once reconnected, resuming where it stopped`;
  }
  return `Not sent yet: ${name} will be offered again, resuming where it stopped${
    why.reason === null || why.reason === ""
      ? ""
      : ` (${sanitizeForTerminal(why.reason)})`
  }`;
}

/**
 * What stopped a file that will be offered again, in a few words (without
 * its "ERROR: " and final period): a refusal's text (`User 'jojo' is not
 * online`), the reason its transfer stopped, or why its recipients did not
 * get it (`jojo disconnected`); null when nothing says.
 */
export function notYetReason(outcome: SentFileOutcome): string | null {
  const brief = (text: string) =>
    text.replace(/^ERROR: /, "").replace(/\.$/, "");
  switch (outcome.kind) {
    case "refused":
      return brief(outcome.text);
    case "cancelled":
      return outcome.reason === "" ? null : brief(outcome.reason);
    case "finished": {
      const reasons = outcome.results.filter((r) => !r.ok && r.reason !== "")
        .map((r) => brief(r.reason));
      return reasons.length === 0 ? null : reasons.join("; ");
    }
    default: {
      const unreachable: never = outcome;
      return unreachable;
    }
  }
}
