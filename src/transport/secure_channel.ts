/**
 * A sealed, sequence-numbered, batching message channel over a Connection.
 *
 * Sending: messages are queued and flushed at the end of the current turn of
 * the event loop (a microtask, not a timer), so an idle channel adds no delay
 * while a busy one coalesces everything queued meanwhile into one sealed frame.
 * One flush runs at a time per channel; that keeps frames in sequence order.
 */

import {
  ClientHandshake,
  HandshakeError,
  ServerHandshake,
  type SessionKeys,
} from "../crypto/handshake.ts";
import { RELEASE_MIN_BYTES, releaseBuffer } from "../crypto/bytes.ts";
import {
  ROOM_FRAME_VERSION,
  type RoomCrypto,
  RoomFrameOpener,
  type RoomKey,
  type RoomMac,
  type SealedRoomFrame,
} from "../crypto/room_frame.ts";
import { fromBase64 } from "../crypto/bytes.ts";
import {
  BULK_FRAME_VERSION,
  FRAME_HEADER_BYTES,
  type FrameOpener,
  type FrameSealer,
  MIN_FRAME_BYTES,
  type SmallFrameAead,
} from "../crypto/session_cipher.ts";
import {
  batchBytes,
  batchEnd,
  decodeBatch,
  packBatches,
  packInto,
} from "../protocol/batch_framing.ts";
import type { CompactPosition } from "../protocol/compact_chat.ts";
import {
  type DecodedMessage,
  decodeHeader,
  encodeHeader,
  encodeMessage,
} from "../protocol/message_framing.ts";
import { SharedBatchPacker } from "../protocol/shared_batch_packer.ts";
import {
  HANDSHAKE_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_HANDSHAKE_BYTES,
} from "../protocol/limits.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import { CloseCode, type CloseInfo, type Connection } from "./connection.ts";

/**
 * Where a {@link ChannelError} was found. `frame`: in a frame as it came,
 * before it authenticated (not a sealed frame, one out of sequence, a forged
 * or altered one), which anything between the peers could have made.
 * `content`: in what an authenticated frame carried, which only the peer
 * could have sent.
 */
export type ChannelErrorKind = "frame" | "content";

export interface ChannelErrorOptions {
  /** The close code to end the connection with (1002). */
  closeCode?: number;
  /** Where it was found (`content`). */
  kind?: ChannelErrorKind;
  /** What was wrong, without the message's context (the message). */
  detail?: string;
}

/** The peer broke the protocol; the channel must be closed. */
export class ChannelError extends Error {
  readonly closeCode: number;
  readonly kind: ChannelErrorKind;
  /** What was wrong, as "Frame 5 failed authentication" (may quote the peer). */
  readonly detail: string;

  constructor(message: string, options: ChannelErrorOptions = {}) {
    super(message);
    this.name = "ChannelError";
    this.closeCode = options.closeCode ?? CloseCode.protocolError;
    this.kind = options.kind ?? "content";
    this.detail = options.detail ?? message;
  }
}

/** A frame refused before it authenticated: `detail` says why. */
function rejectedFrame(detail: string): ChannelError {
  return new ChannelError(`Rejected frame: ${detail}`, {
    kind: "frame",
    detail,
  });
}

/** File data sealed per flush at most, so urgent messages wait for little. */
const BULK_PER_FLUSH = 256 * 1024;
/** Bulk data waits while the socket holds more than this unsent. */
const SOCKET_HIGH_WATER = 1024 * 1024;
const BULK_RETRY_MS = 1;

/**
 * Encoded bulk bytes (a file chunk) queued on one or more channels. Each
 * channel drops its hold once the bytes are sealed, and the last one frees
 * them at once: a relay would otherwise leave every chunk for the garbage
 * collector (see `releaseBuffer`).
 */
export class SharedBytes {
  #holders: number;
  readonly #bodyWritten: (() => void) | null;

  /**
   * `holders`: how many channels will queue these bytes. With `body`, they
   * go out as a bulk frame (docs/PROTOCOL.md 3.7): `bytes` is the header to
   * seal and `body` the bytes appended as they are (a file chunk its sender
   * sealed); both are freed after the last holder. `bodyWritten`: the body
   * is not freed but handed back to whoever made it (for the next chunk),
   * by calling this after the last holder, once nothing reads it any more.
   */
  constructor(
    readonly bytes: Uint8Array,
    holders: number,
    readonly body: Uint8Array | null = null,
    bodyWritten: (() => void) | null = null,
  ) {
    this.#holders = holders;
    this.#bodyWritten = bodyWritten;
  }

  /** What this adds to a queue. */
  get byteLength(): number {
    return this.bytes.byteLength + (this.body?.byteLength ?? 0);
  }

