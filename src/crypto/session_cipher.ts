// This module is browser compatible.

/**
 * The session cipher: sequence-numbered AES-256-GCM frames, one independent
 * key schedule per direction.
 *
 * Frame layout (all integers big-endian):
 *
 *     version (1 byte, 0x01) || seq (8 bytes) || AES-GCM ciphertext || tag (16 bytes)
 *
 * The 9-byte header is the additional authenticated data. Sequence numbers
 * start at 0 in each direction and go up by one per frame; the receiver
 * accepts only the next one, so replayed, dropped and reordered frames are
 * all rejected.
 *
 * Keys: from a direction's 32-byte traffic secret T0, epoch `e` uses
 *
 *     key_e (32) || iv_e (12) = HKDF-SHA256(IKM = T_e, salt = empty, info = "chat/1 traffic", 44)
 *     T_{e+1}                 = HKDF-SHA256(IKM = T_e, salt = empty, info = "chat/1 next", 32)
 *
 * and covers sequence numbers [e * R, (e + 1) * R). The GCM nonce of a frame
 * is `iv_e XOR (4 zero bytes || seq as 8 bytes)`, unique per key because seq
 * never repeats. Rekeying every R = 2^20 frames means no key ever protects
 * 2^24 frames (with frames of up to 1 MiB, that keeps each key well inside
 * AES-GCM's usage limits); a direction ends after 2^40 frames.
 */

import { MAX_FRAME_BYTES } from "../protocol/limits.ts";
import {
  arrayBufferBacked,
  concatBytes,
  releaseBuffer,
  utf8Encode,
} from "./bytes.ts";

/** First byte of every sealed frame. */
export const FRAME_VERSION = 0x01;

/** Version byte and 8-byte sequence number; also the AAD. */
export const FRAME_HEADER_BYTES = 9;

/** AES-GCM authentication tag length. */
export const FRAME_TAG_BYTES = 16;

/** Smallest possible frame: a header and the tag of an empty plaintext. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + FRAME_TAG_BYTES;

/**
 * First byte of a bulk frame: a sealed message header followed by a body
 * this layer does not encrypt (a file chunk, already sealed end to end by
 * its sender; docs/PROTOCOL.md 3.7).
 */
export const BULK_FRAME_VERSION = 0x02;

/** Version byte, sequence number and the body's length: a bulk frame's AAD. */
export const BULK_HEADER_BYTES = 13;

/** Smallest bulk frame: a 1-byte header, its tag and an empty body. */
export const MIN_BULK_FRAME_BYTES = BULK_HEADER_BYTES + 1 + FRAME_TAG_BYTES;

/** Frames per key epoch (R). */
export const REKEY_INTERVAL = 2 ** 20;

/** Frames per direction per session; sealing more throws. */
export const MAX_FRAMES = 2 ** 40;

/** Length of a direction's initial traffic secret T0. */
export const TRAFFIC_SECRET_BYTES = 32;

/** HKDF info for an epoch's key and IV. */
export const TRAFFIC_LABEL = "chat/1 traffic";

/** HKDF info for the next epoch's traffic secret. */
export const NEXT_SECRET_LABEL = "chat/1 next";

/** Upper bound on R: no key may ever see 2^24 frames. */
const MAX_REKEY_INTERVAL = 2 ** 24;

const AES_KEY_BYTES = 32;
const IV_BYTES = 12;
const EMPTY = new Uint8Array(0);
const TRAFFIC_INFO = utf8Encode(TRAFFIC_LABEL);
const NEXT_SECRET_INFO = utf8Encode(NEXT_SECRET_LABEL);

export interface SessionCipherOptions {
  /** Frames per key epoch; default {@link REKEY_INTERVAL}, at most 2^24. */
  rekeyInterval?: number;
  /** Frames per direction; default and maximum {@link MAX_FRAMES}. */
  maxFrames?: number;
  /**
   * A synchronous native AES-256-GCM for small frames (see
   * {@link SmallFrameAead}). Without it every frame goes through WebCrypto.
   */
  smallFrames?: SmallFrameAead;
}

/**
 * The platform's native AES-256-GCM called synchronously, for frames of up to
 * `maxPlaintext` bytes (`native_aead.ts` provides it: OpenSSL through FFI,
 * or node:crypto for frames up to 4 KiB; a
 * browser has none and leaves it unset). WebCrypto's AES-GCM is
 * asynchronous: every call waits for the event loop, which dominates a
 * 100-byte chat frame sent to 99 recipients one by one. Frames above
 * `maxPlaintext` still go through WebCrypto. Both produce the same bytes:
 * this changes the cost of a frame, never its format. No cipher is computed
 * here: this is only the seam that keeps this module browser compatible.
 */
