/**
 * A WebSocket client connection over a plain `Deno.connect` socket with
 * TCP_NODELAY, implementing the program's `Connection` interface.
 *
 * Why the bench has its own: Deno 2.9.6's `WebSocket` client leaves Nagle's
 * algorithm on and writes a frame's header and payload separately, so every
 * frame of roughly 1 KiB to 64 KiB waits for the server's delayed ACK
 * (~40 ms on Linux) whenever the link is otherwise quiet (measured by
 * `deno run bench/main.ts` as "Deno WebSocket client" in the fan-out; see
 * BASELINE.md). Load generators must not measure that, so all three bench
 * clients (chat, plain relay, IRC) use sockets with TCP_NODELAY.
 *
 * Frames from a client must be masked (RFC 6455 §5.3); this client uses the
 * all-zero mask, which the server undoes like any other and which spares the
 * load generator an XOR over every byte. It is a bench tool, not for users:
 * `chat connect` has its own (src/transport/tcp_websocket.ts), which masks
 * with random keys, checks every frame from the server, and cuts off a
 * server that floods it where this one stops reading until the load process
 * catches up.
 */

import type {
  CloseInfo,
  Connection,
  WireData,
} from "../src/transport/connection.ts";
import { TurnBudget } from "../src/transport/turn_budget.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Received messages not yet taken by the reader, past which the socket is
 * not read until the reader has taken half: a load process that decrypts
 * slower than the server sends held 500 MiB of frames otherwise, and the
 * server's own backpressure never saw it (its writes all succeeded).
 */
const INBOX_PAUSE_BYTES = 4 * 1024 * 1024;

/**
 * Every connection of the process reads in one loop of microtasks while
 * data keeps arriving (a read the kernel can answer at once resolves
 * without the event loop): under a flood, timers and the orchestrator's
 * commands on stdin waited for seconds (the fan-out's clock did not move,
 * and a load process stopped answering for 63 s). The read loops give the
 * event loop back every 20 ms.
 */
const turns = new TurnBudget(20);

export class TcpWebSocketConnection implements Connection {
  readonly remoteAddress: string;
  readonly closed: Promise<CloseInfo>;
  readonly #conn: Deno.TcpConn;
  #inbox: WireData[] = [];
  #inboxHead = 0;
  #waiting: ((data: WireData | null) => void) | null = null;
  #ended = false;
  #closeSent = false;
  #closeInfo: CloseInfo = { code: 1006, reason: "", violation: null };
  #resolveClosed!: (info: CloseInfo) => void;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  /** Received bytes not yet parsed: buffer[start, end). */
  #buffer = new Uint8Array(256 * 1024);
  #start = 0;
  #end = 0;
  #fragments: Uint8Array[] = [];
  #fragmentOpcode = 0;
  /** Bytes in #inbox; the read loop waits on #resume past the mark. */
  #inboxBytes = 0;
  #resume: (() => void) | null = null;