  /**
   * One holder is done with the bytes (sealed them, or its socket wrote a
   * body it did not copy: Connection.sendParts); after the last, they are
   * freed, or the body handed back.
   */
  drop(): void {
    if (--this.#holders === 0) {
      releaseBuffer(this.bytes.buffer);
      if (this.#bodyWritten !== null) this.#bodyWritten();
      else if (this.body !== null) releaseBuffer(this.body.buffer);
    }
  }
}

const NOTHING_TAKEN: SharedBytes[] = [];

/**
 * A frame sealed once for many channels (a room frame, docs/PROTOCOL.md
 * 3.8), queued on each in order with the channel's own frames and sent as
 * the same bytes but for each channel's MAC. Its memory is counted by
 * whoever made it (once per channel holding it), not by each channel's
 * QueueCounter.
 *
 * Such frames come from one stream, whose batches grow after they are
 * queued (until sealed): a channel counts what waits for it as the
 * stream's bytes past the end of the last frame it sent.
 */
export interface SharedFrame {
  /** Every byte ever put in this stream's frames, so far. */
  readonly stream: { readonly bytes: number };
  /** Where this frame starts in the stream. */
  readonly start: number;
  /** Where it ends (final once it is sealed). */
  readonly end: number;
  /**
   * The frame, sealed by the first channel that asks; or null when each
   * channel is to seal {@link messages} with its own frames instead.
   */
  frame(): Promise<SealedRoomFrame | null>;
  /** Its encoded messages, once {@link frame} was asked for. */
  readonly messages: Uint8Array;
  /** One channel is done with it (it sent it, or it ended first). */
  drop(): void;
}

/** What may wait in a channel's urgent queue. */
type Queued = Uint8Array | SharedFrame;

/** Chat-only flushes of every channel share their packed batches. */
const sharedPacker = new SharedBatchPacker();

/**
 * Splits an opened frame into its messages, throwing as `decodeBatch` does
 * on a malformed one. `room`: it came in a room frame (docs/PROTOCOL.md
 * 3.8), which carries the reader's own public messages too.
 */
export type BatchDecoder = (
  plaintext: Uint8Array,
  room?: boolean,
) => DecodedMessage[];

/**
 * Told the bytes queued in a channel before they are sealed (the server sums
 * them over every channel to hold back senders: src/server/backpressure.ts).
 */
export interface QueueCounter {
  add(bytes: number): void;
  remove(bytes: number): void;
}

export interface ChannelOptions {
  /** Told what waits in this channel's queues, as it comes and goes. */
  queued?: QueueCounter;
  /**
   * How opened frames become messages (default `decodeBatch`). A relay that
   * forwards batches, or the bench's load client counting deliveries, may
   * do less than parse every header.
   */
  decode?: BatchDecoder;
  /**
   * Accept room frames (docs/PROTOCOL.md 3.8), checked and opened with
   * these primitives: a client sets it and then asks for them at
   * `register`; a server's channel never takes them.
   */
  roomCrypto?: RoomCrypto;
  /**
   * Where the channel says why it closed the connection itself (its
   * session exhausted or broken): the server's log by default (stderr). A
   * terminal client's stderr is the terminal its output is queued for
   * (stdout_queue.ts): written there at once, the line went ahead of what
   * was queued, through the input block, and waited while the terminal took
   * nothing; it says it in its connection's ending instead (`failure`).
   */
  report?: (line: string) => void;
}

export class SecureChannel {
  readonly #conn: Connection;
  readonly #sealer: FrameSealer;
  readonly #opener: FrameOpener;
  readonly #decode: BatchDecoder;
  readonly #queued: QueueCounter | null;
  /** Chat and control messages: always sent first. */
  #queue: Queued[] = [];
  /** Bytes of the Uint8Arrays in #queue (counted in #queued too). */
  #queueBytes = 0;
  /** The stream of SharedFrames this channel was sent, once it is. */
  #stream: { readonly bytes: number } | null = null;
  /** Where in #stream this channel's next shared frame starts. */
  #streamSent = 0;
  /** How many SharedFrames #queue holds. */
  #sharedCount = 0;
  readonly #roomCrypto: RoomCrypto | null;
  #room: RoomFrameOpener | null = null;
  /** File data: sent after urgent messages, and only while the socket keeps up. */
  #bulk: SharedBytes[] = [];
  #bulkBytes = 0;
  #flushing = false;
  /** The socket's bufferedAmount when the last flush ended. */
  #socketBuffered = 0;
  #idle: (() => void)[] = [];
  #failed = false;
  #failure: string | null = null;
  readonly #report: (line: string) => void;
  #gone = false;

  /** Hash of this session's handshake: identity proofs are bound to it. */
  readonly transcriptHash: Uint8Array;

  /**
   * Whether the peer asked for live chat messages in the compact form
   * (docs/PROTOCOL.md 4.1): set by the server when the peer registers, read
   * for every delivery (a field, not a lookup, as it is on the hot path).
   */
  readsCompactChat = false;
  /**
   * Whether the peer acknowledges what it shows, and so reads the compact
   * forms with an id and a seq (docs/PROTOCOL.md, "Delivery"), and in which
   * of them; set with `readsCompactChat`.
   */
  readsChatPositions: CompactPosition = "none";
  /**
   * Whether the peer takes the public room's messages in room frames
   * (docs/PROTOCOL.md 3.8): set by the server when the peer registers.
   */
  readsRoomFrames = false;
  /**
   * This peer's MAC on the room frames sent to it (docs/PROTOCOL.md 3.8):
   * set by the server when it joins the room.
   */
  roomMac: RoomMac | null = null;

