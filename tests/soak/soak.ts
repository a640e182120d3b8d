/**
 * A bounded soak test of a real server process, not part of `deno test`:
 *
 *     deno task soak [--seconds 60] [--clients 240] [--workers 3] [--seed N]
 *                    [--memory] [--no-restart]
 *
 * It makes a temporary RSA key, starts `main.ts serve` on an ephemeral
 * loopback port with an on-disk store in a temporary folder (`--memory` for
 * `--data :memory:`) and the per-address limit raised (every client comes from
 * 127.0.0.1; the rate limit keeps its default), creates some groups, and runs
 * the clients in `--workers` load processes (this same file, `--worker`).
 * Every client chats in public, privately and in groups, joins and leaves
 * groups, and now and then disconnects (cleanly or by dropping the socket) and
 * comes back under the same name and identity key. A third of the way in the
 * server is stopped with SIGTERM and started again on the same port and data,
 * and two thirds of the way in it is killed with SIGKILL and started again
 * (not with `--memory`, or with `--no-restart`): every client then reconnects.
 * Each user keeps one DeliveryLedger across its sessions, as the CLI does.
 * Every message carries a unique id in its body (sender:sequence).
 *
 * At the end it checks, from what every client recorded:
 * - every acknowledged message reached every session entitled to it exactly
 *   once: a session is entitled when its welcome came before the message was
 *   sent, it completed a request sent after the acknowledgement (so anything
 *   queued for it before that reply has arrived), and, for a group, its user
 *   was surely a member the whole time (joined and acknowledged before the
 *   send, no leave sent before the acknowledgement);
 * - private and group messages for users surely offline arrived as history in
 *   their next session;
 * - no user got a message twice, or one that was refused, or one meant for
 *   someone else, or a group message of a group they surely were not in;
 * - each session saw each sender's messages in the order they were sent (one
 *   the client marked late must have come as history);
 * - every body arrived intact, attributed to its sender;
 * - the server answered no request, sign-ins included, with an `internal`
 *   error (a sign-in whose connection ended at a restart before its answer is
 *   counted apart, as unanswered: the client made that reply up);
 * - the server logged no internal error and stopped cleanly on SIGTERM.
 * Times are wall-clock milliseconds (Date.now()) from processes on one
 * machine; every comparison is strict, so equal readings count as unknown.
 *
 * It prints a summary and exits non-zero on any violation. Everything is
 * bounded: the load stops after --seconds, each worker has a hard deadline,
 * and the coordinator kills what outlives it.
 */

import {
  ChatClient,
  decodeText,
  type Incoming,
  newClientId,
  type Reply,
  wasUnanswered,
} from "../../src/client/chat_client.ts";
import { DeliveryLedger } from "../../src/client/delivery.ts";
import { toBase64 } from "../../src/crypto/bytes.ts";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import { readPublicKeyFile } from "../../src/crypto/key_files.ts";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import { frameAead } from "../../src/crypto/native_aead.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import { MAX_HISTORY } from "../../src/protocol/limits.ts";
import { Rng } from "../_helpers/fuzz.ts";

// --- Shared records -------------------------------------------------------------

type Kind = "public" | "private" | "group";
/** "ok", "error:<code>", or "lost" (no reply before the connection went). */
type Outcome = string;

interface SendRecord {
  mid: string;
  from: string;
  seq: number;
  kind: Kind;
  /** The user (private) or group (group) it was for. */
  target: string | null;
  sid: string;
  sentAt: number;
  ackAt: number | null;
  outcome: Outcome;
  /**
   * How many times it was sent again, with the same cid, after a reply lost
   * with its connection (as the CLI does): its place among its sender's
   * messages is then unknown, and it must still arrive exactly once.
   */
  resent: number;
}

interface MembershipRecord {
  user: string;
  group: string;
  op: "join" | "leave";
  sentAt: number;
  ackAt: number | null;
  outcome: Outcome;
}

/** One connection's registration attempt and, if welcomed, its session. */
interface SessionRecord {
  sid: string;
  user: string;
  /** When the register request went out. */
  startAt: number;
  /** When the welcome arrived; null if it never did. */
  welcomeAt: number | null;
  /** Whether the proof was sent and no answer came (the server may have registered it). */
  ghost: boolean;
  /** Send time of the latest request whose reply arrived. */
  lastBarrier: number;
  /** When this side quit or dropped it, or noticed it was gone. */
  endAt: number | null;
  end: "quit" | "drop" | "lost" | "final" | null;
}

/**
 * [message id, "p" | "m" | "g", 1 if delivered as history, 1 if the client
 * marked it late: older than one already shown from its sender].
 */
type Receipt = [string, string, 0 | 1, 0 | 1];

interface WorkerResult {
  worker: number;
  sends: SendRecord[];
  memberships: MembershipRecord[];
  sessions: SessionRecord[];
  receipts: Record<string, Receipt[]>;
  anomalies: string[];
  counts: Record<string, number>;
}

interface WorkerConfig {
  worker: number;
  url: string;
  spki: string;
  names: string[];
  everyone: string[];
  groups: string[];
  startAt: number;
  stopAt: number;
  finalAt: number;
  deadline: number;
  seed: number;
  out: string;
}

const KIND_CODE: Record<Kind, string> = {
  public: "p",
  private: "m",
  group: "g",
};

// --- Worker: the clients ----------------------------------------------------------

