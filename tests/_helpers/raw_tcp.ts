/**
 * WebSocket by hand over a plain TCP socket (or TLS over one), for tests
 * that need what no WebSocket API lets a client do: fragments, invalid UTF-8
 * in text frames, odd upgrade requests, connections dropped without a close
 * frame, and reads paced like a slow link's.
 */

import { BULK_FRAME_VERSION } from "../../src/crypto/session_cipher.ts";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import {
  ClientHandshake,
  type SessionKeys,
} from "../../src/crypto/handshake.ts";
import {
  generateIdentity,
  identityChallengeMessage,
  importIdentityPem,
  signChallenge,
} from "../../src/crypto/identity.ts";
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

export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame from the server (servers never mask). */
export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const READ_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = WAIT_MS;

/** A GET asking for a WebSocket upgrade, with any extra header lines. */
export function upgradeRequest(extraHeaders: string[] = []): string {
  return [
    "GET / HTTP/1.1",
    "Host: 127.0.0.1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}`,
    "Sec-WebSocket-Version: 13",
    ...extraHeaders,
    "",
    "",
  ].join("\r\n");
}

/** A masked client frame, as RFC 6455 §5.2 lays it out. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array,
  fin = true,
): Uint8Array {
  const length = payload.byteLength;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + 4 + length);
  out[0] = (fin ? 0x80 : 0) | opcode;
  const view = new DataView(out.buffer);
  if (lengthBytes === 0) {
    out[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    out[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    out[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(length));
  }
  const maskAt = 2 + lengthBytes;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, maskAt);
  for (let i = 0; i < length; i++) {
    out[maskAt + 4 + i] = payload[i]! ^ mask[i % 4]!;
  }
  return out;
}

/** TLS for a {@link RawTcp}: the certificate to trust (PEM). */
export interface RawTls {
  caCert: string;
}

/** A raw TCP connection to a server, with a buffered reader. */
export class RawTcp {
  #pending: Uint8Array = new Uint8Array(0);
  #eof = false;
  #closed = false;
  /**
   * A slow reader: each socket read takes at most `bytes`, once `before`
   * resolves. Null (the default): as much as has come, at once.
   */
  pace: { bytes: number; before(): Promise<void> } | null = null;

  private constructor(readonly conn: Deno.Conn) {}

