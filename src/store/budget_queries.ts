/**
 * The store's record of what addresses spent of their hourly budgets
 * (server/account_budgets.ts), read back when the server starts.
 */

import type { BudgetSpend } from "./store.ts";
import { integer, text } from "./rows.ts";
import type { Transactions } from "./transactions.ts";

/**
 * How long a spend is kept: a budget refills in an hour, and one charged
 * into debt (a budget at most, from the other nodes) in two.
 */
export const BUDGET_MEMORY_MS = 2 * 3600_000;

/**
 * The most spends kept, the newest. Each address spends at most some
 * hundreds in two hours, but addresses are many to a hostile LAN peer (a
 * link-local or same-/64 address counts by itself, README "Limits"): past
 * this the oldest go, which a restart then forgives, as the budgets in
 * memory forget the idlest past 100,000 addresses (rate_limit.ts).
 */
export const MAX_BUDGET_SPENDS = 100_000;

/** Spends recorded between two drops of the old ones. */
const DROP_EVERY = 256;

export class BudgetQueries {
  readonly #tx: Transactions;
  #sinceDrop = 0;

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  recordBudgetSpend(spend: BudgetSpend): void {
    this.#tx.run(
      `INSERT INTO budget_spends (at, kind, address, owner, count)
       VALUES (?, ?, ?, ?, ?)`,
      spend.at,
      spend.kind,
      spend.address,
      spend.owner ?? "",
      spend.count,
    );
    if (++this.#sinceDrop >= DROP_EVERY) {
      this.#sinceDrop = 0;
      this.dropBudgetSpends(spend.at - BUDGET_MEMORY_MS);
      // Rows come in rowid order (each the largest plus one); room is
      // left for the records until the next drop.
      this.#tx.run(
        `DELETE FROM budget_spends
         WHERE rowid <= (SELECT max(rowid) FROM budget_spends) - ?`,
        MAX_BUDGET_SPENDS - DROP_EVERY,
      );
    }
  }

  budgetSpendsSince(since: number): BudgetSpend[] {
    this.dropBudgetSpends(since);
    return this.#tx.all(
      `SELECT at, kind, address, owner, count FROM budget_spends
       WHERE at >= ? ORDER BY at, rowid`,
      since,
    ).map((row) => {
      const kind = text(row, "kind");
      const owner = text(row, "owner");
      return {
        at: integer(row, "at"),
        kind: kind === "create" || kind === "join" ? kind : "prekey",
        address: text(row, "address"),
        owner: kind === "prekey" ? owner : null,
        count: integer(row, "count"),
      };
    });
  }

  dropBudgetSpends(before: number): void {
    this.#tx.run(`DELETE FROM budget_spends WHERE at < ?`, before);
  }
}