const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Attempts that reach a server and fail (the handshake, or the sign-in
 * refused or unanswered) before a user counts as unable to register.
 * Attempts refused because no server listens do not count: that is a
 * restart, which on a loaded 2-core machine kept the port closed for more
 * than the 30 x 100-500 ms they once took, and the load's end bounds them
 * (a server that does not come back fails the soak by itself).
 */
const REGISTER_ATTEMPTS = 30;

/** "a x3, b x1": how often each distinct text occurs, most often first. */
function tally(texts: string[]): string {
  const counts = new Map<string, number>();
  for (const text of texts) counts.set(text, (counts.get(text) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])
    .map(([text, n]) => `${text} x${n}`).join(", ");
}

/** What one load process records. */
class Load {
  readonly sends: SendRecord[] = [];
  readonly memberships: MembershipRecord[] = [];
  readonly sessions: SessionRecord[] = [];
  readonly receipts: Record<string, Receipt[]> = {};
  readonly anomalies: string[] = [];
  readonly counts: Record<string, number> = {};

  constructor(readonly config: WorkerConfig) {}

  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  anomaly(text: string): void {
    if (this.anomalies.length < 1000) this.anomalies.push(text);
    this.count("anomalies");
  }
}

/** One simulated user: a name, an identity key, and a loop of actions. */
class User {
  readonly rng: Rng;
  identity!: Identity;
  client: ChatClient | null = null;
  session: SessionRecord | null = null;
  seq = 0;
  sessionCount = 0;
  /** What this user was shown, across its sessions, as a real client keeps it. */
  readonly ledger = new DeliveryLedger();
  /** Groups this user believes it is in; `uncertain` after a lost reply. */
  readonly member = new Set<string>();
  readonly uncertain = new Set<string>();
  /** Chat messages whose reply was lost, to send again at the next session. */
  readonly unanswered: { record: SendRecord; text: string; cid: string }[] = [];

  constructor(readonly w: Load, readonly name: string, seed: number) {
    this.rng = new Rng(seed);
  }

  now(): number {
    return Date.now();
  }

  /** A request whose reply also counts as a barrier for this session. */
  async request(
    make: (client: ChatClient) => Promise<Reply>,
  ): Promise<{ reply: Reply | null; sentAt: number; ackAt: number | null }> {
    const client = this.client;
    const session = this.session;
    if (client === null || session === null) {
      return { reply: null, sentAt: this.now(), ackAt: null };
    }
    const sentAt = this.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      make(client),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (reply === null) {
      this.w.anomaly(`${this.name}: no reply within ${REQUEST_TIMEOUT_MS} ms`);
      return { reply: null, sentAt, ackAt: null };
    }
    // A reply made up by the client for a dropped connection is no reply.
    if (wasUnanswered(reply)) return { reply: null, sentAt, ackAt: null };
    this.noteInternal(reply);
    const ackAt = this.now();
    if (session.lastBarrier < sentAt) session.lastBarrier = sentAt;
    return { reply, sentAt, ackAt };
  }

  /**
   * An `internal` error the server sent is a failure of the server (the
   * client's own "Not sent" replies, for a connection that ended first, are
   * told apart by wasUnanswered before this).
   */
  noteInternal(reply: Reply): void {
    if (reply.t === "error" && reply.code === "internal") {
      this.w.anomaly(`${this.name}: the server answered ${reply.text}`);
    }
  }

  onMessage(sid: string, { message, body, late }: Incoming): void {
    if (
      message.t !== "public" && message.t !== "private" && message.t !== "group"
    ) {
      return;
    }
    const text = decodeText(body);
    const match =
      /^S\|([A-Za-z0-9_.-]+):(\d+)\|(public|private|group)\|([^|]*)\|/
        .exec(text);
    if (match === null) {
      this.w.anomaly(
        `${sid}: unreadable body ${JSON.stringify(text.slice(0, 60))}`,
      );
      return;
    }
    const [, from, seq, kind, target] = match;
    const mid = `${from}:${seq}`;
    if (message.from !== from) {
      this.w.anomaly(`${sid}: ${mid} arrived as from ${message.from}`);
    }
    if (message.t !== kind) {
      this.w.anomaly(`${sid}: ${mid} (${kind}) arrived as ${message.t}`);
    }
    if (message.t === "group" && message.group !== target) {
      this.w.anomaly(
        `${sid}: ${mid} for ${target} arrived in ${message.group}`,
      );
    }
    (this.w.receipts[sid] ??= []).push([
      mid,
      KIND_CODE[kind as Kind],
      message.history === true ? 1 : 0,
      late ? 1 : 0,
    ]);
    if (late) this.w.count("marked late");
    this.w.count(message.history === true ? "history received" : "received");
  }

