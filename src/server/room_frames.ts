// This module is browser compatible.

/**
 * The server's half of room frames (docs/PROTOCOL.md 3.8): the room key
 * and its epochs, the members' MAC keys, and the batches of public
 * messages, each sealed once and sent as the same bytes (but each member's
 * MAC) to every member that asked for room frames. Delivery (delivery.ts) decides what goes in a batch and
 * queues each batch on the members' channels; this module only keeps the
 * keys, the counters and the batches' bytes.
 */

import {
  concatBytes,
  randomBytes,
  releaseBuffer,
  toBase64,
} from "../crypto/bytes.ts";
import {
  ROOM_FRAME_OVERHEAD,
  ROOM_FRAMES_PER_KEY,
  ROOM_KEY_BYTES,
  type RoomCrypto,
  RoomFrameSealer,
  type RoomMac,
  type SealedRoomFrame,
} from "../crypto/room_frame.ts";
import { MAX_FRAME_BYTES } from "../protocol/limits.ts";
import type { RoomKeyMessage } from "../protocol/messages.ts";
import type { QueueCounter, SharedFrame } from "../transport/secure_channel.ts";

/** A batch's messages at most: a room frame stays within MAX_FRAME_BYTES. */
export const MAX_ROOM_BATCH_BYTES = MAX_FRAME_BYTES - ROOM_FRAME_OVERHEAD;

export interface RoomFramesOptions {
  crypto: RoomCrypto;
  /** Frames per key before a new epoch; default ROOM_FRAMES_PER_KEY. */
  framesPerKey?: number;
  /**
   * Told the bytes batched and not yet sent, once per member that holds
   * them (each member's copy of a frame is its own once sent).
   */
  queued?: QueueCounter;
  /**
   * Batches smaller than this go inside each member's own frames
   * (default MIN_ROOM_FRAME_BYTES; 1 makes every batch a room frame).
   */
  minBytes?: number;
}

/**
 * Batches of fewer bytes than this go to each member inside its own frames,
 * not in a room frame. A room frame saves the server a seal per member but
 * costs it an HMAC per member instead (~0.6 µs with OpenSSL, about what
 * sealing a 100-byte frame costs), and costs every member a SHA-256 and an
 * HMAC more than opening its own frame: worth it once the batch's bytes cost
 * more to seal per member than that (OpenSSL AES-GCM: ~0.2 ns a byte).
 * See bench/BASELINE.md "Room frames".
 */
export const MIN_ROOM_FRAME_BYTES = 4096;

/**
 * A batch of public messages on its way to the members: open (messages
 * may still join it) until it is decided: when the first channel asks for
 * its frame, when something else goes to a member, when it is full or when
 * a member joins. Then it is either sealed once for all (a room frame, which
 * takes the next counter) or, if small, left for each channel to seal with
 * its own frames (no counter taken).
 */
export class RoomBatch implements SharedFrame {
  readonly start: number;
  #end: number;
  #parts: Uint8Array[] = [];
  #messages: Uint8Array | null = null;
  #frame: Promise<SealedRoomFrame | null> | null = null;
  /** The room frame once sealed, freed after the last holder. */
  #sealed: SealedRoomFrame | null = null;
  /** Whether #messages is a concatenation of ours (freed with it). */
  #joined = false;
  #holders = 0;
  #counted = 0;

  constructor(
    readonly stream: { bytes: number },
    readonly owner: RoomFrames,
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

  /** Its messages, once it is decided. */
  get messages(): Uint8Array {
    return this.#messages ?? new Uint8Array(0);
  }

  /** Whether `bytes` more fit. */
  fits(bytes: number): boolean {
    return this.bytes + bytes <= MAX_ROOM_BATCH_BYTES;
  }

  /**
   * Adds an encoded message (the caller checked `open` and `fits`): counted
   * once per holder, as each will send (or seal) its own copy.
   */
  add(encoded: Uint8Array): void {
    this.#parts.push(encoded);
    this.#end += encoded.byteLength;
    this.stream.bytes += encoded.byteLength;
    this.#count(encoded.byteLength * this.#holders);
  }

  /** One more channel will send it: its bytes so far count once more. */
  hold(): void {
    this.#holders++;
    this.#count(this.bytes);
  }

  #count(bytes: number): void {
    if (bytes === 0) return;
    this.#counted += bytes;
    this.queued?.add(bytes);
  }

