/**
 * Users of the chaos tests (tests/e2e/chaos_test.ts): each a real
 * `chat connect --json` process, restarted as the test likes, sending
 * numbered lines and recording every event it was given; and the check of
 * what everyone was told against what everyone was shown (docs/PROTOCOL.md,
 * "Delivery", "Sending once").
 */

import { ChatProcess } from "./process.ts";
import { WAIT_MS } from "./patience.ts";

export type Kind = "public" | "private" | "group";

/** One line a user sent, and what its client said of it. */
export interface Line {
  readonly sender: string;
  readonly n: number;
  readonly kind: Kind;
  /** The recipient of a private line. */
  readonly to?: string;
  readonly text: string;
  /**
   * `sent`: a `sent` event; `failed`: an `error` event; `unknown`: the
   * client was killed before either; `pending`: neither yet.
   */
  outcome: "pending" | "sent" | "failed" | "unknown";
  /** The `error` event, for a failed line. */
  error?: string;
}

/** A chat message one user's client showed (a `message` event). */
export interface Shown {
  readonly kind: Kind;
  readonly from: string;
  readonly text: string;
  readonly history: boolean;
  /** Which of the user's processes showed it (0, 1, ...). */
  readonly process: number;
}

/** Wakes whoever waits for something a process wrote. */
export class Changes {
  #waiting: (() => void)[] = [];

  changed(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }

  /** Resolves when `check` holds; throws naming `what` after `ms`. */
  async until(check: () => boolean, what: () => string, ms: number) {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        // Also woken by what is not output: a process that ended.
        timer = setTimeout(resolve, Math.min(left, 200));
      });
      clearTimeout(timer);
    }
  }
}

export interface MemberOptions {
  readonly name: string;
  /** `host:port[,host:port]`, as given to `chat connect`. */
  readonly addresses: string;
  readonly publicKey: string;
  readonly configHome: string;
  readonly changes: Changes;
}

/** A user, through its `chat connect --json` processes, one at a time. */
export class Member {
  readonly name: string;
  readonly shown: Shown[] = [];
  readonly lines: Line[] = [];
  /** Lines sent by the running process and not answered yet, by id. */
  readonly #pending = new Map<string, Line>();
  readonly #options: MemberOptions;
  #process: ChatProcess | null = null;
  #processes = 0;
  /** How each process ended: "quit" or "kill". */
  readonly ends: ("quit" | "kill")[] = [];
  #next = 0;
  /**
   * When the last `sent` or `error` answer came (Date.now()), 0 before any:
   * a wait for answers that times out says whether they still came (a slow
   * machine) or had stopped (a line lost).
   */
  lastAnswer = 0;
  /** While set, `send` sends nothing: the process is about to end. */
  #holding = false;
  /** Everything each process wrote to stdout and stderr, for a failure. */
  readonly transcript: string[] = [];

  constructor(options: MemberOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get running(): boolean {
    return this.#process !== null;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Starts a process and waits for its welcome. */
  async start(): Promise<void> {
    const process = this.#processes++;
    let rest = "";
    const chat = new ChatProcess([
      "connect",
      this.#options.addresses,
      "--pub",
      this.#options.publicKey,
      "--user",
      this.name,
      "--json",
    ], {
      env: { XDG_CONFIG_HOME: this.#options.configHome },
      onStdout: (text) => {
        const lines = (rest + text).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line.startsWith("{")) this.#event(JSON.parse(line), process);
        }
        this.#options.changes.changed();
      },
    });
    this.#process = chat;
    await chat.waitFor(/"type":"welcome"/, 30_000);
  }

  /** Sends `line` (numbered by this member); false when no process runs. */
  async send(kind: Kind, group: string, to?: string): Promise<void> {
    const chat = this.#process;
    if (chat === null || this.#holding) return;
    const n = ++this.#next;
    const text = `${this.name}#${n} ${kind}`;
    const line: Line = { sender: this.name, n, kind, text, outcome: "pending" };
    if (to !== undefined) Object.assign(line, { to });
    this.lines.push(line);
    const id = `${this.name}-${n}`;
    this.#pending.set(id, line);
    const command = kind === "public"
      ? { cmd: "send", text }
      : kind === "private"
      ? { cmd: "msg", to, text }
      : { cmd: "group", group, text };
    try {
      await chat.write(`${JSON.stringify({ ...command, id })}\n`);
    } catch {
      // The process is gone: killed meanwhile, the line is unknown.
    }
  }

  /** Runs a command and waits for its answer (`ok` or `error`). */
  async ask(
    command: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const chat = this.#process!;
    const id = `ask-${this.name}-${++this.#next}`;
    await chat.write(`${JSON.stringify({ ...command, id })}\n`);
    const [line] = await chat.waitFor(
      new RegExp(`^\\{"type":"[a-z_]+","re":"${id}".*$`, "m"),
      WAIT_MS,
    );
    return JSON.parse(line!);
  }

  /** kill -9: what was not answered is unknown. */
  async kill(): Promise<void> {
    const chat = this.#process;
    if (chat === null) return;
    this.#process = null;
    chat.kill("SIGKILL");
    await chat.finish();
    this.#ended(chat, "kill");
  }

  /** `quit`, once every line it sent was answered. */
  async quit(ms = 30_000): Promise<void> {
    const chat = this.#process;
    if (chat === null) return;
    this.#holding = true;
    try {
      await this.#options.changes.until(
        () => this.#pending.size === 0,
        () =>
          `${this.name}'s answers before quitting (${
            [...this.#pending.values()].map((line) =>
              `${line.text}${line.to === undefined ? "" : ` to ${line.to}`}`
            ).join(", ")
          })`,
        ms,
      );
    } finally {
      this.#holding = false;
    }
    this.#process = null;
    await chat.write('{"cmd":"quit"}\n').catch(() => {});
    await chat.finish();
    this.#ended(chat, "quit");
  }

  #ended(chat: ChatProcess, how: "quit" | "kill"): void {
    for (const line of this.#pending.values()) line.outcome = "unknown";
    this.#pending.clear();
    this.ends.push(how);
    this.transcript.push(
      `--- ${this.name} process ${
        this.ends.length - 1
      } (${how})\n${chat.stdout}${chat.stderr}`,
    );
  }

  #event(event: Record<string, unknown>, process: number): void {
    if (event.type === "message") {
      if (event.from === this.name) return;
      this.shown.push({
        kind: event.kind as Kind,
        from: String(event.from),
        text: String(event.text),
        history: event.history === true,
        process,
      });
      return;
    }
    const re = typeof event.re === "string" ? event.re : undefined;
    const line = re === undefined ? undefined : this.#pending.get(re);
    if (line === undefined) return;
    if (event.type === "sent" || event.type === "error") {
      this.lastAnswer = Date.now();
    }
    if (event.type === "sent") {
      line.outcome = "sent";
      this.#pending.delete(re!);
    } else if (event.type === "error") {
      line.outcome = "failed";
      line.error = JSON.stringify(event);
      this.#pending.delete(re!);
    }
  }
}

