/**
 * The plain relay (bench/plain_relay.ts) as a bench target: a bare WebSocket
 * per client, text frames for chat, binary frames for file data, and the same
 * file flow control as `chat` (4 MiB window, 2 MiB socket backlog). The
 * WebSocket client is the one `chat connect` and the chat load client use
 * (src/transport/tcp_websocket.ts), so that both sides of the chat/plain
 * ratio pay the same transport.
 */

import {
  FILE_ACK_BYTES,
  FILE_CHUNK_BYTES,
  FILE_WINDOW_BYTES,
} from "../src/protocol/limits.ts";
import {
  type Connection,
  WebSocketConnection,
} from "../src/transport/connection.ts";
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
import { TcpWebSocketConnection } from "../src/transport/tcp_websocket.ts";

const BACKLOG_LIMIT = 2 * 1024 * 1024;
const BACKLOG_POLL_MS = 5;
const CLOSE_TIMEOUT_MS = 3000;

type ReplyWaiter = ((text: string) => void) | null;

class PlainConn implements BenchConn {
  readonly name: string;
  readonly ended: Promise<void>;
  onChat: ChatListener | null = null;
  onAck: (() => void) | null = null;
  unacked = 0;
  errors = 0;
  lastError = "";
  #socket: Connection;
  /** Every request gets exactly one reply (K, E or R), in order. */
  #replies: ReplyWaiter[] = [];
  #replyHead = 0;
  #accepting = false;
  #incoming: { size: number; received: number; acked: number } | null = null;
  #outgoing: { acked: number; done: boolean; wake: () => void } | null = null;

  constructor(socket: Connection, name: string) {
    this.#socket = socket;
    this.name = name;
    this.ended = socket.closed.then(() => {
      this.#outgoing?.wake();
    });
    this.#receiveLoop();
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      const data = await this.#socket.receive();
      if (data === null) break;
      this.#onMessage(data);
    }
    this.#outgoing?.wake();
  }

  static async open(
    url: string,
    name: string,
    transport: Transport,
  ): Promise<PlainConn> {
    const address = `${url}/?name=${encodeURIComponent(name)}`;
    const socket = transport === "tcp"
      ? await TcpWebSocketConnection.open(address)
      : await WebSocketConnection.open(address);
    const welcome = await socket.receive();
    if (welcome !== "W") {
      socket.close();
      throw new Error(`${name} was not welcomed by ${url}`);
    }
    return new PlainConn(socket, name);
  }

  #onMessage(data: string | Uint8Array): void {
    if (typeof data !== "string") {
      const incoming = this.#incoming;
      if (incoming === null) return;
      incoming.received += data.byteLength;
      const complete = incoming.received >= incoming.size;
      if (incoming.received - incoming.acked >= FILE_ACK_BYTES || complete) {
        incoming.acked = incoming.received;
        this.#socket.send(`A${incoming.received}`);
      }
      if (complete) {
        this.#incoming = null;
        this.#socket.send("D");
      }
      return;
    }
    switch (data[0]) {
      case "p":
        this.onChat?.("public", data, data.indexOf(" ") + 1, data.length);
        return;
      case "g": {
        const from = data.indexOf(" ");
        this.onChat?.(
          "group",
          data,
          data.indexOf(" ", from + 1) + 1,
          data.length,
        );
        return;
      }
      case "m":
        this.onChat?.("private", data, data.indexOf(" ") + 1, data.length);
        return;
      case "K":
      case "E":
      case "R": {
        const waiter = this.#replies[this.#replyHead];
        this.#replies[this.#replyHead++] = null;
        if (this.#replyHead > 1024) {
          this.#replies = this.#replies.slice(this.#replyHead);
          this.#replyHead = 0;
        }
        if (waiter) {
          waiter(data);
          return;
        }
        this.unacked--;
        if (data[0] === "E") {
          this.errors++;
          this.lastError = data.slice(1);
        }
        this.onAck?.();
        return;
      }
      case "o":
        if (this.#accepting) {
          this.#incoming = {
            size: Number(data.slice(data.indexOf(" ") + 1)),
            received: 0,
            acked: 0,
          };
        }
        return;
      case "a":
        if (this.#outgoing) {
          this.#outgoing.acked = Number(data.slice(1));
          this.#outgoing.wake();
        }
        return;
      case "d":
        if (this.#outgoing) {
          this.#outgoing.done = true;
          this.#outgoing.wake();
        }
        return;
      default:
        return;
    }
  }

  #request(text: string): Promise<string> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.#socket.send(text);
    });
  }

  send(kind: ChatKind, target: string, body: string): void {
    this.unacked++;
    this.#replies.push(null);
    this.#socket.send(
      kind === "public"
        ? `P${body}`
        : kind === "group"
        ? `G${target} ${body}`
        : `M${target} ${body}`,
    );
  }

  register(): Promise<void> {
    return Promise.resolve();
  }

  async join(group: string): Promise<void> {
    const reply = await this.#request(`J${group}`);
    if (reply !== "K") {
      throw new Error(`${this.name} joining ${group}: ${reply}`);
    }
  }

  acceptFiles(): void {
    this.#accepting = true;
  }

  async sendFile(
    target: FileTarget,
    size: number,
    chunk: Uint8Array,
  ): Promise<FileOutcome> {
    const to = "to" in target ? target.to : `#${target.group}`;
    const reply = await this.#request(`O${to} ${size}`);
    if (!reply.startsWith("R")) throw new Error(`file offer refused: ${reply}`);
    const recipients = Number(reply.slice(1));
    const outgoing = { acked: 0, done: false, wake: () => {} };
    this.#outgoing = outgoing;
    const chunkBytes = Math.min(chunk.byteLength, FILE_CHUNK_BYTES);
    let gone = false;
    this.ended.then(() => (gone = true));
    try {
      let sent = 0;
      while (sent < size && !gone) {
        if (sent - outgoing.acked > FILE_WINDOW_BYTES - chunkBytes) {
          await new Promise<void>((resolve) => (outgoing.wake = resolve));
          continue;
        }
        if (this.#socket.bufferedAmount > BACKLOG_LIMIT) {
          await sleep(BACKLOG_POLL_MS);
          continue;
        }
        const length = Math.min(chunkBytes, size - sent);
        // The chunk never changes, so the same bytes can be handed over again.
        this.#socket.send(chunk.subarray(0, length));
        sent += length;
      }
      while (!outgoing.done && !gone) {
        await new Promise<void>((resolve) => (outgoing.wake = resolve));
      }
      return {
        ok: outgoing.done,
        recipients,
        reason: outgoing.done ? "" : "connection lost",
      };
    } finally {
      this.#outgoing = null;
    }
  }

  async close(): Promise<void> {
    this.#socket.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.ended,
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  }

  abort(): void {
    this.#socket.close();
  }
}

export class PlainTarget implements Target {
  readonly #url: string;
  readonly #transport: Transport;

  constructor(url: string, transport: Transport) {
    this.#url = url;
    this.#transport = transport;
  }

  connect(name: string): Promise<BenchConn> {
    return PlainConn.open(this.#url, name, this.#transport);
  }
}