  private constructor(conn: Deno.TcpConn, remoteAddress: string) {
    this.#conn = conn;
    this.remoteAddress = remoteAddress;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Connects, upgrades and resolves once the server accepted the WebSocket. */
  static async open(url: string): Promise<TcpWebSocketConnection> {
    const target = new URL(url);
    if (target.protocol !== "ws:") {
      throw new Error(`Only ws:// URLs are supported, not ${url}`);
    }
    const conn = await Deno.connect({
      hostname: target.hostname,
      port: Number(target.port || 80),
    });
    conn.setNoDelay(true);
    const socket = new TcpWebSocketConnection(conn, target.host);
    try {
      await socket.#upgrade(target);
    } catch (error) {
      conn.close();
      throw error;
    }
    socket.#readLoop();
    return socket;
  }

  async #upgrade(target: URL): Promise<void> {
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    await this.#writeAll(encoder.encode(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
        `Host: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    for (;;) {
      const text = decoder.decode(this.#buffer.subarray(0, this.#end));
      const headerEnd = text.indexOf("\r\n\r\n");
      if (headerEnd >= 0) {
        const head = text.slice(0, headerEnd);
        if (!/^HTTP\/1\.1 101 /.test(head)) {
          throw new Error(
            `WebSocket upgrade refused: ${head.split("\r\n")[0]}`,
          );
        }
        const accept = head.match(/^sec-websocket-accept:\s*(\S+)/im)?.[1];
        const digest = new Uint8Array(
          await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID)),
        );
        if (accept !== btoa(String.fromCharCode(...digest))) {
          throw new Error("WebSocket upgrade: bad Sec-WebSocket-Accept");
        }
        // The headers are ASCII, so characters and bytes line up.
        this.#start = headerEnd + 4;
        return;
      }
      if (this.#end === this.#buffer.length) {
        throw new Error("WebSocket upgrade: response headers too long");
      }
      const read = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (read === null) {
        throw new Error("WebSocket upgrade: connection closed");
      }
      this.#end += read;
    }
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  send(data: WireData): void {
    if (this.#ended || this.#closeSent) return;
    const payload = typeof data === "string" ? encoder.encode(data) : data;
    this.#enqueue(frame(
      typeof data === "string" ? OP_TEXT : OP_BINARY,
      payload,
    ));
  }

  receive(): Promise<WireData | null> {
    if (this.#inboxHead < this.#inbox.length) {
      const next = this.#inbox[this.#inboxHead]!;
      this.#inbox[this.#inboxHead++] = "";
      this.#inboxBytes -= sizeOf(next);
      if (this.#resume !== null && this.#inboxBytes <= INBOX_PAUSE_BYTES / 2) {
        this.#resume();
        this.#resume = null;
      }
      if (this.#inboxHead === this.#inbox.length) {
        this.#inbox = [];
        this.#inboxHead = 0;
      }
      return Promise.resolve(next);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  close(code = 1000, reason = ""): void {
    if (this.#closeSent || this.#ended) {
      if (!this.#ended) this.#finish();
      return;
    }
    const body = new Uint8Array(2 + encoder.encode(reason).length);
    new DataView(body.buffer).setUint16(0, code);
    body.set(encoder.encode(reason), 2);
    this.#enqueue(frame(OP_CLOSE, body));
    this.#closeSent = true;
    this.#closeInfo = { code, reason, violation: null };
    // The server answers with its own close and then ends the connection;
    // do not wait on a silent one for ever.
    setTimeout(() => this.#finish(), 2000);
  }

  #enqueue(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.#queued += bytes.byteLength;
    if (!this.#writing) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        // One write for everything queued: one segment where it fits.
        const bytes = batch.length === 1 ? batch[0]! : concat(batch);
        await this.#writeAll(bytes);
        this.#queued -= bytes.byteLength;
      }
    } catch {
      this.#finish();
    } finally {
      this.#writing = false;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.byteLength) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#ended) {
        this.#parse();
        if (this.#ended) break;
        if (this.#inboxBytes > INBOX_PAUSE_BYTES) {
          await new Promise<void>((resolve) => (this.#resume = resolve));
          if (this.#ended) break;
        }
        const wait = turns.check();
        if (wait !== null) await wait;
        this.#makeRoom();
        const read = await this.#conn.read(this.#buffer.subarray(this.#end));
        if (read === null) break;
        this.#end += read;
      }
    } catch {
      // Reset or closed locally: the connection is over either way.
    }
    this.#finish();
  }

  /** Keeps unparsed bytes at the front and room behind them. */
  #makeRoom(): void {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.length) {
      const bigger = new Uint8Array(this.#buffer.length * 2);
      bigger.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = bigger;
    }
  }

  #parse(): void {
    for (;;) {
      const available = this.#end - this.#start;
      if (available < 2) return;
      const b = this.#buffer;
      const s = this.#start;
      const fin = (b[s]! & 0x80) !== 0;
      const opcode = b[s]! & 0x0f;
      const masked = (b[s + 1]! & 0x80) !== 0;
      let length = b[s + 1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (available < 4) return;
        length = (b[s + 2]! << 8) | b[s + 3]!;
        offset = 4;
      } else if (length === 127) {
        if (available < 10) return;
        length = Number(new DataView(b.buffer, s + 2, 8).getBigUint64(0));
        offset = 10;
      }
      if (length > MAX_MESSAGE_BYTES || masked) {
        this.#finish(1002, "bad frame from server");
        return;
      }
      if (available < offset + length) {
        // Grow now so a big frame does not arrive in 256 KiB steps twice.
        if (offset + length > b.length) {
          const bigger = new Uint8Array(offset + length + 1024);
          bigger.set(b.subarray(s, this.#end));
          this.#buffer = bigger;
          this.#end -= s;
          this.#start = 0;
        }
        return;
      }
      const payload = b.slice(s + offset, s + offset + length);
      this.#start = s + offset + length;
      this.#onFrame(fin, opcode, payload);
      if (this.#ended) return;
    }
  }

  #onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONTINUATION: {
        if (opcode !== OP_CONTINUATION) this.#fragmentOpcode = opcode;
        if (!fin) {
          this.#fragments.push(payload);
          return;
        }
        const whole = this.#fragments.length === 0
          ? payload
          : concat([...this.#fragments, payload]);
        this.#fragments = [];
        this.#deliver(
          this.#fragmentOpcode === OP_TEXT ? decoder.decode(whole) : whole,
        );
        return;
      }
      case OP_PING:
        this.#enqueue(frame(0xa, payload));
        return;
      case OP_CLOSE: {
        const code = payload.length >= 2
          ? new DataView(payload.buffer).getUint16(0)
          : 1005;
        const reason = decoder.decode(payload.subarray(2));
        if (!this.#closeSent) {
          this.#enqueue(frame(OP_CLOSE, payload.subarray(0, 2)));
          this.#closeSent = true;
        }
        this.#closeInfo = { code, reason, violation: null };
        this.#finish(code, reason);
        return;
      }
      default:
        return;
    }
  }

  #deliver(data: WireData): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      waiting(data);
    } else {
      this.#inbox.push(data);
      this.#inboxBytes += sizeOf(data);
    }
  }

  #finish(code?: number, reason?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (code !== undefined) {
      this.#closeInfo = { code, reason: reason ?? "", violation: null };
    }
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(null);
    this.#resume?.();
    this.#resume = null;
    // Let a queued close frame go out before the socket closes.
    const shut = () => {
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
      this.#resolveClosed(this.#closeInfo);
    };
    if (this.#writing) setTimeout(shut, 50);
    else shut();
  }
}

function sizeOf(data: WireData): number {
  return typeof data === "string" ? data.length : data.byteLength;
}

/** A client frame: FIN set, zero mask. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.byteLength;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = new Uint8Array(header + 4 + length);
  out[0] = 0x80 | opcode;
  if (length < 126) {
    out[1] = 0x80 | length;
  } else if (length < 65536) {
    out[1] = 0x80 | 126;
    out[2] = length >> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(length));
  }
  // Bytes header..header+4 are the mask key, left at zero.
  out.set(payload, header + 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
