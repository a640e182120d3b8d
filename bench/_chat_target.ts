/**
 * `chat` as a bench target: every connection is a real `ChatClient` (full
 * handshake, sealed and batched frames, a registered name proven with an
 * Ed25519 identity). File transfers follow the protocol's flow control (the
 * acknowledgement window and the socket backlog, as `FileSender` does) but
 * keep nothing: the bench measures the relay, not the disks.
 */

import { frameAead } from "../src/crypto/native_aead.ts";
import {
  ChatClient,
  encodeText,
  type Incoming,
  newClientId,
  type Reply,
} from "../src/client/chat_client.ts";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../src/crypto/identity.ts";
import {
  FILE_ACK_BYTES,
  FILE_CHUNK_BYTES,
  FILE_CHUNK_TAG_BYTES,
  FILE_WINDOW_BYTES,
} from "../src/protocol/limits.ts";
import { WebSocketConnection } from "../src/transport/connection.ts";
import { openTerminalConnection } from "../src/transport/tcp_websocket.ts";
import type {
  BenchConn,
  ChatKind,
  ChatListener,
  FileOutcome,
  FileTarget,
  Target,
  Transport,
} from "./_driver.ts";
import { sleep } from "./_ipc.ts";
import { countingDecoder } from "./_counting_decoder.ts";
import { nativeRoomCrypto } from "../src/crypto/native_room.ts";

/** As `FileSender`: the socket may hold this much unsent before we send more. */
const BACKLOG_LIMIT = 2 * 1024 * 1024;
const BACKLOG_POLL_MS = 5;
const CLOSE_TIMEOUT_MS = 3000;

interface Receiving {
  size: number;
  received: number;
  acked: number;
}

interface Sending {
  acked: number;
  results: number;
  failures: string[];
  cancelled: string | null;
  wake: () => void;
}

/**
 * Whether chat lines carry a client id: yes, as from `chat connect`, unless
 * CHAT_BENCH_CIDS=0 (to see what the client id costs).
 */
export const SEND_CIDS = (() => {
  try {
    return Deno.env.get("CHAT_BENCH_CIDS") !== "0";
  } catch {
    // No env permission: the default.
    return true;
  }
})();