export interface SmallFrameAead {
  /** Largest plaintext (or ciphertext without tag) handled here. */
  readonly maxPlaintext: number;
  /**
   * Writes `ciphertext || tag` of `plaintext` under the 32-byte `key` into
   * `out` at `offset` (`out` has room for `plaintext.length + 16` bytes
   * there). `plaintext` may be that very place in `out` (sealing in place,
   * {@link FrameSealer.sealInPlace}), never a part of it elsewhere.
   */
  sealInto(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
  /**
   * The plaintext of `ciphertext || tag`, or null if it fails
   * authentication: a plain Uint8Array with a buffer of its own.
   */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array<ArrayBuffer> | null;
  /**
   * Where offered: opens `ciphertext || tag` where it is, the plaintext
   * written over the ciphertext; whether it authenticated (if not, those
   * bytes are meaningless). One buffer less per frame than {@link open}.
   */
  openInPlace?(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): boolean;
}

export type FrameErrorReason =
  | "too short"
  | "too long"
  | "bad version"
  | "out of sequence"
  | "bad body length"
  | "authentication failed"
  // Room frames (room_frame.ts):
  | "wrong epoch"
  | "bad mac"
  | "no room key";

/**
 * A received frame that must not be accepted. The connection it came from is
 * no longer trustworthy and should be closed.
 */
export class FrameError extends Error {
  readonly reason: FrameErrorReason;

  constructor(reason: FrameErrorReason, message: string) {
    super(message);
    this.name = "FrameError";
    this.reason = reason;
  }
}

/** The direction has used up its sequence numbers; start a new session. */
export class SessionExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SessionExhaustedError";
  }
}

/** Encrypts outgoing frames for one direction. */
export class FrameSealer {
  readonly #schedule: KeySchedule;
  readonly #maxFrames: number;
  readonly #small: SmallFrameAead | undefined;
  #nextSeq = 0;

  /**
   * Room frames (room_frame.ts) sent on this connection so far: once there
   * is one, every frame sealed after it binds the count in its AAD
   * (docs/PROTOCOL.md 3.8), so that a room frame cannot be moved past this
   * direction's own frames, nor dropped, unseen. Read when a seal is asked.
   */
  roomFrames = 0;

  constructor(trafficSecret: Uint8Array, options: SessionCipherOptions = {}) {
    const { rekeyInterval, maxFrames } = checkOptions(options);
    this.#schedule = new KeySchedule(trafficSecret, rekeyInterval);
    this.#maxFrames = maxFrames;
    this.#small = options.smallFrames;
  }

  /** The sequence number the next {@link seal} call will use. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Seals one frame. The sequence number is taken when this is called, so
   * concurrent calls produce frames in call order; send them in that order.
   * `plaintext` must not change until the returned promise settles.
   *
   * @throws {RangeError} if the frame would exceed `MAX_FRAME_BYTES`
   * @throws {SessionExhaustedError} after `maxFrames` frames
   */
  seal(plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const frameBytes = MIN_FRAME_BYTES + plaintext.length;
    if (frameBytes > MAX_FRAME_BYTES) {
      return Promise.reject(
        new RangeError(
          `Plaintext too long: ${plaintext.length} bytes make a ${frameBytes}-byte frame, the maximum is ${MAX_FRAME_BYTES}`,
        ),
      );
    }
    if (this.#nextSeq >= this.#maxFrames) {
      return Promise.reject(
        new SessionExhaustedError(
          `Session exhausted: all ${this.#maxFrames} sequence numbers were used`,
        ),
      );
    }
    const now = this.trySealNow(plaintext);
    // The scratch frame is overwritten by the next seal: the caller gets a copy.
    if (now !== null) return Promise.resolve(now.slice());
    const seq = this.#nextSeq++;
    const keys = this.#schedule.keysFor(seq);
    const small = this.#small;
    const room = this.roomFrames;
    if (small !== undefined && plaintext.length <= small.maxPlaintext) {
      // This epoch's keys are still being derived.
      return keys.then((ready) => {
        const frame = new Uint8Array(MIN_FRAME_BYTES + plaintext.length);
        const header = frame.subarray(0, FRAME_HEADER_BYTES);
        sealSmallInto(small, seq, ready, plaintext, frame, header, room);
        return frame;
      });
    }
    return this.#seal(seq, keys, plaintext, room);
  }

