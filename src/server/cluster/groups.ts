/**
 * Groups and their members shared by a cluster's nodes (issue 19): one
 * entry per group in the groups bucket (subjects.ts). A node that changed
 * a group here writes the change into the latest entry with compare-and-set
 * (retrying when another node wrote first); every node watches the bucket
 * and makes its own groups match (remote_groups.ts), including a node that
 * starts later. Its own writes come back through the watch and change
 * nothing, since its groups already match.
 */

import { nameKey } from "../../protocol/limits.ts";
import type { GroupChange } from "../group.ts";
import {
  applyGroupChange,
  changesSince,
  encodeGroupRecord,
  type GroupRecord,
  parseGroupRecord,
} from "./group_record.ts";
import {
  isWrongLastSequence,
  type KV,
  type KvWatchEntry,
  KvWatchInclude,
} from "./nats.ts";
import type { ClusterSink } from "./port.ts";
import { groupRecordKey } from "./subjects.ts";

/** Compare-and-set attempts before a change is given up (and logged). */
const ATTEMPTS = 20;

/**
 * How long a change is tried again while NATS does not answer (a restart):
 * dropping it would leave the other nodes without it for good (a join
 * nobody elsewhere hears of).
 */
const UNREACHABLE_RETRY_MS = 120_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5_000;

