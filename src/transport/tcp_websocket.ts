/**
 * A WebSocket client over a TCP socket with TCP_NODELAY, plain for ws:// and
 * with TLS over it for wss://: how `chat connect` reaches a server.
 *
 * Why not Deno's own `WebSocket`: Deno 2.9.6's client leaves Nagle's
 * algorithm on and writes a frame's header and a payload over about 1 KiB in
 * two writes, so each such message waits for the server's delayed ACK (tens
 * of milliseconds on loopback, against under one for a short message), over
 * ws:// and wss:// alike. Here every frame is one write,
 * sent at once; over TLS, one write of the TLS stream.
 *
 * The TLS is Deno's (`Deno.startTls`): the certificate is checked against
 * the same trust store as Deno's WebSocket and fetch (`DENO_TLS_CA_STORE`,
 * with `DENO_CERT` or `--cert` added), for the host name of the URL.
 *
 * Everything the server sends is taken as hostile: the upgrade answer is
 * bounded in size and time, a frame's length is checked against the
 * protocol's largest message before any of it is kept, and any frame RFC
 * 6455 does not allow a server to send closes the connection (1002, or 1007
 * for text that is not UTF-8, 1009 for a message too big), and `closed`
 * says what it was (CloseInfo.violation), for the user to be told.
 *
 * The inbox is the one every Connection shares (connection.ts): past its
 * limit, the server is cut off with 4008.
 */

import { releaseBuffer } from "../crypto/bytes.ts";
import { MAX_FRAME_BYTES } from "../protocol/limits.ts";
import {
  CloseCode,
  type CloseInfo,
  type Connection,
  Inbox,
  type WebSocketConnectionOptions,
  type WireData,
} from "./connection.ts";
import { TurnBudget } from "./turn_budget.ts";
import {
  clientFrameBytes,
  closePayload,
  FrameCloseCode,
  FrameError,
  type FrameHead,
  MaskKeys,
  Opcode,
  readClosePayload,
  readFrameHead,
  readText,
  writeClientFrame,
} from "./websocket_frames.ts";
import {
  checkUpgradeResponse,
  headEnd,
  newWebSocketKey,
  parseResponseHead,
  upgradeRequest,
  WebSocketUpgradeError,
} from "./websocket_upgrade.ts";
import { refusalBody, refusalBytesWanted } from "./refusal_body.ts";
import { writeAll } from "./write_all.ts";

/**
 * The largest message a server may send: the largest sealed frame
 * (docs/PROTOCOL.md 1.1 and 3.5; a file chunk is the biggest), all its
 * fragments together.
 */
export const MAX_MESSAGE_BYTES = MAX_FRAME_BYTES;
/** Fragments of one message at most (the server holds clients to the same). */
const MAX_FRAGMENTS = 64;
/** The server's answer to the upgrade: at most this much header... */
const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;
/**
 * ...within this long of the TCP connection being made (the TLS handshake,
 * for wss://, included).
 */
export const UPGRADE_TIMEOUT_MS = 10_000;
/**
 * TLS handshakes given up on (UPGRADE_TIMEOUT_MS) whose sockets may be held
 * at once: past it, wss:// opens nothing more until one of them ends. Deno
 * 2.9.6 keeps the socket of such a handshake until the server answers or
 * closes it (see `TcpWebSocketConnection#open`), so a server or an attacker
 * on the network that takes connections and never answers would otherwise
 * have a reconnect loop leave one more socket open at every attempt.
 */
export const MAX_STALLED_TLS_HANDSHAKES = 8;
/**
 * How long a close handshake may take before the socket is dropped anyway
 * (the reference server gives its peers 4 s: docs/PROTOCOL.md 1.1).
 */
const CLOSE_TIMEOUT_MS = 4000;
/** The read buffer, which holds headers and frames up to DIRECT_READ_BYTES. */
const READ_BUFFER_BYTES = 64 * 1024;
/**
 * A frame with more payload than this that has not all arrived is read
 * straight into a buffer of its own (the one the reader is handed), not
 * through the read buffer and a copy.
 */
