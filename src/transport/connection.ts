/**
 * The one interface the rest of the program uses for a peer: a pull-based
 * stream of WebSocket messages plus send and close. `WebSocketConnection`
 * adapts a WHATWG WebSocket (the browser's); the terminal client's
 * connections, ws:// and wss://, are its own WebSocket over TCP
 * (tcp_websocket.ts), and the server's edge has its own adapter over npm `ws`
 * (src/server/ws_edge.ts), all sharing the {@link Inbox}.
 */

export type WireData = string | Uint8Array;

export interface CloseInfo {
  code: number;
  reason: string;
  /**
   * When this side failed the connection because the peer broke the
   * WebSocket protocol (RFC 6455 §7.1.7): what the peer sent, as words that
   * follow "it sent" ("a masked frame"). Null otherwise, and from a
   * WebSocket that does not say why it failed a connection (a browser's).
   * Its numbers aside, it never quotes the peer.
   */
  violation: string | null;
}

export interface Connection {
  /** "ip:port" of the peer, for logs and per-address limits. */
  readonly remoteAddress: string;
  /** Bytes queued for sending but not yet handed to the network. */
  readonly bufferedAmount: number;
  /**
   * Where known: how many bytes the peer's side has taken so far (the
   * network has them), a count that only grows. A server's stall rule takes
   * its rise as the reader's progress (queue_stall.ts).
   */
  readonly taken?: number;
  /**
   * Queues a message. Bytes are copied before this returns: the caller may
   * reuse or free its buffer.
   */
  send(data: WireData): void;
  /**
   * Where offered: queues one binary message made of `head` then `body`
   * without copying `body` (a file chunk relayed to several recipients is
   * then never copied per recipient). `head` is copied as by `send`; `body`
   * must stay unchanged until `written` is called, once, when the socket is
   * done with it (written, or the connection gone).
   */
  sendParts?(head: Uint8Array, body: Uint8Array, written: () => void): void;
  /**
   * Where offered, with {@link sendFilled}: room for one binary message of
   * `length` bytes in the buffer the socket will be handed, for the caller to
   * fill and then pass to `sendFilled`. It saves the copy `send` makes: a
   * server packs and seals each recipient's frame right there.
   */
  messageBuffer?(length: number): Uint8Array<ArrayBuffer>;
  /**
   * Queues `message`, a buffer from {@link messageBuffer} now filled (once;
   * it is the connection's again from here on).
   */
  sendFilled?(message: Uint8Array<ArrayBuffer>): void;
  /**
   * The next message, or null once the connection is closed. Bytes are the
   * caller's from then on (a channel frees each frame once it has read it).
   */
  receive(): Promise<WireData | null>;
  /**
   * Where offered: while `on`, the socket is read however much waits unread
   * (up to the inbox's limit, which cuts the peer off) instead of pausing
   * once a little waits. For a reader held on purpose (ChatClient's
   * holdReading): the connection must still answer the server's pings
   * meanwhile, and it would rather be dropped at its own bound than leave
   * the server holding what it does not read.
   */
  readPastPause?(on: boolean): void;
  /**
   * Where offered: the buffer of a message {@link receive} returned, handed
   * back by a caller that will not read it again (it was the caller's), for
   * a later message of the same length to be read into. A download's frames
   * are all alike: one buffer then serves them one after another, where a
   * fresh one each time is allocated, zeroed and freed (the zeroing alone
   * showed in perf profiles of a receiving `chat connect`'s main thread).
   */
  reuse?(buffer: ArrayBufferLike): void;
  close(code?: number, reason?: string): void;
  /** Resolves when the underlying socket is gone (not merely asked to close). */
  readonly closed: Promise<CloseInfo>;
  /**
   * Where offered: why this side cut the connection on its own (its inbox
   * overflowed, say), or null.
   */
  readonly localCloseReason?: string | null;
}

export interface WebSocketConnectionOptions {
  /** Most bytes allowed to wait unread in the inbox before the peer is cut off. */
  maxInboxBytes?: number;
}

export const DEFAULT_MAX_INBOX_BYTES = 8 * 1024 * 1024;

/** Close codes used by `chat` (RFC 6455 §7.4 and the private 4000-4999 range). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  policyViolation: 1008,
  tooBig: 1009,
  /** The peer sent messages faster than they could be processed. */
  overloaded: 4008,
} as const;

/**
 * The receiving half every `Connection` shares: messages wait here until
 * read, up to a byte limit. When the peer closed, what it sent before stays
 * readable (a client's last messages before its goodbye must still be
 * handled); when we closed, it is dropped.
 */
export class Inbox {
  #queue: WireData[] = [];
  #bytes = 0;
  #waiting: ((data: WireData | null) => void) | null = null;
  #ended = false;
  /** A reader paused by {@link roomBelow}: its limit and its wake-up. */
  #paused: { limit: number; resume: () => void } | null = null;
  /** Whether {@link roomBelow} pauses no one (Connection.readPastPause). */
  #pastPause = false;