class ChatConn implements BenchConn {
  readonly name: string;
  readonly ended: Promise<void>;
  onChat: ChatListener | null = null;
  onAck: (() => void) | null = null;
  unacked = 0;
  errors = 0;
  lastError = "";
  #client: ChatClient;
  #identity: () => Promise<Identity>;
  #accepting = false;
  #receiving = new Map<number, Receiving>();
  #sending = new Map<number, Sending>();
  readonly #answered = (reply: Reply) => {
    this.unacked--;
    if (reply.t === "error") {
      this.errors++;
      this.lastError = reply.text;
    }
    this.onAck?.();
  };

  constructor(
    client: ChatClient,
    name: string,
    identity: () => Promise<Identity>,
  ) {
    this.#client = client;
    this.name = name;
    this.#identity = identity;
    this.ended = client.ended.then(() => {});
    client.onMessage((incoming) => this.#dispatch(incoming));
  }

  #dispatch({ message, body }: Incoming): void {
    switch (message.t) {
      case "public":
      case "group":
      case "private":
        // A replay of missed messages is not a delivery being measured.
        if (!message.history) this.onChat?.(message.t, body, 0, body.length);
        return;
      case "file_offer":
        if (this.#accepting) {
          this.#receiving.set(message.xfer, {
            size: message.size,
            received: 0,
            acked: 0,
          });
          // The server forwards nothing before the recipient accepts.
          this.#client.post({ t: "file_accept", xfer: message.xfer });
        }
        return;
      case "file_chunk": {
        const receiving = this.#receiving.get(message.xfer);
        if (receiving === undefined) return;
        // The body is the chunk sealed with the file key (not opened here).
        receiving.received += body.byteLength - FILE_CHUNK_TAG_BYTES;
        if (
          receiving.received - receiving.acked >= FILE_ACK_BYTES ||
          receiving.received === receiving.size
        ) {
          receiving.acked = receiving.received;
          this.#client.post({
            t: "file_ack",
            xfer: message.xfer,
            received: receiving.received,
          });
        }
        return;
      }
      case "file_end":
        if (this.#receiving.delete(message.xfer)) {
          this.#client.post({
            t: "file_done",
            xfer: message.xfer,
            ok: true,
            reason: "",
          });
        }
        return;
      case "file_progress": {
        const sending = this.#sending.get(message.xfer);
        if (sending === undefined) return;
        sending.acked = Math.max(sending.acked, message.acked);
        sending.wake();
        return;
      }
      case "file_result": {
        const sending = this.#sending.get(message.xfer);
        if (sending === undefined) return;
        sending.results++;
        if (!message.ok) sending.failures.push(message.reason);
        sending.wake();
        return;
      }
      case "file_cancel": {
        this.#receiving.delete(message.xfer);
        const sending = this.#sending.get(message.xfer);
        if (sending === undefined) return;
        sending.cancelled = message.reason;
        sending.wake();
        return;
      }
      default:
        return;
    }
  }

  send(kind: ChatKind, target: string, body: string): void {
    this.unacked++;
    const text = encodeText(body);
    // Every line with its own client id, as `chat connect` sends it (so that
    // a retry is stored once, PROTOCOL 5.9): the server keeps and looks up
    // each one, which is part of what a message costs it. CHAT_BENCH_CIDS=0
    // leaves it out.
    const cid = SEND_CIDS ? { cid: newClientId() } : {};
    const reply = kind === "public"
      ? this.#client.request({ t: "say", ...cid }, text)
      : kind === "group"
      ? this.#client.request({ t: "gsay", group: target, ...cid }, text)
      : this.#client.request({ t: "msg", to: target, ...cid }, text);
    reply.then(this.#answered);
  }

  async register(): Promise<void> {
    const reply = await this.#client.register(
      this.name,
      await this.#identity(),
    );
    if (reply.t !== "welcome") {
      throw new Error(
        `register ${this.name}: ${"text" in reply ? reply.text : reply.t}`,
      );
    }
  }

  async join(group: string): Promise<void> {
    let reply = await this.#client.request({ t: "create", group });
    if (reply.t === "error" && reply.code === "group_exists") {
      reply = await this.#client.request({ t: "join", group });
    }
    if (reply.t === "error" && reply.code !== "already_member") {
      throw new Error(`${this.name} joining ${group}: ${reply.text}`);
    }
  }

  acceptFiles(): void {
    this.#accepting = true;
  }

  async sendFile(
    target: FileTarget,
    size: number,
    chunk: Uint8Array,
    sha256: string,
  ): Promise<FileOutcome> {
    const reply = await this.#client.request({
      t: "file_offer",
      name: "bench.bin",
      size,
      ...target,
      // The wire as a real sender has it; this client does not seal chunks
      // (the server cannot tell), so the key only has to be well formed.
      key: "00".repeat(32),
    });
    if (reply.t !== "file_ready") {
      throw new Error(`file offer refused: ${JSON.stringify(reply)}`);
    }
    const xfer = reply.xfer;
    const recipients = reply.recipients.length;
    const sending: Sending = {
      acked: 0,
      results: 0,
      failures: [],
      cancelled: null,
      wake: () => {},
    };
    this.#sending.set(xfer, sending);
    const settled = () =>
      sending.cancelled !== null || sending.results >= recipients;
    const chunkBytes = Math.min(chunk.byteLength, FILE_CHUNK_BYTES);
    try {
      let sent = 0;
      while (sent < size && !settled()) {
        if (sent - sending.acked > FILE_WINDOW_BYTES - chunkBytes) {
          await new Promise<void>((resolve) => (sending.wake = resolve));
          continue;
        }
        if (this.#client.backlog > BACKLOG_LIMIT) {
          await sleep(BACKLOG_POLL_MS);
          continue;
        }
        const length = Math.min(chunkBytes, size - sent);
        // A body of the sealed chunk's length, and the channel's to free.
        const body = new Uint8Array(length + FILE_CHUNK_TAG_BYTES);
        body.set(chunk.subarray(0, length));
        this.#client.post({ t: "file_chunk", xfer, offset: sent }, body, true);
        sent += length;
      }
      if (!settled()) {
        this.#client.post({ t: "file_end", xfer, sha256 }, undefined, true);
      }
      while (!settled()) {
        await new Promise<void>((resolve) => (sending.wake = resolve));
      }
      const ok = sending.cancelled === null && sending.failures.length === 0;
      return {
        ok,
        recipients,
        reason: sending.cancelled ?? sending.failures.join("; "),
      };
    } finally {
      this.#sending.delete(xfer);
    }
  }

  async close(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#client.quit(),
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.#client.abort();
  }

  abort(): void {
    this.#client.abort();
  }
}

export class ChatTarget implements Target {
  readonly #url: string;
  readonly #spki: Uint8Array;
  readonly #transport: Transport;
  readonly #identities = new Map<string, Promise<Identity>>();

  constructor(url: string, spki: Uint8Array, transport: Transport) {
    this.#url = url;
    this.#spki = spki;
    this.#transport = transport;
  }

  /**
   * A client made as `chat connect` makes it (src/client/session.ts), on
   * the same transport unless --transport websocket asked for Deno's own
   * WebSocket client. `owner.conn`: the connection the client will belong
   * to, once made.
   */
  #open(
    owner: { conn: ChatConn | null },
    name: string,
  ): Promise<ChatClient> {
    return ChatClient.connect(this.#url, {
      pinnedSpki: this.#spki,
      smallFrames: frameAead,
      roomCrypto: nativeRoomCrypto,
      openConnection: this.#transport === "tcp"
        ? openTerminalConnection
        : (url) => WebSocketConnection.open(url),
      // The bench's clients are never silent long enough to need pings.
      pingIntervalMs: 0,
      // Live chat messages counted without being parsed; everything else
      // decoded as chat connect decodes it.
      decode: countingDecoder(
        () => owner.conn?.onChat ?? null,
        new TextEncoder().encode(name),
      ),
    });
  }

  /** One identity per name, kept so that a reconnecting client proves the same key. */
  #identity(name: string): Promise<Identity> {
    let identity = this.#identities.get(name);
    if (identity === undefined) {
      identity = generateIdentity().then((id) =>
        importIdentityPem(id.privatePem)
      );
      this.#identities.set(name, identity);
    }
    return identity;
  }

  async connect(name: string, register: boolean): Promise<BenchConn> {
    const owner: { conn: ChatConn | null } = { conn: null };
    const client = await this.#open(owner, name);
    // Made only when first needed: idle connections never register.
    const conn = new ChatConn(client, name, () => this.#identity(name));
    owner.conn = conn;
    if (register) {
      try {
        await conn.register();
      } catch (error) {
        conn.abort();
        throw error;
      }
    }
    return conn;
  }
}