  constructor(
    conn: Connection,
    keys: SessionKeys,
    options: ChannelOptions = {},
  ) {
    this.transcriptHash = keys.transcriptHash;
    this.#conn = conn;
    this.#sealer = keys.sender;
    this.#opener = keys.receiver;
    this.#decode = options.decode ?? decodeBatch;
    this.#queued = options.queued ?? null;
    this.#roomCrypto = options.roomCrypto ?? null;
    this.#report = options.report ?? ((line) => console.error(line));
    conn.closed.then(() => {
      this.#gone = true;
      this.#dropQueued();
    });
  }

  /**
   * Why this channel closed the connection itself (its session exhausted
   * or broken), once it did; else null.
   */
  get failure(): string | null {
    return this.#failure;
  }

  /** Whether this channel takes room frames (ChannelOptions.roomCrypto). */
  get acceptsRoomFrames(): boolean {
    return this.#roomCrypto !== null;
  }

  /**
   * Empties the queues, never to be sealed: out of the count (a flush still
   * running takes off only what it took).
   */
  #dropQueued(): void {
    this.#queued?.remove(this.#queueBytes + this.#bulkBytes);
    if (this.#sharedCount > 0) {
      for (const item of this.#queue) {
        if (!(item instanceof Uint8Array)) item.drop();
      }
    }
    this.#queue = [];
    this.#queueBytes = 0;
    this.#sharedCount = 0;
    this.#bulk = [];
    this.#bulkBytes = 0;
  }

  /** Bytes waiting to go out: everything queued plus the socket's own buffer. */
  get backlog(): number {
    return this.#queueBytes + this.#sharedWaiting() + this.#bulkBytes +
      this.#conn.bufferedAmount;
  }

  /** The connection's {@link Connection.taken}: undefined where not known. */
  get taken(): number | undefined {
    return this.#conn.taken;
  }

  /**
   * {@link backlog} with the socket's buffer as of the last flush: no call
   * into the runtime, for checks made once per message per recipient. The
   * socket's buffer only grows when we flush, so this is never below the
   * real figure by more than what drained since.
   */
  get backlogEstimate(): number {
    return this.#queueBytes + this.#sharedWaiting() + this.#bulkBytes +
      this.#socketBuffered;
  }