  constructor(readonly maxBytes: number = DEFAULT_MAX_INBOX_BYTES) {}

  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes waiting to be read. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues a message; false (and nothing kept) if it overflows the limit. */
  push(data: WireData): boolean {
    if (this.#ended) return true;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      waiting(data);
      return true;
    }
    this.#bytes += sizeOf(data);
    if (this.#bytes > this.maxBytes) return false;
    this.#queue.push(data);
    return true;
  }

  /**
   * Null when at most `limit` bytes wait; else a promise that resolves once
   * reading has brought them down to half of it (or the inbox ended). A
   * socket reader that can stop reading asks before each read: a peer that
   * sends faster than this side handles then waits in the kernel's buffers
   * and its own (TCP backpressure), instead of in this process's memory up
   * to the limit that cuts it off.
   */
  roomBelow(limit: number): Promise<void> | null {
    if (this.#ended || this.#pastPause || this.#bytes <= limit) return null;
    return new Promise((resume) => {
      this.#paused = { limit: limit / 2, resume };
    });
  }

  /** While `on`, {@link roomBelow} pauses no one; a paused reader goes on. */
  readPastPause(on: boolean): void {
    this.#pastPause = on;
    if (!on) return;
    const paused = this.#paused;
    this.#paused = null;
    paused?.resume();
  }

  receive(): Promise<WireData | null> {
    const next = this.#queue.shift();
    if (next !== undefined) {
      this.#bytes -= sizeOf(next);
      const paused = this.#paused;
      if (paused !== null && this.#bytes <= paused.limit) {
        this.#paused = null;
        paused.resume();
      }
      return Promise.resolve(next);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /** No more messages will arrive; `keep` leaves what is queued readable. */
  end(keep: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!keep) {
      this.#queue = [];
      this.#bytes = 0;
    }
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(null);
    const paused = this.#paused;
    this.#paused = null;
    paused?.resume();
  }
}

/**
 * A WebSocket that did not open. A browser does not say why (a server gone,
 * or one refusing it for now with a 503 for its address's handshake rate:
 * docs/PROTOCOL.md 1.1, look the same): a page tries its first connection
 * again on this error alone, and says at once any other, which has a reason.
 */
export class NotOpenedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotOpenedError";
  }
}

export class WebSocketConnection implements Connection {
  readonly remoteAddress: string;
  readonly closed: Promise<CloseInfo>;
  #socket: WebSocket;
  #inbox: Inbox;
  #early: WireData[] = [];
  #localCloseReason: string | null = null;

  constructor(
    socket: WebSocket,
    remoteAddress: string,
    options: WebSocketConnectionOptions = {},
  ) {
    this.#socket = socket;
    this.remoteAddress = remoteAddress;
    this.#inbox = new Inbox(options.maxInboxBytes);
    socket.binaryType = "arraybuffer";
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#inbox.end(true);
        // A browser fails the connection itself (1006) and never says why.
        resolve({ code: event.code, reason: event.reason, violation: null });
      });
    });
    socket.addEventListener("open", () => {
      const early = this.#early;
      this.#early = [];
      for (const data of early) socket.send(asSendable(data));
    });
    socket.addEventListener("message", (event) => this.#push(event.data));
    // An error is always followed by a close event, which does the cleanup.
    socket.addEventListener("error", () => {});
  }

  /** Resolves once the socket is open; rejects if it fails to open. */
  static open(
    url: string,
    options: WebSocketConnectionOptions = {},
  ): Promise<WebSocketConnection> {
    const socket = new WebSocket(url);
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        socket.removeEventListener("error", onError);
        resolve(new WebSocketConnection(socket, new URL(url).host, options));
      };
      const onError = (event: Event) => {
        socket.removeEventListener("open", onOpen);
        const message = event instanceof ErrorEvent ? event.message : "";
        reject(new NotOpenedError(message || `Cannot connect to ${url}`));
      };
      socket.addEventListener("open", onOpen, { once: true });
      socket.addEventListener("error", onError, { once: true });
    });
  }

  /** Why this side cut the connection on its own (e.g. an overflowing inbox). */
  get localCloseReason(): string | null {
    return this.#localCloseReason;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  send(data: WireData): void {
    const state = this.#socket.readyState;
    if (state === WebSocket.OPEN) {
      this.#socket.send(asSendable(data));
    } else if (state === WebSocket.CONNECTING) {
      // A server-side socket is CONNECTING until the upgrade response is out.
      // Copied, as WebSocket.send would: the caller may free its buffer.
      this.#early.push(typeof data === "string" ? data : data.slice());
    }
  }

  receive(): Promise<WireData | null> {
    return this.#inbox.receive();
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    this.#inbox.end(false);
    const state = this.#socket.readyState;
    if (state === WebSocket.CONNECTING || state === WebSocket.OPEN) {
      try {
        this.#socket.close(code, reason);
      } catch {
        this.#socket.close();
      }
    }
  }

  #push(raw: unknown): void {
    const data = typeof raw === "string"
      ? raw
      : raw instanceof ArrayBuffer
      ? new Uint8Array(raw)
      : null;
    if (data === null || this.#inbox.push(data)) return;
    // A peer that sends faster than we can decrypt must not grow our memory.
    this.#localCloseReason = "it sent more than could be processed";
    this.close(CloseCode.overloaded, "too much unread data");
  }
}

/**
 * The DOM's WebSocket.send is typed for bytes over an ArrayBuffer only; ours
 * never sit in a SharedArrayBuffer (Deno's typing already takes them).
 */
function asSendable(data: WireData): string | Uint8Array<ArrayBuffer> {
  return data as string | Uint8Array<ArrayBuffer>;
}

/**
 * What a message waiting in an inbox counts against its limit: its bytes,
 * and what keeping it costs beyond them (an object and a queue slot), so
 * that a peer cannot queue empty messages without bound (2 bytes each on
 * the wire) while nothing is read.
 */
export const INBOX_MESSAGE_OVERHEAD_BYTES = 64;

function sizeOf(data: WireData): number {
  return INBOX_MESSAGE_OVERHEAD_BYTES +
    (typeof data === "string" ? data.length * 2 : data.byteLength);
}
