// This module is browser compatible.

/**
 * The messages not arrived (unarrived.ts) as the terminal, `--json` and the
 * web page say them: one `unarrived` event, in its sender's turn, after what
 * of theirs is being shown, and nothing of someone the user ignores. Shared,
 * so the three cannot say it differently.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { SessionEvent } from "./session_events.ts";
import { UnarrivedMessages } from "./unarrived.ts";

export interface UnarrivedEventsOptions {
  /** Shows the event. */
  emit: (event: SessionEvent) => void;
  /** Runs `show` in the turn of `from`'s lines (in_turn.ts). */
  inTurn: (from: string, show: () => void) => unknown;
  /** Whether the user ignores `name` (nothing said of what they send). */
  ignored: (name: string) => boolean;
}

/** A tracker of messages not arrived that says them as `unarrived` events. */
export function unarrivedEvents(
  { emit, inTurn, ignored }: UnarrivedEventsOptions,
): UnarrivedMessages {
  return new UnarrivedMessages({
    say: ({ from, group }, count, line) => {
      if (ignored(from)) return;
      // Names in the line may come from the server: made safe here.
      void inTurn(from, () =>
        emit({
          type: "unarrived",
          from,
          group,
          count,
          text: sanitizeForTerminal(line),
        }));
    },
  });
}