  /** Closes it and decides how it goes (see the class). */
  frame(): Promise<SealedRoomFrame | null> {
    if (this.#frame === null) {
      const parts = this.#parts;
      this.#parts = [];
      const messages = parts.length === 1 ? parts[0]! : concatBytes(...parts);
      this.#messages = messages;
      this.#joined = parts.length > 1;
      this.#frame = this.owner.seal(messages).then((sealed) => {
        if (this.#holders > 0) this.#sealed = sealed;
        else if (sealed !== null) releaseBuffer(sealed.buffer);
        return sealed;
      });
    }
    return this.#frame;
  }

  /** One holder is done with it (it sent it or its channel ended). */
  drop(): void {
    // Its share: every holder counted the batch's bytes (see add and hold).
    const share = --this.#holders > 0 ? this.bytes : this.#counted;
    this.#counted -= share;
    this.queued?.remove(share);
    if (this.#holders > 0) return;
    this.#parts = [];
    // Every channel copied them (Connection.send) or sealed its own: a
    // batch of up to 1 MiB, and its frame, are freed now rather than left
    // to the collector (see releaseBuffer).
    if (this.#sealed !== null) releaseBuffer(this.#sealed.buffer);
    if (this.#joined && this.#messages !== null) {
      releaseBuffer(this.#messages.buffer);
    }
    this.#sealed = null;
    this.#messages = null;
  }
}

export class RoomFrames {
  readonly #crypto: RoomCrypto;
  readonly #framesPerKey: number;
  readonly #minBytes: number;
  readonly #queued: QueueCounter | null;
  readonly #stream = { bytes: 0 };
  #sealer: RoomFrameSealer;
  #next = 0;
  #open: RoomBatch | null = null;

  constructor(options: RoomFramesOptions) {
    this.#crypto = options.crypto;
    this.#framesPerKey = options.framesPerKey ?? ROOM_FRAMES_PER_KEY;
    this.#minBytes = options.minBytes ?? MIN_ROOM_FRAME_BYTES;
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

  /**
   * A new member's MAC key (32 random bytes, its own alone), and the MAC
   * its channel puts on each room frame it sends.
   */
  memberKey(): { key: Uint8Array; mac: RoomMac } {
    const key = randomBytes(ROOM_KEY_BYTES);
    return { key, mac: this.#crypto.mac(key) };
  }

  /**
   * What the member with `macKey` is told when it joins now (its first
   * frame is the next one) or when a new epoch starts.
   */
  keyMessage(macKey: Uint8Array): RoomKeyMessage {
    return {
      t: "room_key",
      key: toBase64(this.#sealer.key),
      epoch: this.#sealer.epoch,
      next: this.#next,
      mac_key: toBase64(macKey),
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

  /**
   * No message joins the open batch any more (see Delivery), and it is
   * decided now: counters go to room frames in the order batches were made.
   */
  close(): void {
    void this.#open?.frame();
    this.#open = null;
  }

  /**
   * A new batch (the open one is closed first). `rekeyed`: the key ran out
   * and a new epoch began, and every member must get its
   * {@link keyMessage} before this batch.
   */
  start(): { batch: RoomBatch; rekeyed: boolean } {
    this.close();
    let rekeyed = false;
    if (this.#next >= this.#framesPerKey) {
      this.#sealer = this.#newSealer((this.#sealer.epoch + 1) >>> 0);
      this.#next = 0;
      rekeyed = true;
    }
    const batch = new RoomBatch(this.#stream, this, this.#queued);
    this.#open = batch;
    return { batch, rekeyed };
  }

  /**
   * A closed batch's room frame with the next counter, or null when it is
   * small: then each member's channel seals it with its own frames.
   */
  seal(messages: Uint8Array): Promise<SealedRoomFrame | null> {
    if (messages.byteLength < Math.max(1, this.#minBytes)) {
      return Promise.resolve(null);
    }
    // Never past the key's frames: start() began a new epoch before this
    // batch if the last one ran out.
    return this.#sealer.seal(this.#next++, messages);
  }

  #newSealer(epoch: number): RoomFrameSealer {
    return new RoomFrameSealer(
      epoch,
      randomBytes(ROOM_KEY_BYTES),
      this.#crypto,
    );
  }
}
