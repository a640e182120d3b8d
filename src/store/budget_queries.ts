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