  /**
   * Seals the frame right away when it can be (a {@link SmallFrameAead} is
   * set, the plaintext is small and this epoch's keys are derived); else
   * returns null and takes no sequence number, and {@link seal} is the way.
   *
   * The frame is written into a scratch buffer that the next call to
   * `trySealNow` on any sealer overwrites: hand it to something that copies
   * it (`Connection.send` does) before sealing again. A server seals one
   * small frame per recipient of each chat message, and a fresh buffer for
   * each was most of what its collector had to sweep.
   */
  trySealNow(plaintext: Uint8Array): Uint8Array<ArrayBuffer> | null {
    const small = this.#small;
    if (small === undefined || plaintext.length > small.maxPlaintext) {
      return null;
    }
    const seq = this.#nextSeq;
    if (seq >= this.#maxFrames) return null;
    const ready = this.#schedule.readyKeys(seq);
    if (ready === null) return null;
    this.#nextSeq++;
    const frame = scratch.frame(
      MIN_FRAME_BYTES + plaintext.length,
      Math.min(MIN_FRAME_BYTES + small.maxPlaintext, MAX_FRAME_BYTES),
    );
    sealSmallInto(
      small,
      seq,
      ready,
      plaintext,
      frame,
      scratch.header,
      this.roomFrames,
    );
    return frame;
  }

  /**
   * Whether {@link sealInPlace} can seal a frame of `plaintextLength` bytes
   * now: when {@link trySealNow} would (a {@link SmallFrameAead} is set, the
   * plaintext is small, this epoch's keys are derived, sequence numbers are
   * left). Else {@link seal} is the way.
   */
  canSealNow(plaintextLength: number): boolean {
    const small = this.#small;
    const seq = this.#nextSeq;
    return small !== undefined && plaintextLength <= small.maxPlaintext &&
      MIN_FRAME_BYTES + plaintextLength <= MAX_FRAME_BYTES &&
      seq < this.#maxFrames && this.#schedule.readyKeys(seq) !== null;
  }

  /**
   * Seals `frame` where it is: its plaintext is already in place, from
   * {@link FRAME_HEADER_BYTES} to {@link FRAME_TAG_BYTES} before its end;
   * the header before it and the tag after it are written here, and the
   * plaintext is encrypted in place. So a batch packed straight into the
   * buffer a socket will write becomes its frame with no copy (a server
   * seals a frame for each recipient of every message).
   *
   * @throws {RangeError} when {@link canSealNow} is false for its plaintext
   */
  sealInPlace(frame: Uint8Array): void {
    const length = frame.length - MIN_FRAME_BYTES;
    if (length < 0 || !this.canSealNow(length)) {
      throw new RangeError(
        `Cannot seal a ${frame.length}-byte frame in place now`,
      );
    }
    const seq = this.#nextSeq++;
    const keys = this.#schedule.readyKeys(seq)!;
    writeFrameHeader(frame, seq);
    this.#small!.sealInto(
      keys.rawKey,
      writeFrameNonce(scratchNonce, keys.iv, seq),
      boundAad(frame.subarray(0, FRAME_HEADER_BYTES), this.roomFrames),
      frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length),
      frame,
      FRAME_HEADER_BYTES,
    );
  }

  /**
   * Seals a bulk frame (docs/PROTOCOL.md 3.7): `header` encrypted and
   * authenticated as `seal` does a batch, `body` appended as it is, bound by
   * its length. Frames come out in call order, as with {@link seal}.
   *
   * @throws {RangeError} if the frame would exceed `MAX_FRAME_BYTES`
   * @throws {SessionExhaustedError} after `maxFrames` frames
   */
  sealBulk(
    header: Uint8Array,
    body: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const frameBytes = bulkFrameBytes(header, body);
    if (frameBytes > MAX_FRAME_BYTES || header.length === 0) {
      return Promise.reject(
        new RangeError(
          `Bad bulk frame: a ${header.length}-byte header and a ${body.length}-byte body make a ${frameBytes}-byte frame, the maximum is ${MAX_FRAME_BYTES}`,
        ),
      );
    }
    if (this.#nextSeq >= this.#maxFrames) {
      return Promise.reject(
        new SessionExhaustedError(
          `Session exhausted: all ${this.#maxFrames} sequence numbers were used`,
        ),
      );
    }
    const now = this.trySealBulkNow(header, body);
    if (now !== null) return Promise.resolve(now.slice());
    const seq = this.#nextSeq++;
    return this.#sealBulk(
      seq,
      this.#schedule.keysFor(seq),
      header,
      body,
      this.roomFrames,
    );
  }

  /**
   * {@link sealBulk} right away when it can be (as {@link trySealNow}: a
   * {@link SmallFrameAead}, a small header, this epoch's keys derived), into
   * a scratch buffer the next call overwrites; else null, and no sequence
   * number is taken. Only the header is encrypted: the body is copied in.
   */
  trySealBulkNow(
    header: Uint8Array,
    body: Uint8Array,
  ): Uint8Array<ArrayBuffer> | null {
    return this.#trySealBulk(header, body, true);
  }

  /**
   * {@link trySealBulkNow} without the body: only the frame's first bytes
   * (bulk header, sealed header), for a connection that writes the body
   * after them as it is (`Connection.sendParts`), so that a relay copies no
   * file bytes per recipient. The same scratch rules; the body is only
   * measured.
   */
  trySealBulkHeadNow(
    header: Uint8Array,
    body: Uint8Array,
  ): Uint8Array<ArrayBuffer> | null {
    return this.#trySealBulk(header, body, false);
  }

  #trySealBulk(
    header: Uint8Array,
    body: Uint8Array,
    withBody: boolean,
  ): Uint8Array<ArrayBuffer> | null {
    const small = this.#small;
    const length = bulkFrameBytes(header, body);
    if (
      small === undefined || header.length > small.maxPlaintext ||
      header.length === 0 || length > MAX_FRAME_BYTES
    ) return null;
    const seq = this.#nextSeq;
    if (seq >= this.#maxFrames) return null;
    const ready = this.#schedule.readyKeys(seq);
    if (ready === null) return null;
    this.#nextSeq++;
    const headLength = length - body.length;
    let frame: Uint8Array<ArrayBuffer>;
    if (withBody) {
      if (bulkScratch.length < length) {
        bulkScratch = new Uint8Array(Math.max(length, MAX_FRAME_BYTES));
      }
      frame = bulkScratch.subarray(0, length);
    } else {
      if (bulkHeadScratch.length < headLength) {
        bulkHeadScratch = new Uint8Array(headLength);
      }
      frame = bulkHeadScratch.subarray(0, headLength);
    }
    writeBulkHeader(frame, seq, body.length);
    small.sealInto(
      ready.rawKey,
      writeFrameNonce(scratchNonce, ready.iv, seq),
      boundAad(frame.subarray(0, BULK_HEADER_BYTES), this.roomFrames),
      header,
      frame,
      BULK_HEADER_BYTES,
    );
    if (withBody) frame.set(body, headLength);
    return frame;
  }

  async #sealBulk(
    seq: number,
    keys: Promise<EpochKeys>,
    header: Uint8Array,
    body: Uint8Array,
    room: number,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const prefix = new Uint8Array(BULK_HEADER_BYTES);
    writeBulkHeader(prefix, seq, body.length);
    const aad = boundAad(prefix, room).slice();
    const ready = await keys;
    const sealed = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: frameNonce(ready.iv, seq),
        additionalData: aad,
      },
      await ready.aesKey(),
      arrayBufferBacked(header),
    );
    return concatBytes(prefix, new Uint8Array(sealed), body);
  }

  async #seal(
    seq: number,
    keys: Promise<EpochKeys>,
    plaintext: Uint8Array,
    room: number,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const header = frameHeader(seq);
    const aad = boundAad(header, room).slice();
    const ready = await keys;
    const sealed = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: frameNonce(ready.iv, seq),
        additionalData: aad,
      },
      await ready.aesKey(),
      arrayBufferBacked(plaintext),
    );
    const frame = concatBytes(header, new Uint8Array(sealed));
    releaseBuffer(sealed);
    return frame;
  }
}