const DIRECT_READ_BYTES = 16 * 1024;
/** The first write buffer; it grows to what is queued at once. */
const WRITE_BUFFER_BYTES = 64 * 1024;
/**
 * A write buffer up to this size is kept for the next writes: a file
 * transfer queues a few MiB at a time, and a fresh buffer per write would
 * be zeroed and collected every time.
 */
const KEPT_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Every connection of the process reads in one loop of microtasks while data
 * keeps arriving (a read the kernel can answer at once resolves without the
 * event loop): under a flood, timers (pings, the acknowledgement timer) and
 * stdin would wait. The read loops give the event loop back every 20 ms.
 */
const turns = new TurnBudget(20);
/**
 * Past this many bytes unread in the inbox, the socket is not read until
 * half of them are: a busy room or a download then waits in the kernel's
 * buffers and the server's bounded queues, not in this process's memory.
 * Without it a process that decrypts more slowly than the server sends (a
 * bench load process with 50 connections, a slow machine in a flood) filled
 * every inbox to its 8 MiB cut-off, spent its time collecting garbage, and
 * dropped the connection as overloaded.
 */
const INBOX_PAUSE_BYTES = 1024 * 1024;
/**
 * The TLS handshakes given up on whose sockets Deno still holds, each with
 * the promise of its end (the server answered, closed, or the kernel's
 * keepalive found it gone): closed by us then, and taken out.
 */
const stalled = new Map<Deno.TlsConn, Promise<void>>();
const maskKeys = new MaskKeys();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TcpWebSocketOptions extends WebSocketConnectionOptions {
  /** How long the server may take to answer the upgrade (UPGRADE_TIMEOUT_MS). */
  upgradeTimeoutMs?: number;
  /**
   * For wss://: certificates (PEM) trusted besides the default store. Tests
   * trust a server's self-signed certificate with it; `chat connect` passes
   * none, and trusts what Deno trusts.
   */
  caCerts?: string[];
}

/**
 * What the connection reads and writes: the TCP socket, or the TLS stream
 * over it (a `Deno.Conn` either way). Frames, the upgrade and the close do
 * not know which.
 */
interface ByteStream {
  /** Reads into `buffer`; the bytes read, or null at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; how many. */
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * A wss:// connection's TLS handshake failed (or did not finish in time):
 * nothing of the WebSocket was sent, and nothing is tried without TLS.
 */
export class TlsHandshakeError extends Error {
  /**
   * True when the server's certificate was refused: not from an authority
   * this machine trusts (a self-signed one), expired, or for another name.
   */
  readonly untrusted: boolean;

  constructor(message: string, untrusted: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsHandshakeError";
    this.untrusted = untrusted;
  }
}

/** A frame whose payload is being read into a buffer of its own. */
interface PartFrame {
  head: FrameHead;
  payload: Uint8Array<ArrayBuffer>;
  filled: number;
}

/**
 * How the terminal client opens a connection, ws:// or wss://: a
 * {@link TcpWebSocketConnection}. `options` are for tests (a certificate to
 * trust, say).
 */
export function openTerminalConnection(
  url: string,
  options: TcpWebSocketOptions = {},
): Promise<Connection> {
  return TcpWebSocketConnection.open(url, options);
}

export class TcpWebSocketConnection implements Connection {
  readonly remoteAddress: string;
  readonly closed: Promise<CloseInfo>;
  readonly #conn: ByteStream;
  readonly #inbox: Inbox;
  #resolveClosed!: (info: CloseInfo) => void;
  #localCloseReason: string | null = null;

  /** Received bytes not parsed yet: #buffer[#start, #end). */
  #buffer = new Uint8Array(READ_BUFFER_BYTES);
  /** A message's buffer handed back for the next frame of its length (reuse). */
  #readSpare: ArrayBuffer | null = null;
  #start = 0;
  #end = 0;
  /** The frame being read straight into its own buffer, if one is. */
  #part: PartFrame | null = null;
  /** The fragments so far of a message sent in several (opcode of the first). */
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentOpcode: number = Opcode.binary;

  /** Frames queued and not yet handed to a write: #filling[0, #fillEnd). */
  #filling = new Uint8Array(WRITE_BUFFER_BYTES);
  #fillEnd = 0;
  /**
   * Where in #filling the pong queued last starts while it is the last
   * frame there (not yet handed to a write, nothing queued behind it); -1
   * when there is none such.
   */
  #pongAt = -1;
  /** The buffer the last write was made from, to fill next. */
  #spare: Uint8Array<ArrayBuffer> | null = null;
  /** Bytes queued and not yet taken by the socket (bufferedAmount). */
  #unsent = 0;
  #writing = false;