/** Whether `line` is for `member` to be shown. */
function isFor(line: Line, member: string): boolean {
  return line.sender !== member &&
    (line.kind !== "private" || line.to === member);
}

/**
 * The sent lines not yet shown to their recipients, as "recipient: text";
 * public lines only to `complete` members (those that ran all along).
 */
export function missing(
  members: readonly Member[],
  complete: ReadonlySet<string>,
): string[] {
  const all = members.flatMap((member) => member.lines);
  const out: string[] = [];
  for (const member of members) {
    const texts = new Set(member.shown.map((shown) => shown.text));
    for (const line of all) {
      if (line.outcome !== "sent" || !isFor(line, member.name)) continue;
      if (line.kind === "public" && !complete.has(member.name)) continue;
      if (!texts.has(line.text)) out.push(`${member.name}: ${line.text}`);
    }
  }
  return out;
}

/**
 * What breaks the promise (nothing lost, nothing twice, the sender's order
 * per conversation, nothing that was not sent, a failure said is a line not
 * sent), one sentence each. A private or group line may be shown again, as
 * history, by a process after one killed with kill -9 (docs/PROTOCOL.md, "A
 * new client process").
 */
export function violations(
  members: readonly Member[],
  complete: ReadonlySet<string>,
): string[] {
  const lines = new Map<string, Line>();
  for (const member of members) {
    for (const line of member.lines) lines.set(line.text, line);
  }
  const out: string[] = [];
  for (const line of lines.values()) {
    if (line.outcome === "pending") {
      out.push(`${line.sender} was never answered for ${line.text}`);
    }
  }
  for (const member of members) {
    const copies = new Map<string, Shown[]>();
    /** The last number shown per sender and conversation. */
    const last = new Map<string, number>();
    for (const shown of member.shown) {
      const line = lines.get(shown.text);
      if (
        line === undefined || line.sender !== shown.from ||
        line.kind !== shown.kind || !isFor(line, member.name)
      ) {
        out.push(
          `${member.name} was shown ${JSON.stringify(shown)}, never sent`,
        );
        continue;
      }
      const earlier = copies.get(shown.text) ?? [];
      copies.set(shown.text, [...earlier, shown]);
      if (earlier.length > 0) {
        const first = earlier[0]!;
        const killed = member.ends.slice(first.process, shown.process)
          .includes("kill");
        const again = line.kind !== "public" && shown.history &&
          shown.process > first.process && killed;
        if (!again) {
          out.push(
            `${member.name} was shown ${line.text} ${
              earlier.length + 1
            } times (${JSON.stringify([...earlier, shown])})`,
          );
        }
        continue;
      }
      const conversation = `${line.sender} ${line.kind}`;
      const before = last.get(conversation) ?? 0;
      if (line.n < before) {
        out.push(
          `${member.name} was shown ${line.text} after ${line.sender}#${before} ${line.kind}`,
        );
      }
      last.set(conversation, Math.max(before, line.n));
      if (line.outcome === "failed") {
        out.push(
          `${member.name} was shown ${line.text}, which ${line.sender} was told failed: ${line.error}`,
        );
      }
    }
  }
  for (const gap of missing(members, complete)) out.push(`lost: ${gap}`);
  return out;
}
