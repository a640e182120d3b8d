/**
 * What the router's output reaches, as connection ids: the router addresses
 * users, groups and the room (src/server/outbound.ts), and tests that check
 * who gets what resolve those addresses the way delivery does, right after
 * routing (src/server/recipients.ts).
 */

import {
  connect,
  disconnect as disconnectCore,
  type Outbound,
  route as routeCore,
} from "../../src/server/router.ts";
import { recipients } from "../../src/server/recipients.ts";
import type { ConnId, ServerState } from "../../src/server/state.ts";

/** An Outbound resolved to this process's connections. */
export interface Delivered extends Outbound {
  to: ConnId[];
}

/**
 * `out` with each address resolved to connection ids now; those that reach
 * nobody are left out, as delivery skips them.
 */
export function delivered(
  state: ServerState,
  out: readonly Outbound[],
): Delivered[] {
  return out.flatMap((one) => {
    const to = [...recipients(state, one.to)];
    return to.length === 0 ? [] : [{ ...one, to }];
  });
}

/** route(), resolved. */
export function route(
  state: ServerState,
  ...args: Parameters<typeof routeCore> extends [unknown, ...infer R] ? R
    : never
): Delivered[] {
  return delivered(state, routeCore(state, ...args));
}

/** disconnect(), resolved. */
export function disconnect(
  state: ServerState,
  id: ConnId,
  now: number,
): Delivered[] {
  return delivered(state, disconnectCore(state, id, now));
}

export { connect };
