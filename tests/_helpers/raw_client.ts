/**
 * A minimal client that speaks the wire protocol by hand over a plain
 * `WebSocket`, with the real crypto modules but none of `SecureChannel`'s
 * guarantees. It keeps the handshake texts and hands out sealed frames before
 * sending them, so tests can tamper with, replay, reorder or reflect them.
 */

import { BULK_FRAME_VERSION } from "../../src/crypto/session_cipher.ts";
import {
  ROOM_FRAME_VERSION,
  RoomFrameOpener,
  type RoomKey,
  webRoomCrypto,
} from "../../src/crypto/room_frame.ts";
import { parseRoomKey } from "../../src/transport/secure_channel.ts";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import {
  generateIdentity,
  type Identity,
  identityChallengeMessage,
  importIdentityPem,
  signChallenge,
} from "../../src/crypto/identity.ts";
import {
  ClientHandshake,
  type SessionKeys,
} from "../../src/crypto/handshake.ts";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import {
  decodeHeader,
  encodeMessage,
} from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/protocol/messages.ts";
import { WAIT_MS } from "./patience.ts";

export type Received = string | Uint8Array;

export interface RawClose {
  code: number;
  reason: string;
}

/** The four handshake messages exactly as they crossed the wire. */
export interface HandshakeTexts {
  serverHello: string;
  clientHello: string;
  serverFinished: string;
  clientFinished: string;
}

export interface RawMessage {
  message: ServerMessage;
  body: Uint8Array;
}

const DEFAULT_TIMEOUT_MS = WAIT_MS;
// A close handshake is a round trip like any other.
const CLOSE_WAIT_MS = WAIT_MS;