  /** Bytes of shared frames queued here and not yet sent. */
  #sharedWaiting(): number {
    return this.#sharedCount === 0 || this.#stream === null
      ? 0
      : this.#stream.bytes - this.#streamSent;
  }

  get remoteAddress(): string {
    return this.#conn.remoteAddress;
  }

  get closed(): Promise<CloseInfo> {
    return this.#conn.closed;
  }

  /** See Connection.readPastPause (nothing where the connection cannot). */
  readPastPause(on: boolean): void {
    this.#conn.readPastPause?.(on);
  }

  /** Why this side cut the connection on its own, or null (Connection). */
  get localCloseReason(): string | null {
    return this.#conn.localCloseReason ?? null;
  }

  /**
   * Queues one already-encoded message (see `encodeMessage`); the same bytes
   * may be queued on any number of channels.
   */
  sendEncoded(encoded: Uint8Array): void {
    if (this.#failed || this.#gone) return;
    this.#queue.push(encoded);
    this.#queueBytes += encoded.byteLength;
    this.#queued?.add(encoded.byteLength);
    this.#scheduleFlush();
  }

  /**
   * Queues a frame sealed once for many channels, in order with the
   * messages queued here; the channel drops its hold once it is sent, or
   * when the channel ends first.
   */
  sendShared(shared: SharedFrame): void {
    if (this.#failed || this.#gone) {
      shared.drop();
      return;
    }
    if (this.#sharedCount === 0) {
      this.#stream = shared.stream;
      this.#streamSent = shared.start;
    }
    this.#queue.push(shared);
    this.#sharedCount++;
    this.#scheduleFlush();
  }

  /**
   * Queues bulk data (file chunks and their end mark). Bulk messages keep
   * their order among themselves but let every other message overtake them,
   * so a transfer never holds up chat. The channel drops its hold on `shared`
   * once it is sealed, or never if the channel ends first.
   */
  sendBulk(shared: SharedBytes): void {
    if (this.#failed || this.#gone) return;
    this.#bulk.push(shared);
    this.#bulkBytes += shared.byteLength;
    this.#queued?.add(shared.byteLength);
    this.#scheduleFlush();
  }

  /**
   * Queues one message. With `bulk`, on the bulk lane; a `file_chunk` there
   * goes out in a bulk frame of its own, its body not encrypted again
   * (docs/PROTOCOL.md 3.7): that body is the channel's from then on, freed
   * once sealed, so it must be bytes nobody else reads or changes. With
   * `bodyWritten`, it is not freed: that is called instead, once the body
   * is sealed or written (never if the connection ends first), for the
   * caller to reuse it.
   */
  send(
    header: ClientMessage | ServerMessage,
    body?: Uint8Array,
    bulk = false,
    bodyWritten?: () => void,
  ): void {
    if (bulk && header.t === "file_chunk" && body !== undefined) {
      this.sendBulk(
        new SharedBytes(encodeHeader(header), 1, body, bodyWritten ?? null),
      );
      return;
    }
    const encoded = encodeMessage(header, body);
    if (bulk) this.sendBulk(new SharedBytes(encoded, 1));
    else this.sendEncoded(encoded);
  }

  #scheduleFlush(): void {
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** Resolves once everything queued so far has been handed to the socket. */
  drain(): Promise<void> {
    if (!this.#flushing) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * The messages of the next frame, in order, or null when the peer closed.
   * Throws ChannelError when the frame breaks the protocol.
   */
  async receive(): Promise<DecodedMessage[] | null> {
    const data = await this.#conn.receive();
    if (data === null) return null;
    if (typeof data === "string") {
      throw new ChannelError("Text frame after the handshake", {
        kind: "frame",
      });
    }
    if (data.byteLength > MAX_FRAME_BYTES) {
      throw new ChannelError("Frame too large", {
        closeCode: CloseCode.tooBig,
        kind: "frame",
      });
    }
    if (data[0] === BULK_FRAME_VERSION) return await this.#receiveBulk(data);
    if (data[0] === ROOM_FRAME_VERSION && this.#roomCrypto !== null) {
      return await this.#receiveRoom(data);
    }
    let plaintext: Uint8Array;
    try {
      // Small frames (most chat traffic) open at once, without promises,
      // and where they came: the frame is ours (Connection.receive hands it
      // over).
      plaintext = this.#opener.tryOpenNow(data, true) ??
        await this.#opener.open(data);
    } catch (error) {
      throw rejectedFrame(messageOf(error));
    }
    // The frame is read, unless the plaintext is in it (then `recycle`
    // frees it with the batch).
    if (plaintext.buffer !== data.buffer) releaseBuffer(data.buffer);
    let messages: DecodedMessage[];
    try {
      messages = this.#decode(plaintext);
    } catch (error) {
      throw new ChannelError(`Malformed batch: ${messageOf(error)}`);
    }
    if (this.#roomCrypto !== null) this.#takeRoomKeys(messages);
    return messages;
  }

  /**
   * A room frame's messages (docs/PROTOCOL.md 3.8), each marked `room`: only
   * public messages may come this way, from the room key this channel was
   * given.
   */
  async #receiveRoom(data: Uint8Array): Promise<DecodedMessage[]> {
    if (this.#room === null) {
      throw rejectedFrame("a room frame before a room key");
    }
    let plaintext: Uint8Array;
    try {
      plaintext = await this.#room.open(data);
    } catch (error) {
      throw rejectedFrame(messageOf(error));
    }
    // Every later frame on this channel binds the count (PROTOCOL.md 3.8).
    this.#opener.roomFrames++;
    let messages: DecodedMessage[];
    try {
      messages = this.#decode(plaintext, true);
    } catch (error) {
      throw new ChannelError(`Malformed room frame: ${messageOf(error)}`);
    }
    for (const message of messages) {
      if ((message.header as { t?: unknown } | null)?.t !== "public") {
        throw new ChannelError("Malformed room frame: not a public message");
      }
      message.room = true;
    }
    return messages;
  }

  /**
   * Takes `room_key` messages out of `messages` and installs them: they are
   * this channel's business, not its reader's.
   */
  #takeRoomKeys(messages: DecodedMessage[]): void {
    for (let i = 0; i < messages.length; i++) {
      const header = messages[i]!.header as { t?: unknown } | null;
      if (header?.t !== "room_key") continue;
      const key = parseRoomKey(header);
      try {
        if (this.#room === null) {
          this.#room = RoomFrameOpener.create(key, this.#roomCrypto!);
        } else this.#room.rekey(key);
      } catch (error) {
        throw new ChannelError(`Bad room key: ${messageOf(error)}`);
      }
      messages.splice(i--, 1);
    }
  }

  /**
   * A bulk frame's one message: only a `file_chunk` may come this way, as
   * its body is not protected by this channel's encryption (its sender
   * sealed it with the file key). The body is a view of the frame.
   */
  async #receiveBulk(data: Uint8Array): Promise<DecodedMessage[]> {
    let opened: { header: Uint8Array; body: Uint8Array };
    try {
      opened = await this.#opener.openBulk(data);
    } catch (error) {
      throw rejectedFrame(messageOf(error));
    }
    let header: unknown;
    try {
      header = decodeHeader(opened.header);
    } catch (error) {
      throw new ChannelError(`Malformed bulk frame: ${messageOf(error)}`);
    }
    if ((header as { t?: unknown } | null)?.t !== "file_chunk") {
      throw new ChannelError("Malformed bulk frame: not a file_chunk");
    }
    return [{ header, body: opened.body, outside: true }];
  }

  /**
   * Frees a batch {@link receive} returned, now rather than at the next
   * garbage collection. Call it only once nothing reads any of its bodies.
   */
  recycle(batch: readonly DecodedMessage[]): void {
    // Every body is a view of the one decrypted frame; a bulk frame's body
    // (`outside`) of the frame as it came, which the connection may read
    // the next one into.
    const first = batch[0];
    if (first === undefined) return;
    if (first.outside === true && this.#conn.reuse !== undefined) {
      this.#conn.reuse(first.body.buffer);
    } else releaseBuffer(first.body.buffer);
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    this.#conn.close(code, reason);
  }

  /**
   * Takes the next flush's share of bulk data: messages to pack go to `into`,
   * bulk frames to `frames` (after which nothing more is packed, to keep
   * the lane's order: the batch goes out before the frames). Returns all it
   * took.
   */
  #takeBulk(into: Uint8Array[], frames: SharedBytes[]): SharedBytes[] {
    let taken = 0;
    let count = 0;
    for (const shared of this.#bulk) {
      const size = shared.byteLength;
      if (count > 0 && taken + size > BULK_PER_FLUSH) break;
      if (shared.body !== null) frames.push(shared);
      else if (frames.length > 0) break;
      else into.push(shared.bytes);
      taken += size;
      count++;
    }
    this.#bulkBytes -= taken;
    return this.#bulk.splice(0, count);
  }

  /**
   * Sends everything queued when shared frames are among it, in order: the
   * messages and the small shared batches (which each channel seals itself)
   * packed into as few frames of ours as they fit, and each room frame
   * between them as it comes. A member that fell behind has many batches
   * queued: one frame of ours for all of them, not one each.
   */
  async #flushShared(): Promise<void> {
    const items = this.#queue;
    this.#queue = [];
    this.#sharedCount = 0;
    // The messages' bytes, counted in #queued until handed on.
    let counted = this.#queueBytes;
    this.#queueBytes = 0;
    let own: Uint8Array[] = [];
    // Small batches whose messages are in `own`: dropped once sealed (the
    // last holder frees their bytes).
    let packed: SharedFrame[] = [];
    const sendOwn = async () => {
      for (const batch of sharedPacker.pack(own)) {
        const now = this.#sealer.trySealNow(batch);
        const frame = now ?? await this.#sealer.seal(batch);
        const handed = Math.min(counted, batch.byteLength);
        counted -= handed;
        this.#queued?.remove(handed);
        if (!this.#gone) this.#conn.send(frame);
        // Connection.send copied it: freed now, as #flush does (a large
        // frame per member left to the collector is a lot of garbage).
        if (now === null) releaseBuffer(frame.buffer);
      }
      own = [];
      for (const item of packed) item.drop();
      packed = [];
    };
    let i = 0;
    try {
      for (; i < items.length; i++) {
        const item = items[i]!;
        if (item instanceof Uint8Array) {
          own.push(item);
          continue;
        }
        const sealedOnce = await item.frame();
        if (sealedOnce === null) {
          // Small: in our own frame (room_frames.ts).
          if (item.messages.byteLength > 0) own.push(item.messages);
          packed.push(item);
        } else {
          await sendOwn();
          if (!this.#gone) {
            const mine = sealedOnce.frameFor(this.#roomMacOrFail());
            // Sent at once: a synchronous MAC writes every member's copy in
            // one buffer (SealedRoomFrame.frameFor).
            this.#conn.send(mine instanceof Uint8Array ? mine : await mine);
            // Every later frame of ours binds the count (PROTOCOL.md 3.8).
            this.#sealer.roomFrames++;
          }
          item.drop();
        }
        this.#streamSent = item.end;
      }
      await sendOwn();
    } finally {
      for (const item of packed) item.drop();
      // From the one that failed on, if one did: not dropped yet.
      for (; i < items.length; i++) {
        const item = items[i]!;
        if (!(item instanceof Uint8Array)) item.drop();
      }
      this.#queued?.remove(counted);
    }
  }

  /** The room MAC, or (a bug: a room frame before joinRoom) throws. */
  #roomMacOrFail(): RoomMac {
    if (this.roomMac === null) {
      throw new Error("A room frame for a channel without a room MAC key");
    }
    return this.roomMac;
  }

  /**
   * Sends the chat messages `queued` (`bytes` of them counted in #queued) in
   * frames packed and sealed right in the connection's send buffers, when
   * it offers them and the sealer can seal now; returns how many messages
   * (and bytes of the count) went, from the first (the rest go the other
   * way). The usual way is a batch packed per recipient, sealed into
   * scratch space and copied by the connection: packBatches and the edge's
   * copy were 16 % of the server's time in the everyone-floods cell (99 x
   * 2048, 100 B; bench/BASELINE.md), both copies of every delivered byte.
   */
  #sendInPlace(
    queued: Uint8Array[],
    bytes: number,
  ): { messages: number; bytes: number } {
    const conn = this.#conn;
    let start = 0;
    let handed = 0;
    if (conn.messageBuffer === undefined || conn.sendFilled === undefined) {
      return { messages: start, bytes: handed };
    }
    while (start < queued.length) {
      const end = batchEnd(queued, start);
      const length = batchBytes(queued, start, end);
      if (!this.#sealer.canSealNow(length)) break;
      const frame = conn.messageBuffer(MIN_FRAME_BYTES + length);
      // Another recipient's flush in this turn may have packed these very
      // messages already (a room where most receive the same): one copy.
      const batch = end - start === 1
        ? queued[start]!
        : start === 0 && end === queued.length
        ? sharedPacker.packed(queued)
        : null;
      if (batch !== null) frame.set(batch, FRAME_HEADER_BYTES);
      else packInto(queued, start, end, frame, FRAME_HEADER_BYTES);
      this.#sealer.sealInPlace(frame);
      // Leaves the count as it enters the connection's (as in #flush).
      const counted = Math.min(bytes - handed, length);
      handed += counted;
      this.#queued?.remove(counted);
      conn.sendFilled(frame);
      start = end;
    }
    return { messages: start, bytes: handed };
  }

  async #flush(): Promise<void> {
    // Taken from the queues and still being sealed: counted until the
    // frames are handed to the connection, which counts them from there.
    let sealing = 0;
    try {
      while (!this.#gone && (this.#queue.length > 0 || this.#bulk.length > 0)) {
        if (this.#sharedCount > 0) {
          await this.#flushShared();
          continue;
        }
        let queued = this.#queue as Uint8Array[];
        this.#queue = [];
        sealing = this.#queueBytes;
        this.#queueBytes = 0;
        if (this.#bulk.length === 0 && queued.length > 0) {
          // Chat only, the usual flush: sealed into the socket's buffers.
          const sent = this.#sendInPlace(queued, sealing);
          sealing -= sent.bytes;
          if (sent.messages === queued.length) {
            this.#queued?.remove(sealing);
            sealing = 0;
            continue;
          }
          queued = queued.slice(sent.messages);
        }
        let taken: SharedBytes[] = NOTHING_TAKEN;
        const bulkFrames: SharedBytes[] = [];
        if (this.#bulk.length > 0) {
          if (this.#conn.bufferedAmount < SOCKET_HIGH_WATER) {
            const before = this.#bulkBytes;
            taken = this.#takeBulk(queued, bulkFrames);
            sealing += before - this.#bulkBytes;
          } else if (queued.length === 0) {
            // The socket is not keeping up. WebSocket has no drain event, so
            // look again shortly; urgent messages still go out meanwhile
            // because sendEncoded does not wait for this.
            await new Promise((resolve) => setTimeout(resolve, BULK_RETRY_MS));
            continue;
          }
        }
        // Seal all batches before awaiting any: the sealer assigns sequence
        // numbers at call time, so sending in this order keeps them in order.
        // Small frames are sealed on the spot and go out in this turn, with
        // no await: most chat traffic, one frame per recipient per message.
        // A flush with file data frees its batches once sealed, so it packs
        // its own; chat batches are shared with the other recipients.
        const batches = queued.length === 0
          ? []
          : taken.length > 0
          ? packBatches(queued)
          : sharedPacker.pack(queued);
        // Each batch leaves the count as its frame enters the connection's
        // (just before: a frame counted twice could hold senders for nothing).
        const handed = (length: number) => {
          const bytes = Math.min(sealing, length);
          sealing -= bytes;
          this.#queued?.remove(bytes);
        };
        // The batches, then the bulk frames: in this order on the wire.
        const jobs: readonly (Uint8Array | SharedBytes)[] =
          bulkFrames.length === 0 ? batches : [...batches, ...bulkFrames];
        // A connection that writes a body as it is gets it so: the holder
        // drops it once the socket is done with it, not once sealed.
        const parts = this.#conn.sendParts === undefined ? null : this.#conn;
        let parted: Set<SharedBytes> | null = null;
        let i = 0;
        for (; i < jobs.length; i++) {
          const job = jobs[i]!;
          if (job instanceof SharedBytes && parts !== null) {
            const head = this.#sealer.trySealBulkHeadNow(job.bytes, job.body!);
            if (head === null) break;
            handed(job.byteLength);
            (parted ??= new Set()).add(job);
            parts.sendParts!(head, job.body!, () => job.drop());
            continue;
          }
          const frame = job instanceof SharedBytes
            ? this.#sealer.trySealBulkNow(job.bytes, job.body!)
            : this.#sealer.trySealNow(job);
          if (frame === null) break;
          handed(job.byteLength);
          this.#conn.send(frame);
        }
        if (i < jobs.length) {
          const frames = jobs.slice(i).map((job) =>
            job instanceof SharedBytes
              ? this.#sealer.sealBulk(job.bytes, job.body!)
              : this.#sealer.seal(job)
          );
          // If the sealer refuses one (session exhausted), the first refusal
          // is thrown below; the others must not become unhandled rejections.
          for (const frame of frames) frame.catch(() => {});
          for (const [k, frame] of frames.entries()) {
            const sealed = await frame;
            handed(jobs[i + k]!.byteLength);
            this.#conn.send(sealed);
            // Connection.send copies: the frame is dead. Freed now, chat as
            // well as file data: under a flood each recipient's frame is
            // hundreds of KiB, and a hundred of them a turn left to the
            // collector are hundreds of MiB of garbage (issue 21).
            releaseBuffer(sealed.buffer);
          }
        }
        // All sealed: with file data in this flush, the batches packed for
        // it are dead, and so is bulk data nobody else holds. Chat-only
        // flushes leave their buffers to the collector: few are large, and
        // freeing them costs time on the busiest path. (A one-message batch
        // is the queued message itself, which other channels may share.)
        if (taken.length > 0) {
          for (const batch of batches) {
            if (
              batch.byteLength >= RELEASE_MIN_BYTES && !queued.includes(batch)
            ) {
              releaseBuffer(batch.buffer);
            }
          }
          for (const shared of taken) {
            if (parted === null || !parted.has(shared)) shared.drop();
          }
        }
        this.#queued?.remove(sealing);
        sealing = 0;
      }
    } catch (error) {
      // Only the sealer can throw here: the session is exhausted or broken.
      this.#failed = true;
      this.#failure = messageOf(error);
      this.#dropQueued();
      this.#conn.close(CloseCode.policyViolation, "session ended");
      this.#report(`chat: closing ${this.remoteAddress}: ${this.#failure}`);
    } finally {
      this.#queued?.remove(sealing);
      this.#flushing = false;
      this.#socketBuffered = this.#conn.bufferedAmount;
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }
}