  /**
   * Connects to this machine's `port`; over TLS if `tls` is given, trusting
   * only its certificate (the server's own, made for `localhost`).
   */
  static async connect(port: number, tls?: RawTls): Promise<RawTcp> {
    return new RawTcp(
      tls === undefined
        ? await Deno.connect({ hostname: "127.0.0.1", port })
        : await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [tls.caCert],
        }),
    );
  }

  /** Connects and asks for an upgrade; resolves with the response head. */
  static async upgrade(
    port: number,
    extraHeaders: string[] = [],
    tls?: RawTls,
  ): Promise<{ tcp: RawTcp; head: string }> {
    const tcp = await RawTcp.connect(port, tls);
    try {
      await tcp.write(encoder.encode(upgradeRequest(extraHeaders)));
      return { tcp, head: await tcp.readHead() };
    } catch (error) {
      tcp.close();
      throw error;
    }
  }

  get eof(): boolean {
    return this.#eof;
  }

  /** Writes everything; false if the peer is gone. */
  async write(data: Uint8Array): Promise<boolean> {
    let offset = 0;
    try {
      while (offset < data.byteLength) {
        offset += await this.conn.write(data.subarray(offset));
      }
      return true;
    } catch (error) {
      if (
        error instanceof Deno.errors.BrokenPipe ||
        error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BadResource
      ) {
        return false;
      }
      throw error;
    }
  }

  /** Reads the HTTP response head (status line and headers). */
  async readHead(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = decoder.decode(this.#pending);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = text.slice(0, end);
        this.#pending = this.#pending.subarray(
          encoder.encode(text.slice(0, end + 4)).byteLength,
        );
        return head;
      }
      if (!await this.#fill(deadline)) {
        if (this.#pending.byteLength === 0) return "";
        return decoder.decode(this.#pending);
      }
    }
  }

  /** The next server frame, or null at end of stream. Throws on timeout. */
  async readFrame(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ServerFrame | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#parseFrame();
      if (frame !== null) return frame;
      if (!await this.#fill(deadline)) return null;
    }
  }

  /**
   * Reads frames until the server closes: resolves with the close frame's
   * code (null if the TCP stream just ended) and every frame's opcode.
   */
  async readUntilClosed(
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<{ code: number | null; opcodes: number[] }> {
    const deadline = Date.now() + timeoutMs;
    const opcodes: number[] = [];
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame === null) return { code: null, opcodes };
      opcodes.push(frame.opcode);
      if (frame.opcode === Opcode.close) {
        const code = frame.payload.byteLength >= 2
          ? new DataView(
            frame.payload.buffer,
            frame.payload.byteOffset,
            2,
          ).getUint16(0)
          : null;
        return { code, opcodes };
      }
    }
  }

  /** The next data frame's payload as text; skips pings. Throws otherwise. */
  async readText(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const frame = await this.#readData(timeoutMs);
    if (frame.opcode !== Opcode.text) {
      throw new Error(`Expected a text frame, got opcode ${frame.opcode}`);
    }
    return decoder.decode(frame.payload);
  }

  /** The next data frame's payload as bytes; skips pings. Throws otherwise. */
  async readBinary(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
    const frame = await this.#readData(timeoutMs);
    if (frame.opcode !== Opcode.binary) {
      throw new Error(`Expected a binary frame, got opcode ${frame.opcode}`);
    }
    return frame.payload;
  }

  async #readData(timeoutMs: number): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame === null) throw new Error("The server closed the connection");
      if (frame.opcode === Opcode.close) {
        throw new Error("The server sent a close frame");
      }
      // The server's messages are small and never fragmented.
      if (frame.opcode === Opcode.text || frame.opcode === Opcode.binary) {
        return frame;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already gone.
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A failed read's message: what was awaited and what came of it. */
  #timedOut(): string {
    return `Timed out reading from the server; ${this.#pending.byteLength} bytes of an incomplete frame or head held`;
  }

  /** Reads more bytes; false at end of stream. Throws past the deadline. */
  async #fill(deadline: number): Promise<boolean> {
    if (this.#eof) return false;
    await this.pace?.before();
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(this.#timedOut());
    const buffer = new Uint8Array(this.pace?.bytes ?? READ_BYTES);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let read: number | null;
    try {
      read = await Promise.race([
        this.conn.read(buffer),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(this.#timedOut())),
            left,
          );
        }),
      ]);
    } catch (error) {
      if (
        error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BadResource ||
        error instanceof Deno.errors.Interrupted
      ) {
        read = null;
      } else {
        // A timed-out read is still pending; closing the socket ends it.
        this.close();
        throw error;
      }
    } finally {
      clearTimeout(timer);
    }
    if (read === null) {
      this.#eof = true;
      return false;
    }
    const joined = new Uint8Array(this.#pending.byteLength + read);
    joined.set(this.#pending);
    joined.set(buffer.subarray(0, read), this.#pending.byteLength);
    this.#pending = joined;
    return true;
  }

  #parseFrame(): ServerFrame | null {
    const data = this.#pending;
    if (data.byteLength < 2) return null;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let length = data[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (data.byteLength < 4) return null;
      length = view.getUint16(2);
      offset = 4;
    } else if (length === 127) {
      if (data.byteLength < 10) return null;
      length = Number(view.getBigUint64(2));
      offset = 10;
    }
    if (data.byteLength < offset + length) return null;
    const frame = {
      fin: (data[0]! & 0x80) !== 0,
      opcode: data[0]! & 0x0f,
      payload: data.slice(offset, offset + length),
    };
    this.#pending = data.subarray(offset + length);
    return frame;
  }
}

/**
 * A chat peer over {@link RawTcp}: the real handshake and session cipher, so
 * a test can register and then drop the TCP connection without a close frame,
 * or send a sealed frame split into WebSocket fragments.
 */
export class TcpChatPeer {
  #nextId = 1;
  /** Headers {@link request} read while waiting for its reply, in order. */
  readonly skipped: unknown[] = [];

  private constructor(readonly tcp: RawTcp, readonly keys: SessionKeys) {}

  /**
   * Upgrades (over TLS if `tls` is given) and completes a genuine handshake.
   * `pipelined` makes the first sealed frame, written with `client_finished`
   * in one write, as a client that does not wait for the server's answer may
   * (PROTOCOL 2.6).
   */
  static async connect(
    port: number,
    pinnedSpki: Uint8Array,
    tls?: RawTls,
    pipelined?: (peer: TcpChatPeer) => Promise<Uint8Array>,
  ): Promise<TcpChatPeer> {
    const { tcp, head } = await RawTcp.upgrade(port, [], tls);
    try {
      if (!head.startsWith("HTTP/1.1 101")) {
        throw new Error(`Upgrade refused: ${head.split("\r\n")[0]}`);
      }
      const handshake = new ClientHandshake({ pinnedSpki });
      const hello = await handshake.receiveServerHello(await tcp.readText());
      await tcp.write(clientFrame(Opcode.text, encoder.encode(hello.reply)));
      const finished = await handshake.receiveServerFinished(
        await tcp.readText(),
      );
      const peer = new TcpChatPeer(tcp, finished.keys);
      const last = clientFrame(Opcode.text, encoder.encode(finished.reply));
      if (pipelined === undefined) await tcp.write(last);
      else {
        const frame = clientFrame(Opcode.binary, await pipelined(peer));
        const both = new Uint8Array(last.byteLength + frame.byteLength);
        both.set(last);
        both.set(frame, last.byteLength);
        await tcp.write(both);
      }
      return peer;
    } catch (error) {
      tcp.close();
      throw error;
    }
  }