/**
 * Decrypts and checks incoming frames for one direction.
 *
 * Call {@link open} for one frame at a time, awaiting each before the next:
 * the expected sequence number advances only once a frame is authenticated,
 * so overlapping calls are refused.
 */
export class FrameOpener {
  readonly #schedule: KeySchedule;
  readonly #maxFrames: number;
  readonly #small: SmallFrameAead | undefined;
  #expectedSeq = 0;
  #pending = false;

  /**
   * Room frames accepted on this connection so far: bound in the AAD of
   * every later frame, as {@link FrameSealer.roomFrames}.
   */
  roomFrames = 0;

  constructor(trafficSecret: Uint8Array, options: SessionCipherOptions = {}) {
    const { rekeyInterval, maxFrames } = checkOptions(options);
    this.#schedule = new KeySchedule(trafficSecret, rekeyInterval);
    this.#maxFrames = maxFrames;
    this.#small = options.smallFrames;
  }

  /** The sequence number the next accepted frame must carry. */
  get expectedSeq(): number {
    return this.#expectedSeq;
  }

  /**
   * Authenticates and decrypts one frame.
   *
   * @throws {FrameError} if the frame is malformed, out of sequence or forged
   * @throws {SessionExhaustedError} if the peer went past `maxFrames`
   * @throws {Error} if called while a previous call is still pending
   */
  async open(frame: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    const expected = this.#check(frame, FRAME_VERSION, MIN_FRAME_BYTES);
    this.#pending = true;
    try {
      return await this.#decrypt(
        expected,
        frame.subarray(0, FRAME_HEADER_BYTES),
        frame.subarray(FRAME_HEADER_BYTES),
      );
    } finally {
      this.#pending = false;
    }
  }

  /**
   * Authenticates and decrypts one frame right away when it can be (a
   * {@link SmallFrameAead} is set, the frame is small and this epoch's keys
   * are derived), as {@link open} does; else returns null, having changed
   * nothing, and {@link open} is the way. A client opens one frame per chat
   * message it gets, and `open`'s promises cost more than the decryption.
   * `inPlace`: the frame is the caller's to give up (Connection.receive
   * hands each over): where the SmallFrameAead can, the plaintext is
   * decrypted over its ciphertext and returned as a view of `frame`, and
   * `frame` is not to be freed before it (a frame that fails is garbage).
   *
   * @throws as {@link open} does
   */
  tryOpenNow(frame: Uint8Array, inPlace = false): Uint8Array | null {
    const small = this.#small;
    if (
      small === undefined || frame.length - MIN_FRAME_BYTES > small.maxPlaintext
    ) return null;
    const expected = this.#check(frame, FRAME_VERSION, MIN_FRAME_BYTES);
    const keys = this.#schedule.readyKeys(expected);
    if (keys === null) return null;
    if (inPlace && small.openInPlace !== undefined) {
      const sealed = frame.subarray(FRAME_HEADER_BYTES);
      const opened = small.openInPlace(
        keys.rawKey,
        writeFrameNonce(scratchNonce, keys.iv, expected),
        boundAad(frame.subarray(0, FRAME_HEADER_BYTES), this.roomFrames),
        sealed,
      );
      if (!opened) throw failedFrame(expected);
      this.#expectedSeq = expected + 1;
      return sealed.subarray(0, sealed.length - FRAME_TAG_BYTES);
    }
    return this.#openSmall(
      small,
      keys,
      expected,
      boundAad(frame.subarray(0, FRAME_HEADER_BYTES), this.roomFrames),
      frame.subarray(FRAME_HEADER_BYTES),
    );
  }

  /**
   * Authenticates and decrypts one bulk frame (docs/PROTOCOL.md 3.7): its
   * header's plaintext, and its body as it came (a view of `frame`).
   *
   * @throws as {@link open} does
   */
  async openBulk(
    frame: Uint8Array,
  ): Promise<{ header: Uint8Array<ArrayBuffer>; body: Uint8Array }> {
    const expected = this.#check(
      frame,
      BULK_FRAME_VERSION,
      MIN_BULK_FRAME_BYTES,
    );
    const bodyLength = ((frame[9]! << 24) | (frame[10]! << 16) |
      (frame[11]! << 8) | frame[12]!) >>> 0;
    const sealedEnd = frame.length - bodyLength;
    if (bodyLength > frame.length - MIN_BULK_FRAME_BYTES) {
      throw new FrameError(
        "bad body length",
        `Bulk frame body of ${bodyLength} bytes in a ${frame.length}-byte frame`,
      );
    }
    this.#pending = true;
    try {
      const header = await this.#decrypt(
        expected,
        frame.subarray(0, BULK_HEADER_BYTES),
        frame.subarray(BULK_HEADER_BYTES, sealedEnd),
      );
      return { header, body: frame.subarray(sealedEnd) };
    } finally {
      this.#pending = false;
    }
  }

  /** The checks made before decrypting; returns the frame's `seq`. */
  #check(frame: Uint8Array, version: number, minBytes: number): number {
    if (this.#pending) {
      throw new Error(
        "FrameOpener.open called while another open is pending; open frames one at a time",
      );
    }
    if (frame.length < minBytes) {
      throw new FrameError(
        "too short",
        `Frame too short: ${frame.length} bytes, the minimum is ${minBytes}`,
      );
    }
    if (frame.length > MAX_FRAME_BYTES) {
      throw new FrameError(
        "too long",
        `Frame too long: ${frame.length} bytes, the maximum is ${MAX_FRAME_BYTES}`,
      );
    }
    if (frame[0] !== version) {
      throw new FrameError(
        "bad version",
        `Unsupported frame version ${frame[0]} (expected ${version})`,
      );
    }
    const expected = this.#expectedSeq;
    if (expected >= this.#maxFrames) {
      throw new SessionExhaustedError(
        `Session exhausted: all ${this.#maxFrames} sequence numbers were used`,
      );
    }
    // Checked before decrypting: a replayed frame is authentic, and only its
    // sequence number gives it away.
    if (!hasSeq(frame, 1, expected)) {
      const seq = new DataView(frame.buffer, frame.byteOffset + 1, 8)
        .getBigUint64(0);
      throw new FrameError(
        "out of sequence",
        `Frame out of sequence: expected ${expected}, got ${seq}`,
      );
    }
    return expected;
  }

  /** Opens `sealed` of frame `expected` with the SmallFrameAead, at once. */
  #openSmall(
    small: SmallFrameAead,
    keys: EpochKeys,
    expected: number,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array<ArrayBuffer> {
    const opened = small.open(
      keys.rawKey,
      writeFrameNonce(scratchNonce, keys.iv, expected),
      aad,
      sealed,
    );
    if (opened === null) throw failedFrame(expected);
    this.#expectedSeq = expected + 1;
    return opened;
  }

  /** Opens `sealed` (ciphertext and tag) of frame `expected`, with `aad`. */
  async #decrypt(
    expected: number,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const keys = this.#schedule.readyKeys(expected) ??
      await this.#schedule.keysFor(expected);
    const iv = keys.iv;
    // A copy: the scratch buffer is not ours past the await below.
    aad = this.roomFrames === 0 ? aad : boundAad(aad, this.roomFrames).slice();
    const small = this.#small;
    if (
      small !== undefined &&
      sealed.length - FRAME_TAG_BYTES <= small.maxPlaintext
    ) return this.#openSmall(small, keys, expected, aad, sealed);
    const key = await keys.aesKey();
    let plaintext: ArrayBuffer;
    try {
      plaintext = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: frameNonce(iv, expected),
          additionalData: aad.slice(),
        },
        key,
        arrayBufferBacked(sealed),
      );
    } catch {
      throw new FrameError(
        "authentication failed",
        `Frame ${expected} failed authentication`,
      );
    }
    this.#expectedSeq = expected + 1;
    return new Uint8Array(plaintext);
  }
}