// --- Handshake drivers ---------------------------------------------------------

export interface AcceptOptions {
  privateKey: CryptoKey;
  publicSpki: Uint8Array;
  timeoutMs?: number;
  /**
   * Runs the step that decrypts the client's RSA ciphertext (the costly
   * one): the server bounds how many run at once.
   */
  limitDecrypt?: <T>(decrypt: () => Promise<T>) => Promise<T>;
  /** Told what waits in the channel's queues (ChannelOptions.queued). */
  queued?: QueueCounter;
  /**
   * A synchronous AES-GCM for small frames (the server passes
   * `nativeSmallFrames` from native_aead.ts); without it WebCrypto seals
   * every frame. Injected, not imported here, so that this module stays free
   * of node:crypto and runs in a browser.
   */
  smallFrames?: SmallFrameAead;
}

/** Server side: runs the handshake on a fresh connection. Throws on failure. */
export function acceptChannel(
  conn: Connection,
  options: AcceptOptions,
): Promise<SecureChannel> {
  return withTimeout(
    conn,
    options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    async (ended) => {
      const handshake = await ServerHandshake.start({
        privateKey: options.privateKey,
        publicSpki: options.publicSpki,
        cipher: smallFramesOption(options.smallFrames),
      });
      conn.send(handshake.hello);
      const clientHello = await receiveText(conn);
      const decrypt = () => {
        // Queued behind other decryptions, the connection may have timed
        // out or closed meanwhile: the RSA work would be for no one.
        if (ended()) {
          return Promise.reject(
            new HandshakeError("the connection ended before its decryption"),
          );
        }
        return handshake.receiveClientHello(clientHello);
      };
      const serverFinished = await (options.limitDecrypt?.(decrypt) ??
        decrypt());
      conn.send(serverFinished);
      const keys = await handshake.receiveClientFinished(
        await receiveText(conn),
      );
      return new SecureChannel(
        conn,
        keys,
        options.queued ? { queued: options.queued } : {},
      );
    },
  );
}