export class RawClient {
  readonly socket: WebSocket;
  /** Resolves with the close event, whoever closed. */
  readonly closed: Promise<RawClose>;
  /** Everything the server sent, in order, consumed or not. */
  readonly received: Received[] = [];
  /** Every server message opened so far, replies included. */
  readonly messages: RawMessage[] = [];
  /** The plaintext of every server frame opened so far, in order. */
  readonly batches: Uint8Array[] = [];
  /** Room frames as they came (PROTOCOL.md 3.8), and the room keys. */
  readonly roomFrames: Uint8Array[] = [];
  readonly roomKeys: RoomKey[] = [];
  room: RoomFrameOpener | null = null;
  #unread: Received[] = [];
  #wake: (() => void) | null = null;
  #isClosed = false;
  #texts: HandshakeTexts | null = null;
  #keys: SessionKeys | null = null;
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.#isClosed = true;
        this.#notify();
        resolve({ code: event.code, reason: event.reason });
      });
    });
    socket.addEventListener("message", (event) => {
      const data = typeof event.data === "string"
        ? event.data
        : new Uint8Array(event.data as ArrayBuffer);
      this.received.push(data);
      this.#unread.push(data);
      this.#notify();
    });
    // Always followed by a close event, which is what tests look at.
    socket.addEventListener("error", () => {});
  }

  /** Opens a WebSocket to `url`; the handshake is left to the caller. */
  static open(
    url: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    socket: WebSocket = new WebSocket(url),
  ): Promise<RawClient> {
    const client = new RawClient(socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`Cannot connect to ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(client);
      }, { once: true });
      client.closed.then(() => {
        clearTimeout(timer);
        reject(new Error(`Cannot connect to ${url}`));
      });
    });
  }

  /** Opens a connection and completes a genuine handshake. */
  static async connect(
    url: string,
    options: { pinnedSpki?: Uint8Array; socket?: WebSocket } = {},
  ): Promise<RawClient> {
    const client = await RawClient.open(
      url,
      DEFAULT_TIMEOUT_MS,
      options.socket,
    );
    try {
      await client.handshake(options);
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The handshake as sent and received; only after {@link handshake}. */
  get texts(): HandshakeTexts {
    if (this.#texts === null) throw new Error("No handshake yet");
    return this.#texts;
  }

  get keys(): SessionKeys {
    if (this.#keys === null) throw new Error("No handshake yet");
    return this.#keys;
  }

  /** Sends raw data if the socket is still open; says whether it did. */
  send(data: string | Uint8Array): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(data);
    return true;
  }

  /** The next unread message from the server, or null once it is closed. */
  async next(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Received | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const data = this.#unread.shift();
      if (data !== undefined) return data;
      if (this.#isClosed) return null;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `No message from the server within ${timeoutMs} ms; ${this.#seen()}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  async nextText(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const data = await this.next(timeoutMs);
    if (typeof data !== "string") {
      throw new Error(
        data === null ? "Closed while expecting text" : "Expected text",
      );
    }
    return data;
  }

  async nextFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
    const data = await this.next(timeoutMs);
    if (!(data instanceof Uint8Array)) {
      throw new Error(
        data === null ? "Closed while expecting a frame" : "Expected a frame",
      );
    }
    return data;
  }

  /** Runs the client side of the handshake with the real handshake code. */
  async handshake(options: { pinnedSpki?: Uint8Array } = {}): Promise<void> {
    const handshake = new ClientHandshake(
      options.pinnedSpki ? { pinnedSpki: options.pinnedSpki } : {},
    );
    const serverHello = await this.nextText();
    const hello = await handshake.receiveServerHello(serverHello);
    this.send(hello.reply);
    const serverFinished = await this.nextText();
    const finished = await handshake.receiveServerFinished(serverFinished);
    this.send(finished.reply);
    this.#texts = {
      serverHello,
      clientHello: hello.reply,
      serverFinished,
      clientFinished: finished.reply,
    };
    this.#keys = finished.keys;
  }

  /** A fresh request id, for headers built by hand. */
  nextId(): number {
    return this.#nextId++;
  }

  /**
   * Seals messages into one frame without sending it. Headers are taken as
   * is, so they may be anything JSON can carry.
   */
  seal(...messages: { header: unknown; body?: Uint8Array }[]): Promise<
    Uint8Array
  > {
    const encoded = messages.map(({ header, body }) =>
      encodeMessage(header as ClientMessage, body)
    );
    const [batch, ...rest] = packBatches(encoded);
    if (batch === undefined || rest.length > 0) {
      throw new RangeError("The messages do not fit in one frame");
    }
    return this.sealPlaintext(batch);
  }

  /** Seals arbitrary bytes, which need not be a valid batch. */
  sealPlaintext(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.keys.sender.seal(plaintext);
  }

  /** Seals one message into a frame and sends it; returns the frame. */
  async sendMessage(header: unknown, body?: Uint8Array): Promise<Uint8Array> {
    const frame = await this.seal(body ? { header, body } : { header });
    this.send(frame);
    return frame;
  }

  /** Opens the next frame from the server and records its messages. */
  async receiveMessages(
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<RawMessage[]> {
    return await this.openFrame(await this.nextFrame(timeoutMs));
  }

  /** Opens one server frame (the next in sequence) and records its messages. */
  async openFrame(frame: Uint8Array): Promise<RawMessage[]> {
    // Room frames (PROTOCOL.md 3.8), once a room key came.
    if (frame[0] === ROOM_FRAME_VERSION && this.room !== null) {
      this.roomFrames.push(frame.slice());
      const plaintext = await this.room.open(frame);
      this.keys.receiver.roomFrames++;
      const messages = decodeBatch(plaintext).map(({ header, body }) => ({
        message: parseServerMessage(header),
        body,
      }));
      this.messages.push(...messages);
      return messages;
    }
    // A file chunk comes in a bulk frame of its own (PROTOCOL.md 3.7).
    if (frame[0] === BULK_FRAME_VERSION) {
      const { header, body } = await this.keys.receiver.openBulk(frame);
      const chunk = { message: parseServerMessage(decodeHeader(header)), body };
      this.messages.push(chunk);
      return [chunk];
    }
    const plaintext = await this.keys.receiver.open(frame);
    this.batches.push(plaintext);
    const decoded = decodeBatch(plaintext);
    for (const { header } of decoded) {
      if ((header as { t?: unknown }).t !== "room_key") continue;
      const key = parseRoomKey(header);
      this.roomKeys.push(key);
      if (this.room === null) {
        this.room = RoomFrameOpener.create(key, webRoomCrypto);
      } else this.room.rekey(key);
    }
    const messages = decoded.flatMap(({ header, body }) =>
      (header as { t?: unknown }).t === "room_key"
        ? []
        : [{ message: parseServerMessage(header), body }]
    );
    this.messages.push(...messages);
    return messages;
  }

  /** Reads frames until the reply to request `id` arrives. */
  async replyTo(
    id: number,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(({ message }) =>
        "re" in message && message.re === id
      );
      if (found) return found.message;
      try {
        await this.receiveMessages(Math.max(1, deadline - Date.now()));
      } catch (error) {
        throw new Error(
          `No reply to request ${id} (waited up to ${timeoutMs} ms): ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
    }
  }

  /** Sends a request built from `header` plus a fresh id; returns the reply. */
  async request(
    header: Record<string, unknown>,
    body?: Uint8Array,
  ): Promise<ServerMessage> {
    const id = this.nextId();
    await this.sendMessage({ ...header, id }, body);
    return await this.replyTo(id);
  }

  /**
   * Registers `name` with `identity` (a fresh identity key by default):
   * register, then prove the challenge. Resolves with the reply to the proof
   * (`welcome` or an error).
   */
  async register(
    name: string,
    { identity: given, ...options }: {
      compact?: boolean;
      acks?: boolean;
      varint?: boolean;
      room_frames?: boolean;
      identity?: Identity;
    } = {},
  ): Promise<ServerMessage> {
    const identity = given ?? await importIdentityPem(
      (await generateIdentity()).privatePem,
    );
    const challenge = await this.request({
      t: "register",
      name,
      key: toBase64(identity.publicRaw),
      ...options,
    });
    if (challenge.t !== "challenge") return challenge;
    const signature = await signChallenge(
      identity,
      identityChallengeMessage({
        publicKey: identity.publicRaw,
        transcriptHash: this.keys.transcriptHash,
        challenge: fromBase64(challenge.nonce),
        name,
      }),
    );
    return await this.request({ t: "prove", signature: toBase64(signature) });
  }

  /** Resolves with the close event; throws if the socket stays open. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawClose> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `The server did not close within ${timeoutMs} ms; ${this.#seen()}`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes from this side (if still open) and waits for the socket to go. */
  async close(): Promise<void> {
    const state = this.socket.readyState;
    if (state === WebSocket.CONNECTING || state === WebSocket.OPEN) {
      this.socket.close(1000, "done");
    }
    await this.waitClosed(CLOSE_WAIT_MS);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** What came so far, for a failed wait's message. */
  #seen(): string {
    const last = this.messages.slice(-5).map(({ message }) => message);
    return `${this.received.length} received, ${this.#unread.length} unread; ` +
      `last opened: ${JSON.stringify(last)}`;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The sequence number in a sealed frame's header. */
export function frameSeq(frame: Uint8Array): bigint {
  return new DataView(frame.buffer, frame.byteOffset + 1, 8).getBigUint64(0);
}
