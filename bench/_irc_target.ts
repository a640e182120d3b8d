/**
 * An IRC server (ngircd) as a bench target, over raw TCP: NICK/USER, OPER and
 * user mode +F (ngircd's "relaxed flood protection"), JOIN, PRIVMSG to a
 * channel, a group channel or a nick.
 *
 * IRC does not answer PRIVMSG, so a sender learns what the server has
 * processed by ending each write with `PING :b<n>`: the PONG comes back once
 * everything before it was handled. (ngircd reads at most 2 KiB of a client's
 * input per turn and leaves the rest in the kernel; a sender with more
 * outstanding is not cut off, which the bench checks: an ERROR line or a
 * closed connection counts as an error in the results.)
 */

import type {
  BenchConn,
  ChatKind,
  ChatListener,
  FileOutcome,
  Target,
} from "./_driver.ts";

const REPLY_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 3000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const SPACE = 32;
const NEWLINE = 10;
const CR = 13;
const HASH = 35;

interface Waiter {
  match: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

class IrcConn implements BenchConn {
  readonly name: string;
  readonly ended: Promise<void>;
  onChat: ChatListener | null = null;
  onAck: (() => void) | null = null;
  unacked = 0;
  errors = 0;
  lastError = "";
  readonly #conn: Deno.TcpConn;
  readonly #publicChannel: string;
  #out: string[] = [];
  #flushing = false;
  #linesSincePing = 0;
  #pingSeq = 0;
  /** Lines covered by each PING still waiting for its PONG, oldest first. */
  #pings: { seq: number; lines: number }[] = [];
  #waiters: Waiter[] = [];
  #closed = false;

