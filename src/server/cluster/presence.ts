/**
 * Who is signed in on which node (issue 19): each node writes an entry per
 * signed-in user to the presence bucket (subjects.ts), rewrites them all
 * every third of the time to live, and deletes one when its user leaves.
 * Every node watches the bucket. A node that dies stops rewriting: its
 * entries are dropped by every other node once older than the time to live
 * (JetStream's own expiry tells watchers nothing, so each node keeps time
 * itself), and by the bucket soon after.
 */

import type { ClusterSink } from "./port.ts";
import type { Session } from "../session.ts";
import { type KV, type KvWatchEntry, KvWatchInclude } from "./nats.ts";
import { parsePresenceRecord, presenceRecord } from "./presence_record.ts";
import { presenceKey } from "./subjects.ts";

export class ClusterPresence {
  readonly #kv: KV;
  readonly #node: string;
  readonly #ttlMs: number;
  readonly #log: (line: string) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  #watch: { stop(): void } | null = null;
  #sink: ClusterSink | null = null;
  /** Name keys of the users this node has written entries for. */
  readonly #mine = new Set<string>();

  constructor(
    kv: KV,
    node: string,
    ttlMs: number,
    log: (line: string) => void,
  ) {
    this.#kv = kv;
    this.#node = node;
    this.#ttlMs = ttlMs;
    this.#log = log;
  }

  /** Starts watching the bucket and refreshing this node's entries. */
  async start(sink: ClusterSink): Promise<void> {
    this.#sink = sink;
    const watch = await this.#kv.watch({ include: KvWatchInclude.LastValue });
    this.#watch = watch;
    (async () => {
      for await (const entry of watch) this.#seen(entry);
    })().catch((error) =>
      this.#log(`cluster: presence watch ended: ${messageOf(error)}`)
    );
    this.#timer = setInterval(() => {
      this.#refresh();
      sink.expire(Date.now(), this.#ttlMs);
    }, Math.max(100, Math.floor(this.#ttlMs / 3)));
  }

  joined(session: Session): void {
    this.#mine.add(session.nameKey);
    this.#put(session);
  }

  left(nameKey: string): void {
    this.#mine.delete(nameKey);
    this.#kv.delete(presenceKey(nameKey, this.#node)).catch((error) =>
      this.#log(
        `cluster: could not remove ${nameKey}'s presence: ${messageOf(error)}`,
      )
    );
  }

  /** Stops refreshing and removes this node's entries (a clean stop). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#watch?.stop();
    const mine = [...this.#mine];
    this.#mine.clear();
    await Promise.allSettled(
      mine.map((key) => this.#kv.delete(presenceKey(key, this.#node))),
    );
  }

  #refresh(): void {
    for (const session of this.#sink?.sessions() ?? []) {
      if (this.#mine.has(session.nameKey)) this.#put(session);
    }
  }

  #put(session: Session): void {
    this.#kv.put(
      presenceKey(session.nameKey, this.#node),
      presenceRecord(session, this.#node),
    ).catch((error) =>
      this.#log(
        `cluster: could not write ${session.name}'s presence: ${
          messageOf(error)
        }`,
      )
    );
  }

  #seen(entry: KvWatchEntry): void {
    const sink = this.#sink;
    if (sink === null || entry.key.endsWith(`.${this.#node}`)) return;
    if (entry.operation !== "PUT") {
      sink.gone(entry.key);
      return;
    }
    let user;
    try {
      user = parsePresenceRecord(entry.value);
    } catch (error) {
      this.#log(
        `cluster: dropped a bad presence entry ${entry.key}: ${
          messageOf(error)
        }`,
      );
      return;
    }
    if (entry.key !== presenceKey(user.nameKey, user.node)) {
      this.#log(
        `cluster: dropped a presence entry under the wrong key ${entry.key}`,
      );
      return;
    }
    // A value read at start may be old already: it counts from when it was
    // written, an update from when it came (clocks of nodes may differ).
    const now = Date.now();
    const seenAt = entry.isUpdate
      ? now
      : Math.min(now, entry.created.getTime());
    sink.seen(entry.key, user, seenAt);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