export class ClusterGroups {
  readonly #kv: KV;
  readonly #node: string;
  readonly #log: (line: string) => void;
  #sink: ClusterSink | null = null;
  /** Per group key: the change count of the last record passed on. */
  readonly #counts = new Map<string, number>();
  #watch: { stop(): void } | null = null;
  /** Ends the waits between tries at stop. */
  readonly #stopping = new AbortController();
  /** Per group key: this node's writes not finished yet. */
  readonly #pending = new Map<string, number>();
  /** Per group key: the newest entry seen while writes were pending. */
  readonly #held = new Map<string, { revision: number; record: GroupRecord }>();
  /** Per group key: the revision of this node's last write. */
  readonly #written = new Map<string, number>();
  /** Per group key: the chain of this node's writes, one at a time. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(kv: KV, node: string, log: (line: string) => void) {
    this.#kv = kv;
    this.#node = node;
    this.#log = log;
  }

  async start(sink: ClusterSink): Promise<void> {
    this.#sink = sink;
    const watch = await this.#kv.watch({ include: KvWatchInclude.LastValue });
    this.#watch = watch;
    (async () => {
      for await (const entry of watch) this.#seen(entry);
    })().catch((error) =>
      this.#log(`cluster: groups watch ended: ${messageOf(error)}`)
    );
  }

  stop(): void {
    this.#stopping.abort();
    this.#watch?.stop();
  }

  /** Writes changes made here, each group's in order. */
  changed(changes: readonly GroupChange[]): void {
    for (const change of changes) {
      const key = groupRecordKey(nameKey(change.group));
      this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
      const chain = (this.#chains.get(key) ?? Promise.resolve())
        .then(() => this.#write(key, change))
        .catch((error) =>
          this.#log(
            `cluster: could not share a change to group ${change.group}: ${
              messageOf(error)
            }`,
          )
        )
        .finally(() => this.#settled(key));
      this.#chains.set(key, chain);
    }
  }

  async #write(key: string, change: GroupChange): Promise<void> {
    // The monotonic clock: a wall-clock jump must not end or stretch the retries.
    const giveUpAt = performance.now() + UNREACHABLE_RETRY_MS;
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 0; attempt < ATTEMPTS;) {
      try {
        const entry = await this.#kv.get(key);
        const current = entry !== null && entry.operation === "PUT"
          ? parseGroupRecord(entry.value)
          : null;
        const next = encodeGroupRecord(
          applyGroupChange(current, change, this.#node),
        );
        const revision = entry === null
          ? await this.#kv.create(key, next)
          : await this.#kv.update(key, next, entry.revision);
        this.#written.set(key, revision);
        return;
      } catch (error) {
        // Another node wrote first: apply the change to what it wrote.
        if (isWrongLastSequence(error)) {
          attempt++;
          continue;
        }
        // A bad record stays bad; anything else (NATS away) may pass.
        if (
          error instanceof TypeError ||
          performance.now() + backoff > giveUpAt ||
          this.#stopping.signal.aborted
        ) throw error;
        await wait(backoff, this.#stopping.signal);
        backoff = Math.min(2 * backoff, MAX_BACKOFF_MS);
      }
    }
    throw new Error(`${ATTEMPTS} other changes came first`);
  }

  #settled(key: string): void {
    const left = (this.#pending.get(key) ?? 1) - 1;
    if (left > 0) {
      this.#pending.set(key, left);
      return;
    }
    this.#pending.delete(key);
    this.#chains.delete(key);
    const held = this.#held.get(key);
    this.#held.delete(key);
    // Only what is at least as new as this node's own last write: an
    // older entry would undo it here until the watch brings it back.
    if (held !== undefined && held.revision >= (this.#written.get(key) ?? 0)) {
      this.#pass(key, held.record);
    }
  }

  #seen(entry: KvWatchEntry): void {
    if (entry.operation !== "PUT") return;
    let record: GroupRecord;
    try {
      record = parseGroupRecord(entry.value);
    } catch (error) {
      this.#log(
        `cluster: dropped a bad group entry ${entry.key}: ${messageOf(error)}`,
      );
      return;
    }
    if (entry.key !== groupRecordKey(nameKey(record.name))) {
      this.#log(
        `cluster: dropped a group entry under the wrong key ${entry.key}`,
      );
      return;
    }
    if (this.#pending.has(entry.key)) {
      this.#held.set(entry.key, { revision: entry.revision, record });
      return;
    }
    if (entry.revision < (this.#written.get(entry.key) ?? 0)) return;
    this.#pass(entry.key, record);
  }

  /**
   * Passes `record` on with the changes other nodes made since the last
   * record passed on (this node told its users of its own already).
   */
  #pass(key: string, record: GroupRecord): void {
    const seen = this.#counts.get(key);
    const changes = seen === undefined ? null : changesSince(record, seen);
    if (record.count !== undefined) {
      this.#counts.set(key, Math.max(record.count, seen ?? 0));
    }
    this.#sink?.group(
      record,
      changes?.filter((change) => change.node !== this.#node) ?? null,
    );
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Takes `name` out of every group in the groups bucket `kv` (a release of
 * the name: `chat admin release --cluster`), each with compare-and-set and
 * a journal entry of `node`, so every node follows as it does any leave;
 * returns those groups' names, sorted. A record this version cannot read
 * is left alone.
 */
export async function leaveEveryGroup(
  kv: KV,
  name: string,
  node: string,
): Promise<string[]> {
  const member = nameKey(name);
  // The keys there now, listed before any is read: one pass, not a watch.
  const keys: string[] = [];
  for await (const key of await kv.keys("*")) keys.push(key);
  const left: string[] = [];
  for (const key of keys) {
    for (let attempt = 0;; attempt++) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== "PUT") break;
      let record: GroupRecord;
      try {
        record = parseGroupRecord(entry.value);
      } catch {
        break;
      }
      const held = record.members.find((one) => nameKey(one) === member);
      if (held === undefined) break;
      const next = applyGroupChange(
        record,
        { kind: "remove", group: record.name, member: held },
        node,
      );
      try {
        await kv.update(key, encodeGroupRecord(next), entry.revision);
        left.push(record.name);
        break;
      } catch (error) {
        // Another node wrote first: take the name out of what it wrote.
        if (
          !isWrongLastSequence(error) ||
          attempt + 1 >= ATTEMPTS
        ) throw error;
      }
    }
  }
  return left.sort();
}
