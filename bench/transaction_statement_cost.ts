/**
 * µs per transaction-control statement through node:sqlite, run with
 * `exec` (parsed every time) against a prepared statement reused: a
 * SAVEPOINT and its RELEASE inside a transaction, and an empty BEGIN
 * IMMEDIATE / COMMIT, on a WAL database in a temporary folder.
 *
 *     deno run -A bench/transaction_statement_cost.ts
 *
 * Why: the server runs BEGIN and COMMIT per turn and a savepoint per run
 * and per private or group message (transactions.ts), all through `exec`.
 * Session 43 found the prepared statements no cheaper (StatementSync.run
 * builds a result object each time), 3 runs on a machine at load 10: a
 * savepoint and its release 1.1-6.1 µs prepared against 1.0-2.8 with exec,
 * an empty BEGIN/COMMIT 12.4-38.3 against 9.8-30.1 (either way round from
 * one round to the next). In the server all of them together are a few
 * percent of its thread; the COMMIT's writes to the log are the rest of
 * the transaction's cost (bench/private_store_cost.ts).
 */

import { DatabaseSync } from "node:sqlite";

const SAVEPOINTS = 100_000;
const TRANSACTIONS = 20_000;

const dir = await Deno.makeTempDir({ prefix: "chat-tx-statements-" });
const db = new DatabaseSync(`${dir}/cost.db`);
try {
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (a)");
  const savepoint = db.prepare("SAVEPOINT nested_1");
  const release = db.prepare("RELEASE nested_1");
  db.exec("BEGIN IMMEDIATE");
  for (let round = 0; round < 3; round++) {
    let started = performance.now();
    for (let i = 0; i < SAVEPOINTS; i++) {
      db.exec("SAVEPOINT nested_1");
      db.exec("RELEASE nested_1");
    }
    const exec = (performance.now() - started) * 1000 / SAVEPOINTS;
    started = performance.now();
    for (let i = 0; i < SAVEPOINTS; i++) {
      savepoint.run();
      release.run();
    }
    const prepared = (performance.now() - started) * 1000 / SAVEPOINTS;
    console.log(
      `savepoint + release: exec ${exec.toFixed(2)} µs, prepared ${
        prepared.toFixed(2)
      } µs`,
    );
  }
  db.exec("COMMIT");
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  for (let round = 0; round < 3; round++) {
    let started = performance.now();
    for (let i = 0; i < TRANSACTIONS; i++) {
      db.exec("BEGIN IMMEDIATE");
      db.exec("COMMIT");
    }
    const exec = (performance.now() - started) * 1000 / TRANSACTIONS;
    started = performance.now();
    for (let i = 0; i < TRANSACTIONS; i++) {
      begin.run();
      commit.run();
    }
    const prepared = (performance.now() - started) * 1000 / TRANSACTIONS;
    console.log(
      `empty BEGIN IMMEDIATE / COMMIT: exec ${exec.toFixed(2)} µs, prepared ${
        prepared.toFixed(2)
      } µs`,
    );
  }
} finally {
  db.close();
  await Deno.remove(dir, { recursive: true });
}