  /** Seals one message into a frame, without sending it. */
  seal(header: unknown, body?: Uint8Array): Promise<Uint8Array> {
    const [batch] = packBatches([
      encodeMessage(header as ClientMessage, body),
    ]);
    return this.keys.sender.seal(batch!);
  }

  /** Sends a sealed frame as one WebSocket message, in fragments if asked. */
  async sendFrame(frame: Uint8Array, fragmentBytes?: number): Promise<boolean> {
    return await this.tcp.write(
      fragmented(Opcode.binary, frame, fragmentBytes ?? frame.byteLength),
    );
  }

  /**
   * Sends a request with a fresh id (in WebSocket fragments of
   * `fragmentBytes` if given) and reads until its reply.
   */
  async request(
    header: Record<string, unknown>,
    body?: Uint8Array,
    options: { fragmentBytes?: number; timeoutMs?: number } = {},
  ): Promise<ServerMessage> {
    const id = this.nextId();
    await this.sendFrame(
      await this.seal({ ...header, id }, body),
      options.fragmentBytes,
    );
    return await this.readReply(id, options.timeoutMs);
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Reads until the reply to request `id`. */
  async readReply(
    id: number,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const data = await this.tcp.readBinary(
        Math.max(1, deadline - Date.now()),
      );
      // A file chunk comes in a bulk frame of its own (PROTOCOL.md 3.7).
      const headers = data[0] === BULK_FRAME_VERSION
        ? [decodeHeader((await this.keys.receiver.openBulk(data)).header)]
        : decodeBatch(await this.keys.receiver.open(data)).map((m) => m.header);
      // The whole frame is read: what follows the reply in it is kept too.
      let reply: ServerMessage | null = null;
      for (const header of headers) {
        // A room key (PROTOCOL.md 3.8) is no ServerMessage: kept as it is.
        if ((header as { t?: unknown }).t === "room_key") {
          this.skipped.push(header);
          continue;
        }
        const message = parseServerMessage(header);
        if (reply === null && "re" in message && message.re === id) {
          reply = message;
        } else this.skipped.push(header);
      }
      if (reply !== null) return reply;
    }
  }

  /**
   * Registers `name` with a fresh identity key (and `fields` in the
   * `register`, e.g. `room_frames`); resolves with the last reply.
   */
  async register(
    name: string,
    fields: Record<string, unknown> = {},
  ): Promise<ServerMessage> {
    const identity = await importIdentityPem(
      (await generateIdentity()).privatePem,
    );
    const challenge = await this.request({
      ...fields,
      t: "register",
      name,
      key: toBase64(identity.publicRaw),
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

  /** Drops the TCP connection: no close frame, no goodbye. */
  drop(): void {
    this.tcp.close();
  }
}

/**
 * One message as masked client frames of `fragmentBytes` each: the first with
 * `opcode`, the rest continuations, the last with FIN unless `finish` is false.
 * Written straight into one buffer, so 100,000 fragments cost one allocation
 * (and the test's own memory use stays out of its measurements).
 */
export function fragmented(
  opcode: number,
  payload: Uint8Array,
  fragmentBytes: number,
  finish = true,
): Uint8Array {
  const count = Math.max(1, Math.ceil(payload.byteLength / fragmentBytes));
  const lengthOf = (i: number) =>
    Math.min(payload.byteLength, (i + 1) * fragmentBytes) - i * fragmentBytes;
  const headerOf = (length: number) =>
    (length < 126 ? 2 : length < 65536 ? 4 : 10) + 4;
  let total = 0;
  for (let i = 0; i < count; i++) {
    total += headerOf(lengthOf(i)) + lengthOf(i);
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  // One masking key for all fragments: the server unmasks whatever it gets.
  const mask = crypto.getRandomValues(new Uint8Array(4));
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = lengthOf(i);
    const last = i === count - 1;
    out[at] = (finish && last ? 0x80 : 0) | (i === 0 ? opcode : 0);
    if (length < 126) {
      out[at + 1] = 0x80 | length;
    } else if (length < 65536) {
      out[at + 1] = 0x80 | 126;
      view.setUint16(at + 2, length);
    } else {
      out[at + 1] = 0x80 | 127;
      view.setBigUint64(at + 2, BigInt(length));
    }
    at += headerOf(length) - 4;
    out.set(mask, at);
    at += 4;
    const start = i * fragmentBytes;
    for (let j = 0; j < length; j++) {
      out[at + j] = payload[start + j]! ^ mask[j % 4]!;
    }
    at += length;
  }
  return out;
}