function failedFrame(seq: number): FrameError {
  return new FrameError(
    "authentication failed",
    `Frame ${seq} failed authentication`,
  );
}

/** One epoch's keys for one direction. */
class EpochKeys {
  #aesKey: Promise<CryptoKey> | null = null;

  constructor(
    /** The AES key as bytes, for a {@link SmallFrameAead}. */
    readonly rawKey: Uint8Array,
    readonly iv: Uint8Array,
    /**
     * T_e, to derive T_{e+1}. Kept as raw bytes, not an HKDF CryptoKey: a
     * key object costs about 4 KiB per connection in Deno and is needed only
     * at a rekey (the handshake held these bytes in memory anyway).
     */
    readonly secret: Uint8Array,
  ) {}

  /**
   * The AES key as a WebCrypto key, imported when a frame first needs it:
   * an AES CryptoKey holds ~2 KiB of heap in Deno 2.9.6, and a connection
   * whose frames are all small (sealed with a SmallFrameAead, as every idle
   * one on a server is) never needs it.
   */
  aesKey(): Promise<CryptoKey> {
    return this.#aesKey ??= crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(this.rawKey),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
  }
}

/**
 * The chain of epoch keys. Only the newest epoch is cached: sequence numbers
 * only grow, and a caller already holding an older epoch's promise keeps it.
 */