export interface OpenOptions extends ChannelOptions {
  /** The server key the user trusts (from --pub); without it any key is accepted. */
  pinnedSpki?: Uint8Array;
  timeoutMs?: number;
  /** As in {@link AcceptOptions.smallFrames}: unset in a browser. */
  smallFrames?: SmallFrameAead;
}

export interface OpenedChannel {
  channel: SecureChannel;
  serverFingerprint: string;
}

/** Client side: runs the handshake over an open connection. Throws on failure. */
export function openChannel(
  conn: Connection,
  options: OpenOptions,
): Promise<OpenedChannel> {
  return withTimeout(
    conn,
    options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    async () => {
      const handshake = new ClientHandshake({
        ...(options.pinnedSpki ? { pinnedSpki: options.pinnedSpki } : {}),
        cipher: smallFramesOption(options.smallFrames),
      });
      const hello = await handshake.receiveServerHello(
        await receiveText(conn, true),
      );
      conn.send(hello.reply);
      const finished = await handshake.receiveServerFinished(
        await receiveText(conn, true),
      );
      conn.send(finished.reply);
      return {
        channel: new SecureChannel(conn, finished.keys, {
          ...(options.decode ? { decode: options.decode } : {}),
          ...(options.roomCrypto ? { roomCrypto: options.roomCrypto } : {}),
          ...(options.report ? { report: options.report } : {}),
        }),
        serverFingerprint: hello.fingerprint,
      };
    },
  );
}

