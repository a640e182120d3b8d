/**
 * The turns the server's loops share (src/transport/turn_budget.ts): how
 * long they keep the event loop before they let it poll sockets and run
 * timers, and what ends a turn.
 *
 * A turn ends with a timer, not `setImmediate`, though an immediate costs
 * the thread less per turn (a few percent at a typing pace in a V8
 * profile): on Deno 2.9.6 an immediate set inside an immediate runs without
 * the loop polling sockets between, so under a loop that never leaves the
 * microtask queue a socket's reply came after 121 turns, every time, where
 * with a timer it came after 10 to 13 (5 ms turns; 50 to 99 at 20 ms, the
 * loop polling sockets less often the longer the turn):
 * tests/server/server_turns_test.ts. A flood must not keep the others'
 * reads and pings waiting that much longer for a saving the CPU figures
 * could not resolve (bench/BASELINE.md, session 43).
 */

import { TurnBudget } from "../transport/turn_budget.ts";

/**
 * The longest the serving loops keep the event loop before they let it
 * poll sockets and run timers.
 */
export const TURN_BUDGET_MS = 20;

/** The server's turns, `budgetMs` each (tests try shorter ones). */
export function serverTurns(budgetMs: number = TURN_BUDGET_MS): TurnBudget {
  return new TurnBudget(budgetMs);
}