class KeySchedule {
  readonly #rekeyInterval: number;
  #epoch = 0;
  #current: Promise<EpochKeys>;
  /** The newest epoch's keys once derived, so small frames need no await. */
  #ready: EpochKeys | null = null;
  #readyEpoch = -1;

  constructor(trafficSecret: Uint8Array, rekeyInterval: number) {
    if (trafficSecret.length !== TRAFFIC_SECRET_BYTES) {
      throw new RangeError(
        `Traffic secret must be ${TRAFFIC_SECRET_BYTES} bytes, got ${trafficSecret.length}`,
      );
    }
    this.#rekeyInterval = rekeyInterval;
    this.#current = deriveEpoch(trafficSecret.slice());
    this.#remember(this.#current, 0);
  }

  /** The keys for `seq` if they are derived already, else null. */
  readyKeys(seq: number): EpochKeys | null {
    const epoch = Math.floor(seq / this.#rekeyInterval);
    return this.#readyEpoch === epoch ? this.#ready : null;
  }

  #remember(keys: Promise<EpochKeys>, epoch: number): void {
    keys.then((ready) => {
      if (epoch > this.#readyEpoch) {
        this.#ready = ready;
        this.#readyEpoch = epoch;
      }
    }, () => {
      // Rejections reach whoever awaits keysFor(); a cipher that is never
      // used must not crash the process with an unhandled rejection.
    });
  }

