/**
 * Who is signed in on which node (issue 19). Two buckets (subjects.ts):
 * in the nodes bucket each node rewrites a heartbeat every third of the
 * time to live; in the presence bucket it writes an entry per signed-in
 * user when they sign in or their entry changes (away, last message: at
 * most once per heartbeat), and deletes it when they leave. So what a
 * node writes grows with what its users do, not with how many there are.
 *
 * Every node watches both. A user counts as online while their node is
 * alive (node_liveness.ts); a node that died without a word (kill -9)
 * stops its heartbeat, and every other node drops its users once it was
 * not heard from for the time to live, and deletes their entries.
 */

import type { Session } from "../session.ts";
import { type KV, type KvWatchEntry, KvWatchInclude } from "./nats.ts";
import { NodeLiveness } from "./node_liveness.ts";
import type { ClusterSink } from "./port.ts";
import { parsePresenceRecord, presenceRecord } from "./presence_record.ts";
import { nameKeyOfBinding, presenceKey } from "./subjects.ts";

export class ClusterPresence {
  readonly #users: KV;
  readonly #nodes: KV;
  readonly #node: string;
  readonly #ttlMs: number;
  readonly #log: (line: string) => void;
  readonly #liveness = new NodeLiveness();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #watches: { stop(): void }[] = [];
  #sink: ClusterSink | null = null;
  #stopped = false;
  /**
   * When this node's own heartbeat was last written; -Infinity before the
   * first.
   * This and what #liveness holds are on the monotonic clock: by a wall clock
   * set back, a dead node's users stayed listed until it caught up; set
   * forward, every other node could be taken for dead at once.
   */
  #lastBeat = -Infinity;
  /** This node's NATS connection is down (node.ts follows its status). */
  #cutOff = false;
  /** The last heartbeat failed (said once until one is written again). */
  #beatFailing = false;
  /** This node's users' entries as last written, by name key. */
  readonly #mine = new Map<string, string>();
  /** Other nodes' entry keys, by node: what to delete when one dies. */
  readonly #entries = new Map<string, Set<string>>();

  constructor(
    users: KV,
    nodes: KV,
    node: string,
    ttlMs: number,
    log: (line: string) => void,
  ) {
    this.#users = users;
    this.#nodes = nodes;
    this.#node = node;
    this.#ttlMs = ttlMs;
    this.#log = log;
  }