  /** We sent a close frame (or failed the connection): nothing more goes. */
  #closeSent = false;
  /** What the server's close frame said, once it came. */
  #closeReceived: CloseInfo | null = null;
  /**
   * Why we failed the connection (a protocol error of the server's): what
   * `closed` resolves with, its `violation` saying what the server sent.
   */
  #failure: CloseInfo | null = null;
  /** Close the socket as soon as what is queued is written. */
  #shutting = false;
  /**
   * The socket is a TLS handshake given up on, kept open until it ends
   * (`stalled`): closing it would not free it.
   */
  #handedOver = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #gone = false;

  private constructor(
    conn: ByteStream,
    remoteAddress: string,
    options: WebSocketConnectionOptions,
  ) {
    this.#conn = conn;
    this.remoteAddress = remoteAddress;
    this.#inbox = new Inbox(options.maxInboxBytes);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /**
   * Connects to `url` (ws:// or wss://), and resolves once the server
   * accepted the WebSocket.
   *
   * @throws {TlsHandshakeError} when TLS failed (wss://): the certificate
   *   was refused, or the server does not speak TLS there
   * @throws {WebSocketUpgradeError} when the server did not accept it
   */
  static async open(
    url: string,
    options: TcpWebSocketOptions = {},
  ): Promise<TcpWebSocketConnection> {
    const target = new URL(url);
    const { stream, tls } = await connectSocket(target, options.caCerts);
    const socket = new TcpWebSocketConnection(stream, target.host, options);
    try {
      await socket.#open(
        target,
        tls,
        options.upgradeTimeoutMs ?? UPGRADE_TIMEOUT_MS,
      );
    } catch (error) {
      socket.#destroy();
      throw error;
    }
    void socket.#readLoop();
    return socket;
  }

  /** Why this side cut the connection on its own (e.g. an overflowing inbox). */
  get localCloseReason(): string | null {
    return this.#localCloseReason;
  }

  get bufferedAmount(): number {
    return this.#unsent;
  }

  send(data: WireData): void {
    if (this.#closeSent || this.#gone) return;
    if (typeof data === "string") {
      this.#queueFrame(Opcode.text, encoder.encode(data));
    } else {
      this.#queueFrame(Opcode.binary, data);
    }
  }

  receive(): Promise<WireData | null> {
    return this.#inbox.receive();
  }

  readPastPause(on: boolean): void {
    this.#inbox.readPastPause(on);
  }

  reuse(buffer: ArrayBufferLike): void {
    // Handed back twice: already kept, or being read into again.
    if (buffer === this.#readSpare || buffer === this.#part?.payload.buffer) {
      return;
    }
    // Only what the direct read would allocate (a frame over
    // DIRECT_READ_BYTES) is worth keeping; the latest one handed back, as
    // the frames of a download have one length (its last is shorter).
    if (
      this.#gone || !(buffer instanceof ArrayBuffer) || buffer.resizable ||
      buffer.byteLength <= DIRECT_READ_BYTES
    ) return releaseBuffer(buffer);
    if (this.#readSpare !== null) releaseBuffer(this.#readSpare);
    this.#readSpare = buffer;
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    this.#inbox.end(false);
    if (this.#closeSent || this.#gone) return;
    // Then the server answers with its close and ends the connection.
    this.#sendClose(code, reason);
  }

  // --- Opening ---------------------------------------------------------------

  /**
   * The TLS handshake (wss://) and the upgrade, within `timeoutMs` together:
   * a server that stalls either is given up on the same. A TLS handshake
   * given up on leaves its TCP socket open until the server answers or
   * closes it: Deno 2.9.6 runs the handshake in a task of its own that
   * closing the TlsConn does not stop (rustls-tokio-stream). So such a
   * TlsConn is not closed but kept, and counted (`stalled`), until its
   * handshake ends.
   */
  async #open(
    target: URL,
    tls: Deno.TlsConn | null,
    timeoutMs: number,
  ): Promise<void> {
    let timedOut = false;
    let step: "tls" | "upgrade" = tls === null ? "upgrade" : "tls";
    const gaveUp = Promise.withResolvers<"gave up">();
    const timer = setTimeout(() => {
      timedOut = true;
      if (step === "tls") {
        this.#handedOver = true;
        gaveUp.resolve("gave up");
      }
      this.#destroy();
    }, timeoutMs);
    try {
      // Before the request: a refused certificate fails here, with nothing
      // of ours sent to a server we cannot tell is the one named.
      if (tls !== null) {
        const handshake = finishTlsHandshake(tls);
        if (await Promise.race([handshake, gaveUp.promise]) === "gave up") {
          keepUntilEnded(tls, handshake);
          throw new Error("TLS handshake given up on");
        }
      }
      step = "upgrade";
      const key = newWebSocketKey();
      await writeAll(this.#conn, encoder.encode(upgradeRequest(target, key)));
      let end = -1;
      while ((end = headEnd(this.#buffer.subarray(0, this.#end))) < 0) {
        if (this.#end >= MAX_RESPONSE_HEAD_BYTES) {
          throw new WebSocketUpgradeError(
            `The server's answer to the WebSocket upgrade has over ${
              MAX_RESPONSE_HEAD_BYTES / 1024
            } KiB of header: is this a chat server?`,
          );
        }
        if (!await this.#readMore(MAX_RESPONSE_HEAD_BYTES)) {
          throw new WebSocketUpgradeError(
            "The server closed the connection without answering the WebSocket upgrade",
          );
        }
      }
      // The header is ASCII: non-ASCII bytes only make it fail the checks.
      const head = parseResponseHead(
        decoder.decode(this.#buffer.subarray(0, end)),
      );
      this.#start = end + 4;
      if (head.status !== 101) await this.#readRefusal(head.fields);
      await checkUpgradeResponse(
        head,
        key,
        head.status === 101 ? "" : decoder.decode(
          refusalBody(
            head.fields,
            this.#buffer.subarray(this.#start, this.#end),
          ),
        ),
      );
      // What follows the header is frames already.
    } catch (error) {
      // A refusal stands, even one whose body was cut short by the timer.
      const refusal = error instanceof WebSocketUpgradeError &&
        error.status !== null;
      if (!timedOut || refusal) throw error;
      if (step === "tls") {
        throw new TlsHandshakeError(
          `The server did not finish the TLS handshake within ${
            timeoutMs / 1000
          } s: does it speak TLS (wss://) on that port?`,
          false,
        );
      }
      throw new WebSocketUpgradeError(
        `The server did not answer the WebSocket upgrade within ${
          timeoutMs / 1000
        } s`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads the body of a refusal as far as its Content-Length says, or to
   * the end of its first chunk when chunked (refusal_body.ts), within the
   * header's bound and the upgrade's time: the reference server says there
   * why it refused. What did not come is left out.
   */
  async #readRefusal(fields: Map<string, string>): Promise<void> {
    try {
      for (;;) {
        const want = Math.min(
          this.#start +
            refusalBytesWanted(
              fields,
              this.#buffer.subarray(this.#start, this.#end),
            ),
          MAX_RESPONSE_HEAD_BYTES,
        );
        if (this.#end >= want || !await this.#readMore(want)) return;
      }
    } catch {
      // Cut off by the upgrade's timer, or reset: the refusal stands.
    }
  }

  /** Reads into the buffer up to `limit`; false at the end of the stream. */
  async #readMore(limit: number): Promise<boolean> {
    const read = await this.#conn.read(
      this.#buffer.subarray(this.#end, limit),
    );
    if (read === null) return false;
    this.#end += read;
    return true;
  }

  // --- Reading ---------------------------------------------------------------

  async #readLoop(): Promise<void> {
    try {
      while (this.#parse()) {
        const full = this.#inbox.roomBelow(INBOX_PAUSE_BYTES);
        if (full !== null) await full;
        const wait = turns.check();
        if (wait !== null) await wait;
        if (this.#gone) return;
        const part = this.#part;
        if (part !== null) {
          const read = await this.#conn.read(
            part.payload.subarray(part.filled),
          );
          if (read === null) break;
          part.filled += read;
          if (part.filled === part.payload.length) {
            this.#part = null;
            this.#onFrame(part.head, part.payload);
          }
          continue;
        }
        this.#makeRoom();
        if (!await this.#readMore(this.#buffer.length)) break;
      }
    } catch {
      // Reset, or closed here: the connection is over either way.
    }
    if (this.#shutting) this.#shutWhenWritten();
    else this.#destroy();
  }

  /**
   * Takes every whole frame in the buffer; true to read on, false once
   * reading is over (the server closed, or broke the protocol).
   */
  #parse(): boolean {
    while (!this.#shutting && !this.#gone) {
      if (this.#part !== null) return true;
      const bytes = this.#buffer.subarray(this.#start, this.#end);
      let head: FrameHead | null;
      try {
        head = readFrameHead(bytes, MAX_MESSAGE_BYTES - this.#fragmentBytes);
        if (head === null) return true;
        this.#checkSequence(head);
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.#fail(error);
        return false;
      }
      const frameEnd = head.headerBytes + head.length;
      if (frameEnd <= bytes.length) {
        // Its own buffer: the reader frees it once read (secure_channel.ts).
        const payload = bytes.slice(head.headerBytes, frameEnd);
        this.#start += frameEnd;
        this.#onFrame(head, payload);
        continue;
      }
      if (head.length > DIRECT_READ_BYTES) {
        const payload = this.#payloadBuffer(head.length);
        const there = bytes.subarray(head.headerBytes);
        payload.set(there);
        this.#part = { head, payload, filled: there.length };
        this.#start = this.#end = 0;
        return true;
      }
      // A small frame not all here: more is read behind it.
      return true;
    }
    return false;
  }

  /** A buffer for a frame's `length` bytes: the spare one if it fits exactly. */
  #payloadBuffer(length: number): Uint8Array<ArrayBuffer> {
    const spare = this.#readSpare;
    if (spare === null || spare.byteLength !== length) {
      return new Uint8Array(length);
    }
    this.#readSpare = null;
    return new Uint8Array(spare);
  }

  /**
   * Moves what is not parsed yet (less than a small frame) to the front of
   * the buffer when little room is left behind it, so that reads stay large.
   */
  #makeRoom(): void {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#buffer.length - this.#end < 2 * DIRECT_READ_BYTES) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
  }

  #onFrame(head: FrameHead, payload: Uint8Array<ArrayBuffer>): void {
    try {
      switch (head.opcode) {
        case Opcode.text:
        case Opcode.binary:
        case Opcode.continuation:
          this.#onData(head, payload);
          return;
        case Opcode.ping:
          if (!this.#closeSent) this.#queuePong(payload);
          return;
        case Opcode.pong:
          return;
        case Opcode.close:
          this.#onClose(readClosePayload(payload));
          return;
        default:
          // readFrameHead lets only the opcodes above through.
          throw new FrameError(
            `a frame with opcode ${head.opcode}`,
            CloseCode.protocolError,
          );
      }
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.#fail(error);
    }
  }

  /**
   * Refuses a data frame out of its place before any of its payload is kept:
   * a continuation with nothing to continue, a new message inside a
   * fragmented one, or a fragment past MAX_FRAGMENTS.
   */
  #checkSequence(head: FrameHead): void {
    if (head.opcode >= Opcode.close) return;
    const inMessage = this.#fragments.length > 0;
    if (head.opcode === Opcode.continuation && !inMessage) {
      throw new FrameError(
        "a continuation frame with no message to continue",
        CloseCode.protocolError,
      );
    }
    if (head.opcode !== Opcode.continuation && inMessage) {
      throw new FrameError(
        "a new message inside a fragmented one",
        CloseCode.protocolError,
      );
    }
    if (!head.fin && this.#fragments.length === MAX_FRAGMENTS) {
      throw new FrameError(
        `a message in over ${MAX_FRAGMENTS} fragments`,
        CloseCode.policyViolation,
      );
    }
  }

  #onData(head: FrameHead, payload: Uint8Array<ArrayBuffer>): void {
    const inMessage = this.#fragments.length > 0;
    if (head.opcode !== Opcode.continuation) this.#fragmentOpcode = head.opcode;
    if (!head.fin) {
      this.#fragments.push(payload);
      this.#fragmentBytes += payload.length;
      return;
    }
    let whole = payload;
    if (inMessage) {
      whole = new Uint8Array(this.#fragmentBytes + payload.length);
      let at = 0;
      for (const fragment of this.#fragments) {
        whole.set(fragment, at);
        at += fragment.length;
      }
      whole.set(payload, at);
      this.#fragments = [];
      this.#fragmentBytes = 0;
    }
    const data = this.#fragmentOpcode === Opcode.text ? readText(whole) : whole;
    if (this.#inbox.push(data)) return;
    // A server that sends faster than we can decrypt must not grow our memory.
    this.#localCloseReason = "it sent more than could be processed";
    this.close(CloseCode.overloaded, "too much unread data");
  }

  #onClose(info: { code: number; reason: string }): void {
    this.#closeReceived = { ...info, violation: null };
    // What came before the close stays readable.
    this.#inbox.end(true);
    // §5.5.1: answered with the code it came with.
    if (!this.#closeSent) this.#sendClose(info.code, "");
    this.#shutWhenWritten();
  }

  /** The server broke the protocol: say why and end the connection (§7.1.7). */
  #fail(error: FrameError): void {
    if (this.#failure !== null || this.#gone) return;
    this.#localCloseReason =
      `it broke the WebSocket protocol: ${error.message}`;
    this.#failure = {
      code: error.closeCode,
      reason: error.message,
      violation: error.message,
    };
    this.#inbox.end(true);
    if (!this.#closeSent) this.#sendClose(error.closeCode, error.message);
    this.#shutWhenWritten();
  }

  // --- Writing ---------------------------------------------------------------

  #sendClose(code: number, reason: string): void {
    this.#queueFrame(Opcode.close, closePayload(code, reason));
    this.#closeSent = true;
    // Without an answer, the socket goes anyway.
    this.#closeTimer = setTimeout(() => this.#destroy(), CLOSE_TIMEOUT_MS);
  }

  /**
   * Answers a ping. §5.5.3 lets a pong answer only the latest of the pings
   * not answered yet: a pong still waiting for the socket, with nothing
   * queued behind it, is replaced. A server that pings faster than it reads
   * our pongs would otherwise have us queue them without bound (the read
   * loop goes on while writes wait), 131 bytes kept for every 127 it sent.
   */
  #queuePong(payload: Uint8Array): void {
    if (this.#pongAt >= 0) {
      this.#unsent -= this.#fillEnd - this.#pongAt;
      this.#fillEnd = this.#pongAt;
    }
    this.#queueFrame(Opcode.pong, payload);
  }

  /**
   * Queues one frame, copied (masked) into the write buffer: header and
   * payload go out in one write, with whatever else was queued meanwhile.
   */
  #queueFrame(opcode: number, payload: Uint8Array): void {
    this.#pongAt = opcode === Opcode.pong ? this.#fillEnd : -1;
    const size = clientFrameBytes(payload.length);
    const needed = this.#fillEnd + size;
    if (needed > this.#filling.length) {
      const bigger = new Uint8Array(Math.max(needed, 2 * this.#filling.length));
      bigger.set(this.#filling.subarray(0, this.#fillEnd));
      this.#filling = bigger;
    }
    this.#fillEnd = writeClientFrame(
      this.#filling,
      this.#fillEnd,
      opcode,
      payload,
      maskKeys,
    );
    this.#unsent += size;
    if (!this.#writing) void this.#pump();
  }

  /** Writes what is queued, in order, until nothing is. */
  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#fillEnd > 0 && !this.#gone) {
        const batch = this.#filling;
        const length = this.#fillEnd;
        this.#filling = this.#spare ?? new Uint8Array(WRITE_BUFFER_BYTES);
        this.#spare = null;
        this.#fillEnd = 0;
        this.#pongAt = -1;
        let written = 0;
        while (written < length) {
          const wrote = await this.#conn.write(
            batch.subarray(written, length),
          );
          written += wrote;
          this.#unsent -= wrote;
        }
        if (batch.length <= KEPT_WRITE_BUFFER_BYTES) this.#spare = batch;
      }
    } catch {
      this.#destroy();
    } finally {
      this.#writing = false;
    }
    if (this.#shutting) this.#destroy();
  }

  // --- Ending ----------------------------------------------------------------

  /** Ends the connection once what is queued (our close frame) is written. */
  #shutWhenWritten(): void {
    this.#shutting = true;
    if (!this.#writing) this.#destroy();
  }

  /** The socket is gone: closes it and settles everything. */
  #destroy(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#closeTimer);
    this.#inbox.end(true);
    this.#fragments = [];
    this.#part = null;
    this.#unsent = 0;
    try {
      if (!this.#handedOver) this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#resolveClosed(
      this.#closeReceived ?? this.#failure ??
        { code: FrameCloseCode.abnormal, reason: "", violation: null },
    );
  }
}

/**
 * The socket under `target`: TCP with TCP_NODELAY, and for wss:// TLS over
 * it, its handshake not done yet (the caller bounds it in time).
 */
async function connectSocket(
  target: URL,
  caCerts: string[] | undefined,
): Promise<{ stream: ByteStream; tls: Deno.TlsConn | null }> {
  const secure = target.protocol === "wss:";
  if (!secure && target.protocol !== "ws:") {
    throw new TypeError(
      `TcpWebSocketConnection speaks ws:// and wss:// only, not ${target.protocol}//`,
    );
  }
  if (secure && stalled.size >= MAX_STALLED_TLS_HANDSHAKES) {
    throw new TlsHandshakeError(
      `${stalled.size} earlier TLS handshakes are still waiting for servers that took the connection and never answered (each holds a socket until its server answers or closes it), so no more are started: is something on the network holding connections open?`,
      false,
    );
  }
  // An IPv6 address comes in brackets in a URL.
  const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const tcp = await Deno.connect({
    hostname,
    port: target.port === "" ? (secure ? 443 : 80) : Number(target.port),
  });
  // Set on the TCP socket before TLS takes it: the option is the socket's,
  // so TLS records go out at once too (Deno.TlsConn has no setNoDelay).
  tcp.setNoDelay(true);
  if (!secure) return { stream: tcp, tls: null };
  // A handshake given up on keeps its socket until the server ends it
  // (`stalled`): keepalive lets the kernel end it too once the server is
  // gone from the network, rather than never.
  tcp.setKeepAlive(true);
  try {
    // The host name of the URL is the one the certificate must be for, and
    // the SNI (which TLS leaves out for an IP address).
    const tls = await Deno.startTls(tcp, {
      hostname,
      ...(caCerts === undefined ? {} : { caCerts }),
    });
    return { stream: tls, tls };
  } catch (error) {
    try {
      tcp.close();
    } catch {
      // Taken by startTls already.
    }
    throw error;
  }
}

/**
 * Keeps `tls`, a handshake given up on, counted until `handshake` ends,
 * then closes it (an answer that came late included: nobody waits for it).
 */
function keepUntilEnded(tls: Deno.TlsConn, handshake: Promise<void>): void {
  stalled.set(
    tls,
    handshake.catch(() => {}).then(() => {
      stalled.delete(tls);
      try {
        tls.close();
      } catch {
        // Already closed.
      }
    }),
  );
}

/**
 * How many TLS handshakes given up on hold a socket now, and a promise that
 * they have ended (tests: a server they wait on closes them).
 */
export function stalledTlsHandshakes(): {
  count: number;
  ended: Promise<unknown>;
} {
  return { count: stalled.size, ended: Promise.all(stalled.values()) };
}

/** Completes the TLS handshake, or says why it failed. */
async function finishTlsHandshake(tls: Deno.TlsConn): Promise<void> {
  try {
    await tls.handshake();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Deno reports every failed TLS handshake as InvalidData: only rustls's
    // message ("invalid peer certificate: UnknownIssuer", "...: certificate
    // expired: ...", "...: certificate not valid for name ...") tells a
    // refused certificate from a server that does not speak TLS ("received
    // corrupt message of type InvalidContentType").
    const untrusted = /certificate/i.test(reason);
    throw new TlsHandshakeError(
      untrusted
        ? `The server's TLS certificate is not trusted (${reason})`
        : `The TLS handshake with the server failed (${reason}): does it speak TLS (wss://) on that port?`,
      untrusted,
      { cause: error },
    );
  }
}
