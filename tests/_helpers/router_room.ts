/**
 * The room the router's tests start from: sophia, jojo and nana signed in
 * over the router alone (no sockets), as connections 1, 2 and 3.
 */

import type { Store } from "../../src/store/store.ts";
import { type ServerLimits, ServerState } from "../../src/server/state.ts";
import { connect, route } from "./delivered.ts";
import { memoryStore } from "./memory_store.ts";

export const SOPHIA = 1;
export const JOJO = 2;
export const NANA = 3;
/** The body of a message that has none. */
export const NONE = new Uint8Array(0);
/** The router never reads the identity key: the gate in serve.ts checks it first. */
export const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/** sophia, jojo and nana online, registered in that order at times 1, 2, 3. */
export function room(
  limits: Partial<ServerLimits> = {},
  store: Store = memoryStore(),
): ServerState {
  const state = new ServerState(limits, store);
  for (
    const [id, name] of [[SOPHIA, "sophia"], [JOJO, "jojo"], [
      NANA,
      "nana",
    ]] as const
  ) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
  }
  return state;
}