  /** Starts the heartbeat and watching both buckets. */
  async start(sink: ClusterSink): Promise<void> {
    this.#sink = sink;
    this.#beat();
    const nodes = await this.#nodes.watch({
      include: KvWatchInclude.LastValue,
    });
    this.#watches.push(nodes);
    this.#follow(nodes, (entry) => this.#nodeSeen(entry), "nodes");
    const users = await this.#users.watch({
      include: KvWatchInclude.LastValue,
    });
    this.#watches.push(users);
    this.#follow(users, (entry) => this.#userSeen(entry), "presence");
    this.#timer = setInterval(
      () => this.#tick(),
      Math.max(100, Math.floor(this.#ttlMs / 3)),
    );
  }

  joined(session: Session): void {
    this.#mine.set(session.nameKey, "");
    this.#write(session);
  }

  left(nameKey: string): void {
    this.#mine.delete(nameKey);
    this.#users.delete(presenceKey(nameKey, this.#node)).catch((error) =>
      this.#log(
        `cluster: could not remove ${nameKey}'s presence: ${messageOf(error)}`,
      )
    );
  }

  /** Stops, and removes this node's entries and heartbeat (a clean stop). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const watch of this.#watches) watch.stop();
    const mine = [...this.#mine.keys()];
    this.#mine.clear();
    await Promise.allSettled([
      ...mine.map((key) => this.#users.delete(presenceKey(key, this.#node))),
      this.#nodes.delete(this.#node),
    ]);
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#beat();
    // Entries that changed since written (away, last message).
    for (const session of this.#sink?.sessions() ?? []) {
      if (this.#mine.has(session.nameKey)) this.#write(session);
    }
    // Cut off from NATS, this node hears no one: that says nothing of the
    // other nodes, so it judges none until its own heartbeat gets through.
    const now = performance.now();
    if (this.#cutOff || now - this.#lastBeat > (this.#ttlMs * 2) / 3) {
      return;
    }
    for (const node of this.#liveness.expire(now, this.#ttlMs)) {
      this.#log(
        `cluster: node ${node} was not heard from for ${this.#ttlMs} ms: its users are offline`,
      );
      this.#sink?.nodeGone(node);
      // Its entries would stay in the bucket for ever otherwise; every
      // node that notices deletes them, which is harmless twice.
      for (const entry of this.#entries.get(node) ?? []) {
        this.#users.delete(entry).catch(() => {});
      }
      this.#entries.delete(node);
    }
  }

  #beat(): void {
    const sent = performance.now();
    this.#nodes.put(this.#node, String(Date.now())).then(() => {
      this.#lastBeat = Math.max(this.#lastBeat, sent);
      // JetStream back for this node (seconds after NATS is): the others
      // get a TTL from now to be heard again too.
      if (this.#beatFailing) this.#liveness.renewAll(performance.now());
      this.#beatFailing = false;
    }, (error) => {
      // A beat sent before one that got through failing late says nothing.
      if (sent < this.#lastBeat) return;
      // Once per failing spell (JetStream takes seconds to be back after
      // a NATS restart): the others judge this node by the same silence.
      if (!this.#beatFailing && !this.#cutOff) {
        this.#log(
          `cluster: could not write the heartbeat: ${
            messageOf(error)
          }; other nodes list this node's users until the TTL`,
        );
      }
      this.#beatFailing = true;
    });
  }

  /** The NATS connection went down (false) or came back (true). */
  reachable(up: boolean): void {
    if (up === !this.#cutOff) return;
    this.#cutOff = !up;
    if (!up) {
      this.#log(
        "cluster: lost NATS: other nodes' users stay listed until it is back",
      );
      return;
    }
    this.#log("cluster: NATS is reachable again");
    // Others may have taken this node for dead meanwhile and deleted its
    // entries: all are written again at the next tick. And the others get
    // a TTL from now to be heard.
    for (const key of this.#mine.keys()) this.#mine.set(key, "");
    this.#liveness.renewAll(performance.now());
  }

  /** Writes a user's entry unless it is what was last written. */
  #write(session: Session): void {
    const record = presenceRecord(session, this.#node);
    const text = new TextDecoder().decode(record);
    if (this.#mine.get(session.nameKey) === text) return;
    this.#mine.set(session.nameKey, text);
    this.#users.put(presenceKey(session.nameKey, this.#node), record).catch(
      (error) => {
        // Written again at the next heartbeat.
        if (this.#mine.get(session.nameKey) === text) {
          this.#mine.set(session.nameKey, "");
        }
        this.#log(
          `cluster: could not write ${session.name}'s presence: ${
            messageOf(error)
          }`,
        );
      },
    );
  }

  /**
   * One of this node's entries was deleted. By this node when its user
   * left (no longer in #mine); otherwise by another node that took this
   * one for dead: frozen (SIGSTOP, a machine swapping) or too slow to
   * write its heartbeat within the TTL, it then goes on serving its users,
   * whom the others would list no more until each signed in again. Written
   * again at the next tick.
   */
  #mineDeleted(key: string): void {
    // The key is the name key's hex token, as in the names bucket, then
    // `.` and this node's id.
    const nameKey = nameKeyOfBinding(
      key.slice(0, key.length - this.#node.length - 1),
    );
    if (nameKey !== null && this.#mine.has(nameKey)) {
      this.#mine.set(nameKey, "");
    }
  }

  #follow(
    watch: AsyncIterable<KvWatchEntry>,
    seen: (entry: KvWatchEntry) => void,
    what: string,
  ): void {
    (async () => {
      for await (const entry of watch) seen(entry);
    })().catch((error) => {
      if (!this.#stopped) {
        this.#log(`cluster: ${what} watch ended: ${messageOf(error)}`);
      }
    });
  }

  #nodeSeen(entry: KvWatchEntry): void {
    const node = entry.key;
    if (node === this.#node) return;
    if (entry.operation !== "PUT") {
      // Stopped cleanly: its users go now.
      this.#liveness.gone(node, entry.created.getTime());
      this.#sink?.nodeGone(node);
      this.#entries.delete(node);
      return;
    }
    if (this.#liveness.isStale(node, entry.created.getTime())) return;
    // A value read at start may be old already: it counts from when it was
    // written (its age by the wall clock, never below 0), an update from
    // when it came (clocks of nodes may differ).
    const now = performance.now();
    const age = Math.max(0, Date.now() - entry.created.getTime());
    this.#liveness.heard(node, entry.isUpdate ? now : now - age);
  }

  #userSeen(entry: KvWatchEntry): void {
    const sink = this.#sink;
    if (sink === null) return;
    if (entry.key.endsWith(`.${this.#node}`)) {
      if (entry.operation !== "PUT") this.#mineDeleted(entry.key);
      return;
    }
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
    // Written before its node said goodbye, come after it (another
    // bucket): the user is gone with the node, and the node stays gone.
    if (this.#liveness.isStale(user.node, entry.created.getTime())) return;
    // A node never heard from yet gets one TTL to be.
    this.#liveness.known(user.node, performance.now());
    let entries = this.#entries.get(user.node);
    if (entries === undefined) {
      this.#entries.set(user.node, entries = new Set());
    }
    entries.add(entry.key);
    sink.seen(entry.key, user);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