  /** Connects and registers, retrying while the old session lingers. */
  async connect(): Promise<boolean> {
    // Why each counted attempt failed, for the anomaly if none succeeds.
    const failures: string[] = [];
    let refused = 0;
    const since = this.now();
    while (failures.length < REGISTER_ATTEMPTS) {
      if (this.now() > this.w.config.stopAt) return false;
      let client: ChatClient;
      try {
        client = await ChatClient.connect(this.w.config.url, {
          pinnedSpki: fromBase64(this.w.config.spki),
          handshakeTimeoutMs: 10_000,
          smallFrames: frameAead,
          roomCrypto: nativeRoomCrypto,
        });
      } catch (error) {
        this.w.count("connect failures");
        if (await nobodyListens(this.w.config.url)) refused++;
        else failures.push(`connect: ${(error as Error).message}`);
        await sleep(100 + this.rng.int(400));
        continue;
      }
      const sid = `${this.name}#${++this.sessionCount}`;
      const session: SessionRecord = {
        sid,
        user: this.name,
        startAt: this.now(),
        welcomeAt: null,
        ghost: false,
        lastBarrier: 0,
        endAt: null,
        end: null,
      };
      this.w.sessions.push(session);
      // Listening before registering: history comes right after the welcome.
      client.onMessage((incoming) => this.onMessage(sid, incoming));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reply = await Promise.race([
        client.register(this.name, this.identity, this.ledger),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), REQUEST_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (reply?.t === "welcome") {
        session.welcomeAt = this.now();
        session.lastBarrier = session.startAt;
        this.client = client;
        this.session = session;
        client.ended.then(() => {
          if (this.session === session && session.endAt === null) {
            session.endAt = this.now();
            session.end = "lost";
            this.client = null;
            this.session = null;
            this.w.count("connections lost");
          }
        });
        this.w.count("sessions");
        await this.settleMemberships();
        await this.sendAgain();
        return true;
      }
      // Not registered: the previous session may still be online on the
      // server; or, unanswered, this one may be (the server may have
      // welcomed it as the connection ended: a restart).
      const unanswered = reply !== null && wasUnanswered(reply);
      session.ghost = reply === null || unanswered;
      session.endAt = this.now();
      session.end = "quit";
      failures.push(
        reply === null
          ? "register: no reply"
          : unanswered
          ? "register: unanswered"
          : `register: ${reply.t === "error" ? reply.code : reply.t}`,
      );
      if (unanswered) this.w.count("register unanswered");
      else if (reply?.t === "error") {
        this.w.count(`register ${reply.code}`);
        this.noteInternal(reply);
      }
      await client.quit();
      await sleep(100 + this.rng.int(400));
    }
    const took = seconds(this.now() - since);
    const from = seconds(since - this.w.config.startAt);
    this.w.anomaly(
      `${this.name}: could not register in ${REGISTER_ATTEMPTS} attempts ` +
        `(${tally(failures)}; and ${refused} refused, no server listening) ` +
        `in the ${took} s from ${from} s into the load`,
    );
    return false;
  }

  /**
   * Sends again, in order and with the same cids, the chat messages whose
   * replies were lost: a server that recognises retries stores each once.
   */
  async sendAgain(): Promise<void> {
    while (this.unanswered.length > 0 && this.client?.recognisesRetries) {
      const { record, text, cid } = this.unanswered[0]!;
      record.resent++;
      this.w.count("sent again after a lost reply");
      const { reply, ackAt } = await this.request((c) =>
        this.sendChat(c, record, text, cid)
      );
      if (reply === null) return;
      this.unanswered.shift();
      this.settle(record, reply, ackAt);
    }
  }

  sendChat(
    c: ChatClient,
    record: SendRecord,
    text: string,
    cid: string,
  ): Promise<Reply> {
    return record.kind === "public"
      ? c.say(text, cid)
      : record.kind === "private"
      ? c.msg(record.target!, text, cid)
      : c.gsay(record.target!, text, cid);
  }

  settle(record: SendRecord, reply: Reply, ackAt: number | null): void {
    record.ackAt = ackAt;
    record.outcome = reply.t === "ok"
      ? "ok"
      : `error:${reply.t === "error" ? reply.code : reply.t}`;
    this.w.count(`sent ${record.outcome}`);
  }

  /** After a lost reply, a join settles what the server thinks. */
  async settleMemberships(): Promise<void> {
    for (const group of [...this.uncertain]) {
      await this.membership("join", group);
    }
  }

  async membership(op: "join" | "leave", group: string): Promise<void> {
    const record: MembershipRecord = {
      user: this.name,
      group,
      op,
      sentAt: this.now(),
      ackAt: null,
      outcome: "lost",
    };
    this.w.memberships.push(record);
    const { reply, sentAt, ackAt } = await this.request((c) =>
      c.request({ t: op, group })
    );
    record.sentAt = sentAt;
    if (reply === null) {
      this.uncertain.add(group);
      this.member.delete(group);
      return;
    }
    record.ackAt = ackAt;
    record.outcome = reply.t === "ok"
      ? "ok"
      : `error:${reply.t === "error" ? reply.code : reply.t}`;
    this.uncertain.delete(group);
    const joined = op === "join" &&
      (record.outcome === "ok" || record.outcome === "error:already_member");
    const left = op === "leave" &&
      (record.outcome === "ok" || record.outcome === "error:not_member");
    if (joined) this.member.add(group);
    if (left) this.member.delete(group);
    this.w.count(`${op} ${record.outcome}`);
  }

  /** Sends one chat message; several at once when `burst` is more than 1. */
  async say(kind: Kind, target: string | null, burst: number): Promise<void> {
    const session = this.session;
    if (this.client === null || session === null) return;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < burst; i++) {
      const seq = ++this.seq;
      const mid = `${this.name}:${seq}`;
      const record: SendRecord = {
        mid,
        from: this.name,
        seq,
        kind,
        target,
        sid: session.sid,
        sentAt: this.now(),
        ackAt: null,
        outcome: "lost",
        resent: 0,
      };
      this.w.sends.push(record);
      const text = `S|${mid}|${kind}|${target ?? ""}|` +
        "x".repeat(this.rng.int(120));
      const cid = newClientId();
      sends.push(
        this.request((c) => this.sendChat(c, record, text, cid)).then(
          ({ reply, sentAt, ackAt }) => {
            record.sentAt = sentAt;
            if (reply !== null) this.settle(record, reply, ackAt);
            else this.unanswered.push({ record, text, cid });
          },
        ),
      );
    }
    await Promise.all(sends);
  }

