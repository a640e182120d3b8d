// This module is browser compatible.

/**
 * The server's half of room frames (docs/PROTOCOL.md 3.8): the room key
 * and its epochs, the signing key, and the batches of public messages,
 * each sealed once and sent as the same bytes to every member that asked
 * for room frames. Delivery (delivery.ts) decides what goes in a batch and
 * queues each batch on the members' channels; this module only keeps the
 * keys, the counters and the batches' bytes.
 */

import { concatBytes, randomBytes, toBase64 } from "../crypto/bytes.ts";
import {
  ROOM_FRAME_OVERHEAD,
  ROOM_FRAMES_PER_KEY,
  ROOM_KEY_BYTES,
  type RoomCrypto,
  RoomFrameSealer,
  type RoomSigner,
} from "../crypto/room_frame.ts";
import { MAX_FRAME_BYTES } from "../protocol/limits.ts";
import type { RoomKeyMessage } from "../protocol/messages.ts";
import type { QueueCounter, SharedFrame } from "../transport/secure_channel.ts";

/** A batch's messages at most: a room frame stays within MAX_FRAME_BYTES. */
export const MAX_ROOM_BATCH_BYTES = MAX_FRAME_BYTES - ROOM_FRAME_OVERHEAD;

export interface RoomFramesOptions {
  crypto: RoomCrypto;
  /** The server's room-frame signing key, made at start. */
  signer: RoomSigner;
  /** Frames per key before a new epoch; default ROOM_FRAMES_PER_KEY. */
  framesPerKey?: number;
  /** Told the bytes batched and not yet sent to every member. */
  queued?: QueueCounter;
}

/**
 * A batch of public messages on its way to the members: open (messages
 * may still join it) until the first channel asks for its frame, which
 * seals it once for all of them.
 */
export class RoomBatch implements SharedFrame {
  readonly start: number;
  #end: number;
  #parts: Uint8Array[] = [];
  #frame: Promise<Uint8Array> | null = null;
  #holders = 0;
  #counted = 0;

  constructor(
    readonly stream: { bytes: number },
    readonly counter: number,
    readonly sealer: RoomFrameSealer,
    readonly queued: QueueCounter | null,
  ) {
    this.start = stream.bytes;
    this.#end = this.start;
  }

  get end(): number {
    return this.#end;
  }

  /** Whether a message may still join it. */
  get open(): boolean {
    return this.#frame === null;
  }

  /** Bytes of its messages so far. */
  get bytes(): number {
    return this.#end - this.start;
  }

  /** Whether `bytes` more fit. */
  fits(bytes: number): boolean {
    return this.bytes + bytes <= MAX_ROOM_BATCH_BYTES;
  }

  /** Adds an encoded message (the caller checked `open` and `fits`). */
  add(encoded: Uint8Array): void {
    this.#parts.push(encoded);
    this.#end += encoded.byteLength;
    this.stream.bytes += encoded.byteLength;
    this.#counted += encoded.byteLength;
    this.queued?.add(encoded.byteLength);
  }

  /** One more channel will send it. */
  hold(): void {
    this.#holders++;
  }

  frame(): Promise<Uint8Array> {
    if (this.#frame === null) {
      const parts = this.#parts;
      this.#parts = [];
      this.#frame = this.sealer.seal(
        this.counter,
        parts.length === 1 ? parts[0]! : concatBytes(...parts),
      );
    }
    return this.#frame;
  }

  drop(): void {
    if (--this.#holders > 0) return;
    this.queued?.remove(this.#counted);
    this.#counted = 0;
    this.#parts = [];
  }
}

export class RoomFrames {
  readonly #crypto: RoomCrypto;
  readonly #signer: RoomSigner;
  readonly #framesPerKey: number;
  readonly #queued: QueueCounter | null;
  readonly #stream = { bytes: 0 };
  #sealer: RoomFrameSealer;
  #next = 0;
  #open: RoomBatch | null = null;

  constructor(options: RoomFramesOptions) {
    this.#crypto = options.crypto;
    this.#signer = options.signer;
    this.#framesPerKey = options.framesPerKey ?? ROOM_FRAMES_PER_KEY;
    if (
      !Number.isInteger(this.#framesPerKey) || this.#framesPerKey < 1 ||
      this.#framesPerKey > ROOM_FRAMES_PER_KEY
    ) {
      throw new RangeError(
        `framesPerKey must be from 1 to ${ROOM_FRAMES_PER_KEY}`,
      );
    }
    this.#queued = options.queued ?? null;
    this.#sealer = this.#newSealer(0);
  }

  /** The current epoch. */
  get epoch(): number {
    return this.#sealer.epoch;
  }

  /** What a member joining now is told: its first frame is the next one. */
  keyMessage(): RoomKeyMessage {
    return {
      t: "room_key",
      key: toBase64(this.#sealer.key),
      epoch: this.#sealer.epoch,
      next: this.#next,
      sig_key: toBase64(this.#signer.publicKey),
    };
  }

  /**
   * The batch a message of `bytes` joins: the open one if it can, else
   * null, and the caller starts one with {@link start}.
   */
  openBatch(bytes: number): RoomBatch | null {
    const open = this.#open;
    return open !== null && open.open && open.fits(bytes) ? open : null;
  }

  /** No message joins the open batch any more (see Delivery). */
  close(): void {
    this.#open = null;
  }

  /**
   * A new batch, with the next counter. `rekeyed` is the new key's message
   * when the key ran out and a new epoch began: every member must get it
   * before this batch.
   */
  start(): { batch: RoomBatch; rekeyed: RoomKeyMessage | null } {
    let rekeyed: RoomKeyMessage | null = null;
    if (this.#next >= this.#framesPerKey) {
      this.#sealer = this.#newSealer((this.#sealer.epoch + 1) >>> 0);
      this.#next = 0;
      rekeyed = this.keyMessage();
    }
    const batch = new RoomBatch(
      this.#stream,
      this.#next++,
      this.#sealer,
      this.#queued,
    );
    this.#open = batch;
    return { batch, rekeyed };
  }

  #newSealer(epoch: number): RoomFrameSealer {
    return new RoomFrameSealer(
      epoch,
      randomBytes(ROOM_KEY_BYTES),
      this.#signer,
      this.#crypto,
    );
  }
}