function smallFramesOption(
  smallFrames: SmallFrameAead | undefined,
): { smallFrames?: SmallFrameAead } {
  return smallFrames === undefined ? {} : { smallFrames };
}

/**
 * The next handshake message. `fromServer`: a client's, which says so when
 * the server broke the WebSocket protocol (once the socket is gone, soon
 * after; the handshake's deadline bounds the wait).
 */
async function receiveText(
  conn: Connection,
  fromServer = false,
): Promise<string> {
  const data = await conn.receive();
  if (data === null) {
    const closed = fromServer ? await conn.closed : null;
    if (closed !== null && closed.violation !== null) {
      throw new HandshakeError(
        `the server broke the WebSocket protocol during the handshake (it sent ${closed.violation})`,
      );
    }
    if (closed?.code === NO_CLOSE_FRAME) throw new CutInHandshakeError();
    throw new HandshakeError("the connection closed during the handshake");
  }
  if (typeof data !== "string") {
    throw new HandshakeError("expected a handshake message, got binary data");
  }
  if (data.length > MAX_HANDSHAKE_BYTES) {
    throw new HandshakeError("handshake message too large");
  }
  return data;
}

/** The close code of a connection that ended without a Close frame (RFC 6455 7.1.5). */
const NO_CLOSE_FRAME = 1006;