  async leaveServer(how: "quit" | "drop" | "final"): Promise<void> {
    const client = this.client;
    const session = this.session;
    if (client === null || session === null) return;
    // A last barrier, so what arrived until now counts.
    await this.request((c) => c.request({ t: "ping" }));
    this.client = null;
    this.session = null;
    session.endAt = this.now();
    session.end = how;
    if (how === "drop") client.abort();
    else await client.quit();
    await client.ended;
  }

  async run(): Promise<void> {
    const { startAt, stopAt, finalAt, groups, everyone } = this.w.config;
    this.identity = await importIdentityPem(
      (await generateIdentity()).privatePem,
    );
    // Spread the first connections over a few seconds.
    await sleepUntil(startAt + this.rng.int(4000));
    if (!await this.connect()) return;
    for (const group of groups) {
      if (this.rng.chance(0.3)) await this.membership("join", group);
    }
    while (this.now() < stopAt) {
      await sleep(300 + this.rng.int(1400));
      if (this.now() >= stopAt) break;
      if (this.client === null) {
        if (!await this.connect()) continue;
      }
      const roll = this.rng.float();
      const burst = this.rng.chance(0.1) ? this.rng.range(2, 4) : 1;
      const member = [...this.member];
      if (roll < 0.12) {
        await this.say("public", null, burst);
      } else if (roll < 0.5) {
        const to = this.rng.pick(everyone);
        if (to !== this.name) await this.say("private", to, burst);
      } else if (roll < 0.8) {
        if (member.length > 0) {
          await this.say("group", this.rng.pick(member), burst);
        } else {
          await this.membership("join", this.rng.pick(groups));
        }
      } else if (roll < 0.88) {
        const others = groups.filter((g) => !this.member.has(g));
        if (others.length > 0) {
          await this.membership("join", this.rng.pick(others));
        }
      } else if (roll < 0.93) {
        if (member.length > 0) {
          await this.membership("leave", this.rng.pick(member));
        }
      } else if (roll < 0.95) {
        await this.request((c) =>
          c.request(this.rng.chance(0.5) ? { t: "list" } : { t: "members" })
        );
      } else {
        // Away for a moment: cleanly or by dropping the socket.
        const how = this.rng.chance(0.6) ? "quit" : "drop";
        await this.leaveServer(how);
        this.w.count(`reconnect after ${how}`);
        // Mostly a moment; sometimes long enough to miss messages.
        await sleep(
          this.rng.chance(0.4) ? 4000 + this.rng.int(4000) : this.rng.int(1500),
        );
      }
    }
    // Everyone has stopped sending by finalAt: one last barrier, then quit.
    await sleepUntil(finalAt + this.rng.int(500));
    await this.leaveServer("final");
  }
}

async function runWorker(configPath: string): Promise<void> {
  const config: WorkerConfig = JSON.parse(await Deno.readTextFile(configPath));
  const worker = new Load(config);
  const users = config.names.map((name, i) =>
    new User(worker, name, config.seed * 1000 + config.worker * 100_000 + i)
  );
  const progress = setInterval(() => {
    console.log(
      `worker ${config.worker}: ${worker.counts["sent ok"] ?? 0} sent, ${
        worker.counts["received"] ?? 0
      } received, ${worker.counts["sessions"] ?? 0} sessions`,
    );
  }, 10_000);
  const hardStop = setTimeout(() => {
    console.error(`worker ${config.worker}: hard deadline passed`);
    Deno.exit(3);
  }, config.deadline - Date.now());
  try {
    await Promise.all(users.map((user) =>
      user.run().catch((error) => {
        worker.anomaly(`${user.name}: crashed: ${error?.stack ?? error}`);
      })
    ));
  } finally {
    clearInterval(progress);
    clearTimeout(hardStop);
  }
  const result: WorkerResult = {
    worker: config.worker,
    sends: worker.sends,
    memberships: worker.memberships,
    sessions: worker.sessions,
    receipts: worker.receipts,
    anomalies: worker.anomalies,
    counts: worker.counts,
  };
  await Deno.writeTextFile(config.out, JSON.stringify(result));
}

// --- The checks -----------------------------------------------------------------------

/** How long after a client hung up the server may still count it online. */
const OFFLINE_GRACE_MS = 3000;

interface Report {
  violations: string[];
  stats: Record<string, number>;
}

type MemberState = "member" | "out" | "unknown";

/** A user's membership of one group over time, from their own requests. */
class MembershipTimeline {
  readonly ops: MembershipRecord[] = [];

  /** The state after each op; before any op, "out". */
  #states: MemberState[] | null = null;