  /** Must be called synchronously in sequence order (it may advance the cache). */
  keysFor(seq: number): Promise<EpochKeys> {
    const epoch = Math.floor(seq / this.#rekeyInterval);
    while (this.#epoch < epoch) {
      this.#current = this.#current.then(nextEpoch);
      this.#epoch++;
      this.#remember(this.#current, this.#epoch);
    }
    return this.#current;
  }
}

function importHkdfKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    arrayBufferBacked(secret),
    "HKDF",
    false,
    ["deriveBits"],
  );
}

function hkdf(
  secret: CryptoKey,
  info: Uint8Array<ArrayBuffer>,
  bytes: number,
): Promise<ArrayBuffer> {
  return crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: EMPTY, info },
    secret,
    bytes * 8,
  );
}

async function deriveEpoch(secret: Uint8Array): Promise<EpochKeys> {
  const okm = new Uint8Array(
    await hkdf(
      await importHkdfKey(secret),
      TRAFFIC_INFO,
      AES_KEY_BYTES + IV_BYTES,
    ),
  );
  // Views into one buffer: each ArrayBuffer costs memory per connection.
  return new EpochKeys(
    okm.subarray(0, AES_KEY_BYTES),
    okm.subarray(AES_KEY_BYTES),
    secret,
  );
}

/**
 * `frame` is exactly `MIN_FRAME_BYTES + plaintext.length` bytes long;
 * `header` is a view of its first FRAME_HEADER_BYTES.
 */
function sealSmallInto(
  small: SmallFrameAead,
  seq: number,
  keys: EpochKeys,
  plaintext: Uint8Array,
  frame: Uint8Array,
  header: Uint8Array,
  room: number,
): void {
  writeFrameHeader(frame, seq);
  small.sealInto(
    keys.rawKey,
    writeFrameNonce(scratchNonce, keys.iv, seq),
    boundAad(header, room),
    plaintext,
    frame,
    FRAME_HEADER_BYTES,
  );
}

/**
 * Scratch space for synchronous seals (see trySealNow); JavaScript runs one
 * seal at a time, so one serves every sealer. Its views are kept too (one per
 * frame length): a server seals a frame per recipient of every message, and
 * two fresh views per frame were ~200 bytes of garbage each time.
 */
class ScratchFrames {
  #bytes = new Uint8Array(0);
  #header = this.#bytes;
  #views: Uint8Array<ArrayBuffer>[] = [];

  /** The first FRAME_HEADER_BYTES of the buffer. */
  get header(): Uint8Array {
    return this.#header;
  }

  /** The first `length` bytes of a buffer of at least `capacity` bytes. */
  frame(length: number, capacity: number): Uint8Array<ArrayBuffer> {
    if (this.#bytes.length < capacity) {
      this.#bytes = new Uint8Array(capacity);
      this.#header = this.#bytes.subarray(0, FRAME_HEADER_BYTES);
      this.#views = [];
    }
    // Views of chat-sized frames are kept (one per length seen); a large
    // frame's is made each time, so that the cache stays small.
    if (length > CACHED_VIEW_BYTES) return this.#bytes.subarray(0, length);
    return this.#views[length] ??= this.#bytes.subarray(0, length);
  }
}

/** Scratch views up to this length are cached by {@link ScratchFrames}. */
const CACHED_VIEW_BYTES = 8 * 1024;

const scratch = new ScratchFrames();
/** Scratch for synchronous bulk frames (trySealBulkNow), grown on demand. */
let bulkScratch = new Uint8Array(0);
/** The same for frame heads alone (trySealBulkHeadNow): small. */
let bulkHeadScratch = new Uint8Array(0);

function bulkFrameBytes(header: Uint8Array, body: Uint8Array): number {
  return BULK_HEADER_BYTES + header.length + FRAME_TAG_BYTES + body.length;
}