/**
 * The server's connection ended during the handshake without a Close frame:
 * cut, as the reference server cuts the oldest connection still in its
 * handshake of the address holding the most when another address needs the
 * room at its cap (docs/PROTOCOL.md 1.1), destroyed by a server stopping,
 * or dropped on the way. A capacity condition, as a 503 that says to try
 * again is: a first connection tries again on it rather than saying it as
 * final (the web page's connectFirst, `chat connect`'s
 * connectFirstPatiently). Every other end of a handshake has a reason that
 * another try would not change, and is said at once: the server's own
 * refusal comes with a Close frame (1008, acceptChannel), a bad message is
 * a plain HandshakeError (a deadline passed is HandshakeTimeoutError, tried
 * again too). In a browser one more case ends
 * as 1006: a server that broke the WebSocket protocol, which the browser
 * fails without telling the page (the terminal client names it, above).
 * It is tried again too: the page cannot tell it from a cut (Chromium
 * fires `error` before such a close, but also before a cut whose socket
 * the server only half-closed), and a cut said as final would turn away
 * the class the retry is for.
 */
export class CutInHandshakeError extends HandshakeError {
  constructor() {
    super("the connection closed during the handshake");
    this.name = "CutInHandshakeError";
  }
}

/**
 * The handshake did not finish within its deadline: on a client, a server
 * too busy to answer in time (a class joining at once: its RSA work queued
 * behind theirs), or a network that lost the way. Like a cut
 * (CutInHandshakeError), a condition that may pass: `chat connect`'s first
 * connection tries again on it (connectFirstPatiently).
 */
export class HandshakeTimeoutError extends HandshakeError {
  constructor(timeoutMs: number) {
    super(`the handshake did not finish within ${timeoutMs / 1000} s`);
    this.name = "HandshakeTimeoutError";
  }
}

/** Runs `run` with a deadline; `run` can ask whether the connection ended. */
async function withTimeout<T>(
  conn: Connection,
  timeoutMs: number,
  run: (ended: () => boolean) => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  conn.closed.then(() => (ended = true));
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ended = true;
      reject(new HandshakeTimeoutError(timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(() => ended), timeout]);
  } catch (error) {
    ended = true;
    conn.close(CloseCode.policyViolation, "handshake failed");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A `room_key` message (docs/PROTOCOL.md 3.8):
 * `{"t":"room_key","key":B64,"epoch":N,"next":N,"mac_key":B64}`.
 *
 * @throws {ChannelError} if a field is missing or malformed
 */
export function parseRoomKey(header: unknown): RoomKey {
  const fields = header as Record<string, unknown>;
  const { key, epoch, next, mac_key: macKey } = fields;
  if (
    typeof key !== "string" || typeof macKey !== "string" ||
    typeof epoch !== "number" || typeof next !== "number"
  ) {
    throw new ChannelError(
      "Bad room key: a field is missing or of a wrong type",
    );
  }
  try {
    return {
      key: fromBase64(key),
      epoch,
      next,
      macKey: fromBase64(macKey),
    };
  } catch (error) {
    throw new ChannelError(`Bad room key: ${messageOf(error)}`);
  }
}