  states(): MemberState[] {
    if (this.#states !== null) return this.#states;
    const states: MemberState[] = [];
    let state: MemberState = "out";
    for (const op of this.ops) {
      if (op.outcome === "lost") state = "unknown";
      else if (
        op.op === "join" &&
        (op.outcome === "ok" || op.outcome === "error:already_member")
      ) state = "member";
      else if (
        op.op === "leave" &&
        (op.outcome === "ok" || op.outcome === "error:not_member")
      ) state = "out";
      // Any other refusal changes nothing.
      states.push(state);
    }
    return (this.#states = states);
  }

  /** The state the server surely had throughout [from, to], or "unknown". */
  during(from: number, to: number): MemberState {
    const states = this.states();
    let last = -1;
    for (let i = 0; i < this.ops.length; i++) {
      if (this.ops[i]!.sentAt < to) last = i;
    }
    if (last < 0) return "out";
    const op = this.ops[last]!;
    // The last op that could matter finished before the window opened.
    if (op.ackAt === null || !(op.ackAt < from)) return "unknown";
    return states[last]!;
  }
}

function check(results: WorkerResult[]): Report {
  const violations: string[] = [];
  const stats: Record<string, number> = {};
  const stat = (what: string, n = 1) => (stats[what] = (stats[what] ?? 0) + n);
  const violate = (text: string) => {
    stat("violations");
    if (violations.length < 50) violations.push(text);
  };

  const sends = new Map<string, SendRecord>();
  const sessionsOf = new Map<string, SessionRecord[]>();
  const sessions = new Map<string, SessionRecord>();
  const timelines = new Map<string, MembershipTimeline>();
  const receipts = new Map<string, Map<string, number>>();
  const users = new Set<string>();

  for (const result of results) {
    for (const anomaly of result.anomalies) {
      violate(`worker ${result.worker}: ${anomaly}`);
    }
    for (const [what, n] of Object.entries(result.counts)) stat(what, n);
    for (const send of result.sends) sends.set(send.mid, send);
    for (const session of result.sessions) {
      sessions.set(session.sid, session);
      users.add(session.user);
      const list = sessionsOf.get(session.user) ?? [];
      list.push(session);
      sessionsOf.set(session.user, list);
    }
    for (const op of result.memberships) {
      const key = `${op.user}/${op.group}`;
      const timeline = timelines.get(key) ?? new MembershipTimeline();
      timeline.ops.push(op);
      timelines.set(key, timeline);
    }
  }
  for (const list of sessionsOf.values()) {
    list.sort((a, b) => a.startAt - b.startAt);
  }
  for (const timeline of timelines.values()) {
    timeline.ops.sort((a, b) => a.sentAt - b.sentAt);
  }
  const membership = (user: string, group: string, from: number, to: number) =>
    timelines.get(`${user}/${group}`)?.during(from, to) ?? "out";

  // Receipts: integrity, order, duplicates, leaks.
  const seenByUser = new Map<string, Set<string>>();
  const historyCount = new Map<string, number>();
  for (const result of results) {
    for (const [sid, list] of Object.entries(result.receipts)) {
      const session = sessions.get(sid);
      if (session === undefined) {
        violate(`receipts for unknown session ${sid}`);
        continue;
      }
      const counts = new Map<string, number>();
      receipts.set(sid, counts);
      const lastSeq = new Map<string, number>();
      const seen = seenByUser.get(session.user) ?? new Set<string>();
      seenByUser.set(session.user, seen);
      for (const [mid, kindCode, history, late] of list) {
        stat(history ? "history deliveries" : "live deliveries");
        if (history) {
          historyCount.set(sid, (historyCount.get(sid) ?? 0) + 1);
        }
        counts.set(mid, (counts.get(mid) ?? 0) + 1);
        if (seen.has(mid)) violate(`${session.user} got ${mid} twice (${sid})`);
        seen.add(mid);
        const send = sends.get(mid);
        if (send === undefined) {
          violate(`${sid} got ${mid}, which nobody sent`);
          continue;
        }
        if (KIND_CODE[send.kind] !== kindCode) {
          violate(`${sid} got ${mid} (${send.kind}) as another kind`);
        }
        const previous = lastSeq.get(send.from) ?? 0;
        // One the client marked late is shown as history, where it belongs.
        // One sent again after a lost reply has no known place in its
        // sender's order (the first try may or may not have been stored).
        if (late) {
          if (!history) violate(`${sid} got ${mid} late, not as history`);
        } else if (send.resent > 0) {
          stat("resent messages received");
        } else {
          if (send.seq <= previous) {
            violate(
              `${sid} got ${mid} after ${send.from}:${previous}: out of order`,
            );
          }
          lastSeq.set(send.from, send.seq);
        }
        if (send.outcome.startsWith("error:")) {
          violate(`${sid} got ${mid}, which was refused (${send.outcome})`);
        }
        if (send.from === session.user) violate(`${sid} got its own ${mid}`);
        if (send.kind === "public" && history && !late) {
          violate(`${sid} got public ${mid} as history at sign-in`);
        }
        if (send.kind === "private" && send.target !== session.user) {
          violate(`${sid} got ${mid}, a private message for ${send.target}`);
        }
        if (
          send.kind === "group" &&
          membership(
              session.user,
              send.target!,
              send.sentAt,
              send.ackAt ?? Infinity,
            ) === "out"
        ) {
          violate(`${sid} got ${mid} of ${send.target}, not being a member`);
        }
      }
    }
  }

  // Entitlement: every acknowledged message, every session it was owed to.
  const allSessions = [...sessions.values()].filter((s) =>
    s.welcomeAt !== null
  );
  const online = (s: SessionRecord, from: number, to: number) =>
    s.welcomeAt !== null && s.welcomeAt < from && s.lastBarrier > to;
  const surelyOffline = (user: string, from: number, to: number) =>
    (sessionsOf.get(user) ?? []).every((s) =>
      s.startAt > to ||
      (s.endAt !== null && s.endAt + OFFLINE_GRACE_MS < from)
    );
  const pendingExpected = new Map<string, number>();
  const offlineChecks: { send: SendRecord; user: string }[] = [];
  const expect = (send: SendRecord, session: SessionRecord, how: string) => {
    const got = receipts.get(session.sid)?.get(send.mid) ?? 0;
    stat(`entitled ${how}`);
    if (got !== 1) {
      violate(
        `${session.sid} got ${send.mid} (${send.kind}${
          send.target ? ` ${send.target}` : ""
        }, acked ${send.ackAt}) ${got} times, owed once ${how}${
          how === "as history"
            ? ` (${historyCount.get(session.sid) ?? 0} arrived at sign-in)`
            : ""
        }`,
      );
    }
  };

  for (const send of sends.values()) {
    stat(`sent ${send.kind}`);
    if (send.outcome !== "ok" || send.ackAt === null) continue;
    const { sentAt, ackAt } = send;
    switch (send.kind) {
      case "public":
        for (const session of allSessions) {
          if (session.user === send.from) continue;
          if (online(session, sentAt, ackAt)) expect(send, session, "live");
        }
        break;
      case "private": {
        const user = send.target!;
        for (const session of sessionsOf.get(user) ?? []) {
          if (online(session, sentAt, ackAt)) expect(send, session, "live");
        }
        if (surelyOffline(user, sentAt, ackAt)) {
          offlineChecks.push({ send, user });
        }
        break;
      }
      case "group":
        for (const user of users) {
          if (user === send.from) continue;
          if (membership(user, send.target!, sentAt, ackAt) !== "member") {
            continue;
          }
          for (const session of sessionsOf.get(user) ?? []) {
            if (online(session, sentAt, ackAt)) expect(send, session, "live");
          }
          if (surelyOffline(user, sentAt, ackAt)) {
            offlineChecks.push({ send, user });
          }
        }
        break;
    }
  }

  // Missed while offline: owed as history to the next session that signed in.
  const owed: { send: SendRecord; session: SessionRecord }[] = [];
  for (const { send, user } of offlineChecks) {
    // The next sign-in: refused attempts register nothing and do not count.
    const next = (sessionsOf.get(user) ?? []).find((s) =>
      s.startAt > send.ackAt! && (s.welcomeAt !== null || s.ghost)
    );
    if (next === undefined) {
      stat("offline, never back");
      continue;
    }
    // A registration whose answer was lost may have taken the history.
    if (next.welcomeAt === null) continue;
    if (!(next.lastBarrier > next.welcomeAt)) continue;
    owed.push({ send, session: next });
    pendingExpected.set(next.sid, (pendingExpected.get(next.sid) ?? 0) + 1);
  }
  for (const { send, session } of owed) {
    // Sign-in delivers at most MAX_HISTORY missed messages; the rest wait for
    // the next one. Only a session that got fewer must have got them all.
    const history = historyCount.get(session.sid) ?? 0;
    if (
      history >= MAX_HISTORY ||
      (pendingExpected.get(session.sid) ?? 0) > MAX_HISTORY
    ) {
      stat("offline, over the sign-in cap");
      continue;
    }
    expect(send, session, "as history");
  }

  stat("users", users.size);
  stat("welcomed sessions", allSessions.length);
  return { violations, stats };
}

// --- Coordinator --------------------------------------------------------------------

interface Options {
  seconds: number;
  clients: number;
  workers: number;
  seed: number;
  memory: boolean;
  /** Restart the server in the middle (SIGTERM, then SIGKILL). */
  restart: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    seconds: 60,
    clients: 240,
    workers: 3,
    seed: Date.now() % 1_000_000,
    memory: false,
    restart: true,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const next = args[++i];
      const n = Number(next);
      if (next === undefined || !Number.isInteger(n) || n < 0) {
        throw new Error(`${arg} needs a whole number`);
      }
      return n;
    };
    if (arg === "--seconds") options.seconds = Math.max(5, value());
    else if (arg === "--clients") options.clients = Math.max(2, value());
    else if (arg === "--workers") options.workers = Math.max(1, value());
    else if (arg === "--seed") options.seed = value();
    else if (arg === "--memory") options.memory = true;
    else if (arg === "--no-restart") options.restart = false;
    else throw new Error(`Unknown option ${arg}`);
  }
  options.workers = Math.min(options.workers, options.clients);
  // A server without a disk forgets everything when it stops.
  if (options.memory) options.restart = false;
  return options;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMISSIONS, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Collects a process's output into lines; `onLine` sees each as it comes. */
function collect(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  return (async () => {
    let pending = "";
    // A TextDecoder rather than a TextDecoderStream: with the DOM lib in the
    // same deno check (src/web/), pipeThrough(TextDecoderStream) mistypes.
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      pending += decoder.decode(bytes, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) onLine(line);
    }
    if (pending !== "") onLine(pending);
  })();
}