function writeBulkHeader(frame: Uint8Array, seq: number, bodyLength: number) {
  frame[0] = BULK_FRAME_VERSION;
  writeSeq(frame, 1, seq);
  frame[9] = bodyLength >>> 24;
  frame[10] = (bodyLength >>> 16) & 0xff;
  frame[11] = (bodyLength >>> 8) & 0xff;
  frame[12] = bodyLength & 0xff;
}
const scratchNonce = new Uint8Array(new ArrayBuffer(IV_BYTES));

/** Room frame counts are bound as 8 more bytes of AAD. */
const ROOM_COUNT_BYTES = 8;
const scratchAad = new Uint8Array(BULK_HEADER_BYTES + ROOM_COUNT_BYTES);

/**
 * A frame's AAD: its header alone while no room frame came before it on
 * this connection (so nothing changes for a client that never asked for
 * them), else header || u64be(room frames before it) (docs/PROTOCOL.md
 * 3.8). Written into a scratch buffer the next call overwrites: callers
 * that keep it across an await copy it.
 */
function boundAad(header: Uint8Array, room: number): Uint8Array {
  if (room === 0) return header;
  const aad = scratchAad.subarray(0, header.length + ROOM_COUNT_BYTES);
  aad.set(header);
  writeSeq(aad, header.length, room);
  return aad;
}

async function nextEpoch(previous: EpochKeys): Promise<EpochKeys> {
  const next = new Uint8Array(
    await hkdf(
      await importHkdfKey(previous.secret),
      NEXT_SECRET_INFO,
      TRAFFIC_SECRET_BYTES,
    ),
  );
  return await deriveEpoch(next);
}

function frameHeader(seq: number): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  writeFrameHeader(header, seq);
  return header;
}

function writeFrameHeader(frame: Uint8Array, seq: number): void {
  frame[0] = FRAME_VERSION;
  writeSeq(frame, 1, seq);
}

/** iv XOR (4 zero bytes || seq as a big-endian u64). */
function frameNonce(iv: Uint8Array, seq: number): Uint8Array<ArrayBuffer> {
  return writeFrameNonce(new Uint8Array(new ArrayBuffer(IV_BYTES)), iv, seq);
}

function writeFrameNonce<T extends Uint8Array>(
  nonce: T,
  iv: Uint8Array,
  seq: number,
): T {
  nonce.fill(0, 0, 4);
  writeSeq(nonce, 4, seq);
  for (let i = 0; i < IV_BYTES; i++) nonce[i] = nonce[i]! ^ iv[i]!;
  return nonce;
}

/** Whether the big-endian u64 at `offset` is `seq` (read without garbage). */
function hasSeq(bytes: Uint8Array, offset: number, seq: number): boolean {
  const high = ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) |
    (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
  const low = ((bytes[offset + 4]! << 24) | (bytes[offset + 5]! << 16) |
    (bytes[offset + 6]! << 8) | bytes[offset + 7]!) >>> 0;
  return high === Math.floor(seq / 0x1_0000_0000) && low === seq >>> 0;
}

/**
 * `seq` as a big-endian u64 at `offset`, without a DataView or BigInt
 * (garbage on the path every frame takes). Sequence numbers stay below
 * MAX_FRAMES, far inside the integers a double holds exactly.
 */
function writeSeq(out: Uint8Array, offset: number, seq: number): void {
  const high = Math.floor(seq / 0x1_0000_0000);
  const low = seq >>> 0;
  out[offset] = high >>> 24;
  out[offset + 1] = (high >>> 16) & 0xff;
  out[offset + 2] = (high >>> 8) & 0xff;
  out[offset + 3] = high & 0xff;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = (low >>> 16) & 0xff;
  out[offset + 6] = (low >>> 8) & 0xff;
  out[offset + 7] = low & 0xff;
}

function checkOptions(
  options: SessionCipherOptions,
): { rekeyInterval: number; maxFrames: number } {
  const rekeyInterval = options.rekeyInterval ?? REKEY_INTERVAL;
  const maxFrames = options.maxFrames ?? MAX_FRAMES;
  if (
    !Number.isInteger(rekeyInterval) || rekeyInterval < 1 ||
    rekeyInterval > MAX_REKEY_INTERVAL
  ) {
    throw new RangeError(
      `rekeyInterval must be an integer from 1 to ${MAX_REKEY_INTERVAL}, got ${rekeyInterval}`,
    );
  }
  if (!Number.isInteger(maxFrames) || maxFrames < 1 || maxFrames > MAX_FRAMES) {
    throw new RangeError(
      `maxFrames must be an integer from 1 to ${MAX_FRAMES}, got ${maxFrames}`,
    );
  }
  return { rekeyInterval, maxFrames };
}