  constructor(conn: Deno.TcpConn, name: string, publicChannel: string) {
    this.#conn = conn;
    this.name = name;
    this.#publicChannel = publicChannel;
    this.ended = this.#read().finally(() => {
      this.#closed = true;
      for (const waiter of this.#waiters) {
        waiter.reject(
          new Error(`${name}: connection closed (${this.lastError})`),
        );
      }
      this.#waiters = [];
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    });
  }

  static async open(
    hostname: string,
    port: number,
    name: string,
    publicChannel: string,
    operator: { name: string; password: string },
  ): Promise<IrcConn> {
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    const conn = new IrcConn(tcp, name, publicChannel);
    try {
      const welcome = conn.#expect((l) => / (001|433|432) /.test(l));
      conn.#line(`NICK ${name}`);
      conn.#line(`USER ${name} 0 * :bench`);
      const reply = await welcome;
      if (!/ 001 /.test(reply)) throw new Error(`${name}: ${reply}`);
      // Operators may set +F, which lifts ngircd's per-client command limit.
      const oper = conn.#expect((l) => / (381|464|491) /.test(l));
      conn.#line(`OPER ${operator.name} ${operator.password}`);
      const opered = await oper;
      if (!/ 381 /.test(opered)) throw new Error(`${name}: ${opered}`);
      const mode = conn.#expect((l) => l.includes(` MODE ${name} `));
      conn.#line(`MODE ${name} +F`);
      await mode;
      await conn.join(publicChannel.slice(1));
      return conn;
    } catch (error) {
      conn.abort();
      throw error;
    }
  }

  #expect(match: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match, resolve, reject };
      this.#waiters.push(waiter);
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no reply in time (${this.lastError})`));
      }, REPLY_TIMEOUT_MS);
      const settle = () => clearTimeout(timer);
      waiter.resolve = (line) => {
        settle();
        resolve(line);
      };
      waiter.reject = (error) => {
        settle();
        reject(error);
      };
    });
  }

  /** Queues a line; everything queued in one turn goes out in one write. */
  #line(text: string): void {
    if (this.#closed) return;
    this.#out.push(text);
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #flush(): Promise<void> {
    try {
      while (this.#out.length > 0 && !this.#closed) {
        if (this.#linesSincePing > 0) {
          const seq = ++this.#pingSeq;
          this.#pings.push({ seq, lines: this.#linesSincePing });
          this.#linesSincePing = 0;
          this.#out.push(`PING :b${seq}`);
        }
        const bytes = encoder.encode(this.#out.join("\r\n") + "\r\n");
        this.#out = [];
        let written = 0;
        while (written < bytes.length) {
          written += await this.#conn.write(bytes.subarray(written));
        }
      }
    } catch (error) {
      this.lastError = `write failed: ${(error as Error).message}`;
      this.abort();
    } finally {
      this.#flushing = false;
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    let filled = 0;
    for (;;) {
      let read: number | null;
      try {
        read = await this.#conn.read(buffer.subarray(filled));
      } catch {
        return;
      }
      if (read === null) return;
      filled += read;
      let start = 0;
      let end = buffer.indexOf(NEWLINE, start);
      while (end >= 0 && end < filled) {
        this.#onLine(
          buffer,
          start,
          end > start && buffer[end - 1] === CR ? end - 1 : end,
        );
        start = end + 1;
        end = buffer.indexOf(NEWLINE, start);
      }
      // Keep the unfinished line at the front of the buffer.
      buffer.copyWithin(0, start, filled);
      filled -= start;
      if (filled === buffer.length) {
        this.lastError = "line too long";
        return;
      }
    }
  }

  #onLine(buffer: Uint8Array, start: number, end: number): void {
    if (buffer[start] === 58 /* ':' */) {
      const space = buffer.indexOf(SPACE, start);
      if (space < 0 || space >= end) return;
      const c = space + 1;
      // PRIVMSG: the hot path, parsed without making strings.
      if (
        buffer[c] === 80 && buffer[c + 1] === 82 && buffer[c + 2] === 73 &&
        buffer[c + 3] === 86 && buffer[c + 7] === SPACE
      ) {
        const target = c + 8;
        const targetEnd = buffer.indexOf(SPACE, target);
        if (targetEnd < 0 || targetEnd >= end) return;
        const kind: ChatKind = buffer[target] !== HASH
          ? "private"
          : targetEnd - target === this.#publicChannel.length &&
              buffer[target + 1] === this.#publicChannel.charCodeAt(1)
          ? "public"
          : "group";
        // The body follows " :"; listeners read it before returning.
        this.onChat?.(kind, buffer, targetEnd + 2, end);
        return;
      }
      // PONG: acknowledges every line before its PING.
      if (
        buffer[c] === 80 && buffer[c + 1] === 79 && buffer[c + 2] === 78 &&
        buffer[c + 3] === 71
      ) {
        const line = decoder.decode(buffer.subarray(start, end));
        const seq = Number(line.slice(line.lastIndexOf(":b") + 2));
        let acked = 0;
        while (this.#pings.length > 0 && this.#pings[0]!.seq <= seq) {
          acked += this.#pings.shift()!.lines;
        }
        if (acked > 0) {
          this.unacked -= acked;
          this.onAck?.();
        }
        return;
      }
    }
    const line = decoder.decode(buffer.subarray(start, end));
    if (line.startsWith("PING ")) {
      this.#line(`PONG ${line.slice(5)}`);
      return;
    }
    if (line.startsWith("ERROR ")) {
      this.errors++;
      this.lastError = line;
    }
    const numeric = line.split(" ")[1] ?? "";
    if (/^[45]\d\d$/.test(numeric)) {
      this.errors++;
      this.lastError = line;
    }
    const waiter = this.#waiters.find((w) => w.match(line));
    if (waiter) {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      waiter.resolve(line);
    }
  }

  send(kind: ChatKind, target: string, body: string): void {
    this.unacked++;
    this.#linesSincePing++;
    const to = kind === "public"
      ? this.#publicChannel
      : kind === "group"
      ? `#${target}`
      : target;
    this.#line(`PRIVMSG ${to} :${body}`);
  }

  register(): Promise<void> {
    return Promise.resolve();
  }

  async join(group: string): Promise<void> {
    const joined = this.#expect((l) =>
      l.includes(` 366 ${this.name} #${group} `) ||
      / (403|405|471|473|474|475) /.test(l)
    );
    this.#line(`JOIN #${group}`);
    const reply = await joined;
    if (!/ 366 /.test(reply)) throw new Error(`${this.name}: ${reply}`);
  }

  acceptFiles(): void {}

  sendFile(): Promise<FileOutcome> {
    // IRC has no relayed file transfer (DCC goes peer to peer).
    return Promise.reject(new Error("IRC servers do not relay files"));
  }

  async close(): Promise<void> {
    this.#line("QUIT :bye");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.ended,
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.abort();
  }

  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

export interface IrcTargetOptions {
  hostname: string;
  port: number;
  /** The channel that plays the public room, e.g. "#bench". */
  publicChannel: string;
  operator: { name: string; password: string };
}

export class IrcTarget implements Target {
  readonly #options: IrcTargetOptions;

  constructor(options: IrcTargetOptions) {
    this.#options = options;
  }

  connect(name: string): Promise<BenchConn> {
    const { hostname, port, publicChannel, operator } = this.#options;
    return IrcConn.open(hostname, port, name, publicChannel, operator);
  }
}