/**
 * Whether nothing listens on `url`'s port right now (the server is being
 * restarted): asked with a bare TCP connection, whose error says so by its
 * type, where the WebSocket's failure says only "tcp connect error".
 */
async function nobodyListens(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  try {
    (await Deno.connect({ hostname, port: Number(port) })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function sleepUntil(at: number): Promise<void> {
  return sleep(at - Date.now());
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function coordinate(options: Options): Promise<number> {
  const started = Date.now();
  const dir = await Deno.makeTempDir({ prefix: "chat-soak-" });
  const problems: string[] = [];
  const restarted: string[] = [];
  let server: Deno.ChildProcess | null = null;
  const serverLines: string[] = [];
  let serverOutput: Promise<unknown> = Promise.resolve();
  try {
    console.log(
      `soak: ${options.seconds} s, ${options.clients} clients in ${options.workers} worker processes, seed ${options.seed}, store ${
        options.memory ? ":memory:" : "on disk"
      }`,
    );
    const keygen = spawn([
      MAIN,
      "keygen",
      "--bits",
      "2048",
      "--out",
      `${dir}/keys`,
    ]);
    const keygenOut = await keygen.output();
    if (!keygenOut.success) {
      throw new Error(
        `keygen failed: ${new TextDecoder().decode(keygenOut.stderr)}`,
      );
    }
    const { spki } = await readPublicKeyFile(`${dir}/keys/public.pem`);

    /** Starts the server (again, on the same port and data, for a restart). */
    const startServer = async (port: number): Promise<number> => {
      const child = spawn([
        MAIN,
        "serve",
        "--key",
        `${dir}/keys/private.pem`,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--data",
        options.memory ? ":memory:" : `${dir}/data`,
        "--max-per-address",
        String(options.clients * 2 + 100),
        "--max-connections",
        String(options.clients * 4 + 100),
        // Every client (and every reconnect) comes from 127.0.0.1.
        "--handshake-rate",
        "0",
        "--max-unfinished",
        "0",
        "--max-unfinished-per-address",
        "0",
        // Nor by what all the connections of one address send and have
        // queued together.
        "--rate-per-address",
        "0",
        "--max-backlog-per-address-mb",
        "0",
      ]);
      server = child;
      let announce!: (port: number) => void;
      const listening = new Promise<number>((resolve) => (announce = resolve));
      const output = Promise.all([
        collect(child.stdout, (line) => {
          serverLines.push(line);
          const match = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(line);
          if (match) announce(Number(match[1]));
        }),
        collect(child.stderr, (line) => serverLines.push(`stderr: ${line}`)),
      ]);
      serverOutput = Promise.all([serverOutput, output]);
      // Loading main.ts took 12 s on a 2-core machine at load 12: a bound
      // for a server that does not start at all, not a speed check.
      const started = await withTimeout(listening, 60_000);
      if (started === "timeout") {
        throw new Error(`the server did not start:\n${serverLines.join("\n")}`);
      }
      return started;
    };
    const port = await startServer(0);
    const url = `ws://127.0.0.1:${port}`;

    // The groups, made by a user who then leaves (and stays a member).
    const groupCount = Math.max(4, Math.round(options.clients / 30));
    const groups = Array.from({ length: groupCount }, (_, i) => `g${i}`);
    const admin = await ChatClient.connect(url, {
      pinnedSpki: spki,
      smallFrames: frameAead,
      roomCrypto: nativeRoomCrypto,
    });
    const welcome = await admin.register("soakadmin");
    if (welcome.t !== "welcome") {
      throw new Error(`admin: ${JSON.stringify(welcome)}`);
    }
    for (const group of groups) {
      const reply = await admin.request({ t: "create", group });
      if (reply.t !== "ok") {
        throw new Error(`create ${group}: ${JSON.stringify(reply)}`);
      }
    }
    await admin.quit();

    const everyone = Array.from(
      { length: options.clients },
      (_, i) => `w${i % options.workers}u${Math.floor(i / options.workers)}`,
    );
    const startAt = Date.now() + 3000;
    const stopAt = startAt + options.seconds * 1000;
    const finalAt = stopAt + 4000;
    const deadline = finalAt + 40_000;
    const workers = Array.from({ length: options.workers }, (_, worker) => {
      const config: WorkerConfig = {
        worker,
        url,
        spki: toBase64(spki),
        names: everyone.filter((name) => name.startsWith(`w${worker}u`)),
        everyone,
        groups,
        startAt,
        stopAt,
        finalAt,
        deadline,
        seed: options.seed,
        out: `${dir}/worker-${worker}.json`,
      };
      const configPath = `${dir}/worker-${worker}-config.json`;
      Deno.writeTextFileSync(configPath, JSON.stringify(config));
      const child = spawn([SELF, "--worker", configPath]);
      const output = Promise.all([
        collect(child.stdout, (line) => console.log(`  ${line}`)),
        collect(
          child.stderr,
          (line) => console.log(`  worker ${worker} stderr: ${line}`),
        ),
      ]);
      return { worker, child, output, config };
    });

    // The server restarts in the middle, once stopped with SIGTERM and once
    // killed with SIGKILL: what it acknowledged must still arrive, once.
    const restarts = (async () => {
      if (!options.restart) return;
      for (
        const [at, signal] of [
          [startAt + options.seconds * 350, "SIGTERM"],
          [startAt + options.seconds * 700, "SIGKILL"],
        ] as const
      ) {
        await sleepUntil(at);
        const old = server!;
        const down = Date.now();
        old.kill(signal);
        const status = await withTimeout(old.status, 10_000);
        if (status === "timeout") {
          problems.push(`the server did not stop within 10 s of ${signal}`);
          old.kill("SIGKILL");
          await old.status;
        } else if (signal === "SIGTERM" && !status.success) {
          problems.push(`the server exited with ${status.code} on SIGTERM`);
        }
        serverLines.push(`soak: server stopped with ${signal}, restarting`);
        const stopped = Date.now();
        await startServer(port);
        // How long the port was closed: clients retry meanwhile.
        restarted.push(
          `${signal} (stopped in ${seconds(stopped - down)} s, listening ${
            seconds(Date.now() - stopped)
          } s later)`,
        );
      }
    })();

    const results: WorkerResult[] = [];
    for (const { worker, child, output, config } of workers) {
      const status = await withTimeout(
        child.status,
        deadline + 10_000 - Date.now(),
      );
      if (status === "timeout") {
        problems.push(`worker ${worker} did not finish in time`);
        child.kill("SIGKILL");
        await child.status;
      } else if (!status.success) {
        problems.push(`worker ${worker} exited with ${status.code}`);
      }
      await output;
      try {
        results.push(JSON.parse(await Deno.readTextFile(config.out)));
      } catch (error) {
        problems.push(`worker ${worker} left no results: ${error}`);
      }
    }

    await restarts;
    const checkStarted = Date.now();
    const report = check(results);
    const checkMs = Date.now() - checkStarted;

    // The server: still up, no internal errors, and a clean stop.
    const internal = serverLines.filter((l) =>
      /internal error|store failed|request failed|could not encode|stderr:/
        .test(l)
    );
    for (const line of internal.slice(0, 10)) problems.push(`server: ${line}`);
    const last = server!;
    last.kill("SIGTERM");
    const stopped = await withTimeout(last.status, 10_000);
    if (stopped === "timeout") {
      problems.push("the server did not stop within 10 s of SIGTERM");
      last.kill("SIGKILL");
      await last.status;
    } else if (!stopped.success) {
      problems.push(`the server exited with ${stopped.code}`);
    }
    await serverOutput;
    server = null;

    const s = report.stats;
    const n = (what: string) => s[what] ?? 0;
    const refused = Object.entries(s)
      .filter(([k]) => k.startsWith("sent error:"))
      .map(([k, v]) => `${k.slice("sent error:".length)} ${v}`);
    console.log("");
    console.log("soak summary");
    console.log(
      `  users ${n("users")}, sessions ${n("welcomed sessions")} (reconnects: ${
        n("reconnect after quit")
      } after quit, ${n("reconnect after drop")} after a dropped socket; ${
        n("connections lost")
      } lost; register refusals ${
        Object.entries(s).filter(([k]) =>
          k.startsWith("register ") && k !== "register unanswered"
        ).map((
          [k, v],
        ) => `${k.slice(9)} ${v}`).join(", ") || "none"
      }; unanswered ${n("register unanswered")}, their connection ended first)`,
    );
    console.log(
      `  messages sent ${
        n("sent public") + n("sent private") + n("sent group")
      } (public ${n("sent public")}, private ${n("sent private")}, group ${
        n("sent group")
      }); acknowledged ${n("sent ok")}; refused ${
        refused.join(", ") || "none"
      }; sent again with their cids after a lost reply ${
        n("sent again after a lost reply")
      } (${n("resent messages received")} deliveries of them)`,
    );
    console.log(
      `  joins ${n("join ok")}, leaves ${n("leave ok")}; deliveries ${
        n("live deliveries")
      } live, ${n("history deliveries")} as history (${
        n("marked late")
      } marked late by the client)`,
    );
    console.log(
      `  checked: ${n("entitled live")} live deliveries owed, ${
        n("entitled as history")
      } owed as history (${
        n("offline, over the sign-in cap")
      } not checked: past the sign-in cap); ${
        n("violations")
      } violations (checked in ${checkMs} ms)`,
    );
    console.log(
      `  server: ${serverLines.length} log lines, restarted ${
        restarted.length === 0 ? "never" : `after ${restarted.join(", ")}`
      }, stopped ${
        stopped === "timeout" ? "by force" : `with code ${stopped.code}`
      }; total ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    for (const problem of problems) console.log(`PROBLEM: ${problem}`);
    for (const violation of report.violations) {
      console.log(`VIOLATION: ${violation}`);
    }
    if (n("entitled live") === 0) problems.push("nothing was checked");
    const failed = problems.length > 0 || report.violations.length > 0;
    console.log(failed ? "soak: FAILED" : "soak: OK");
    return failed ? 1 : 0;
  } finally {
    if (server !== null) {
      server.kill("SIGKILL");
      await server.status;
      await serverOutput.catch(() => {});
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--worker") {
    await runWorker(Deno.args[1]!);
  } else {
    let code: number;
    try {
      code = await coordinate(parseArgs(Deno.args));
    } catch (error) {
      console.error(`soak: ${error instanceof Error ? error.message : error}`);
      code = 2;
    }
    Deno.exit(code);
  }
}
