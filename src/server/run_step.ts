// This module is browser compatible.

/**
 * What a connection's frame becomes on its way to the router: steps, routed
 * in runs (run_routing.ts).
 */

import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import type { Outbound } from "./outbound.ts";

/** One thing to do for a message of a batch, in order. */
export type Step = { message: ClientMessage; body: Uint8Array } | {
  reply: ServerMessage;
};

/** What a run routed, and whether it stopped at its sender's backlog limit. */
export interface Routed {
  out: Outbound[];
  /** Steps were left unrouted: what is queued for the sender passed the limit. */
  full: boolean;
}
