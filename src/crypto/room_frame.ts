// This module is browser compatible.

/**
 * Room frames (docs/PROTOCOL.md 3.8): a batch of public-room messages
 * sealed ONCE under a room key every member holds, and sent as the same
 * bytes to every member but a 32-byte trailer. Sealing each batch once per
 * recipient made the server's cost grow with bytes x recipients (issue 21).
 *
 * Frame layout (integers big-endian):
 *
 *     version (1 byte, 0x03) || epoch (4) || counter (8)
 *       || AES-256-GCM(room key, nonce = epoch || counter, aad = those 13 bytes)
 *       || HMAC-SHA-256(member's MAC key, authenticated message) (32)
 *
 * The authenticated message is
 *
 *     "chat/1 room frame" || header (13) || SHA-256(ciphertext || tag)
 *
 * computed once per batch; only its HMAC is per member, under a MAC key the
 * server makes for that member alone and gives it (with the room key) over
 * the member's own sealed channel. The room key lets a member read room
 * frames; only the MAC makes one authentic, and a member holds no other
 * member's MAC key, so a member who can write into another member's
 * connection still cannot forge, alter, replay, reorder or drop room frames
 * without being caught. (The per-frame Ed25519 signature this replaced cost
 * every reader a verification: the clients became the bottleneck.)
 *
 * A room key is 32 random bytes, fresh per epoch; the nonce is unique per
 * key because the counter only grows within an epoch. The server starts a
 * new epoch before {@link ROOM_FRAMES_PER_KEY} frames.
 */

import { arrayBufferBacked, concatBytes, utf8Encode } from "./bytes.ts";
import { FrameError } from "./session_cipher.ts";
import { MAX_FRAME_BYTES } from "../protocol/limits.ts";

/** First byte of a room frame. */
export const ROOM_FRAME_VERSION = 0x03;

/** Version, epoch and counter: also the AAD and the start of what is MACed. */
export const ROOM_HEADER_BYTES = 13;

/** The per-member trailer: an HMAC-SHA-256. */
export const ROOM_MAC_BYTES = 32;

/** A room key and a member's MAC key are 32 bytes each. */
export const ROOM_KEY_BYTES = 32;

/** AES-GCM tag. */
const TAG_BYTES = 16;

/** Smallest room frame: header, the tag of a 1-byte batch and a MAC. */
export const MIN_ROOM_FRAME_BYTES = ROOM_HEADER_BYTES + 1 + TAG_BYTES +
  ROOM_MAC_BYTES;

/** Bytes a room frame adds to its batch. */
export const ROOM_FRAME_OVERHEAD = ROOM_HEADER_BYTES + TAG_BYTES +
  ROOM_MAC_BYTES;

/**
 * Frames per room key at most (as a session's epochs: 2^24 frames of up to
 * 1 MiB keep each key well inside AES-GCM's usage limits).
 */
export const ROOM_FRAMES_PER_KEY = 2 ** 24;

/** Prefix of every authenticated message: a room-frame MAC means nothing else. */
export const ROOM_MAC_LABEL = "chat/1 room frame";
const LABEL = utf8Encode(ROOM_MAC_LABEL);

/** AES-256-GCM under one room key. */
export interface RoomCipher {
  /** `ciphertext || tag`. */
  seal(
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array | Promise<Uint8Array>;
  /** The plaintext, or null if `sealed` fails authentication. */
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array | null | Promise<Uint8Array | null>;
}

/** HMAC-SHA-256 under one member's MAC key. */
export interface RoomMac {
  /** The 32-byte HMAC of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Whether `mac` is the HMAC of `message` (compared in constant time). */
  verify(message: Uint8Array, mac: Uint8Array): boolean | Promise<boolean>;
}

/**
 * The primitives room frames use. {@link webRoomCrypto} is WebCrypto's
 * (asynchronous, any browser); `native_room.ts` has the native ones, called
 * synchronously, for the server and the terminal client. The same bytes
 * either way: this is a seam for cost, never for format.
 */
export interface RoomCrypto {
  cipher(key: Uint8Array): RoomCipher | Promise<RoomCipher>;
  /** @throws {RangeError} if `key` is not 32 bytes */
  mac(key: Uint8Array): RoomMac;
  sha256(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A room key as the server hands it to a member (`room_key`). */
export interface RoomKey {
  epoch: number;
  key: Uint8Array;
  /** The counter of the next room frame the member gets. */
  next: number;
  /** This member's MAC key (32 bytes): no other member knows it. */
  macKey: Uint8Array;
}

/** The room-key fields that are not in range. */
export function roomKeyProblem(key: RoomKey): string | null {
  if (key.key.length !== ROOM_KEY_BYTES) return "the room key is not 32 bytes";
  if (key.macKey.length !== ROOM_KEY_BYTES) {
    return "the room MAC key is not 32 bytes";
  }
  if (!isU32(key.epoch)) return "the room epoch is not a 32-bit number";
  if (
    !Number.isSafeInteger(key.next) || key.next < 0 ||
    key.next >= ROOM_FRAMES_PER_KEY
  ) return "the next room frame counter is out of range";
  return null;
}

/**
 * A batch sealed once as a room frame: the bytes every member gets, but for
 * the 32-byte MAC that ends each member's copy ({@link frameFor}).
 */
export class SealedRoomFrame {
  /** `header || ciphertext || tag || room for the MAC`. */
  readonly #frame: Uint8Array<ArrayBuffer>;
  /** What each member's MAC covers (the same for every member). */
  readonly authenticated: Uint8Array;

  constructor(frame: Uint8Array<ArrayBuffer>, authenticated: Uint8Array) {
    this.#frame = frame;
    this.authenticated = authenticated;
  }

  /** Length of every member's copy. */
  get byteLength(): number {
    return this.#frame.byteLength;
  }

  /** The buffer all copies are made in (for freeing once nobody sends it). */
  get buffer(): ArrayBuffer {
    return this.#frame.buffer;
  }

  /**
   * The frame for the member whose MAC key `mac` holds. With a synchronous
   * MAC (the server's) it is the one buffer every member's copy is written
   * in, valid only until the next call: send it before anything else runs
   * (Connection.send copies at once). That keeps a 1 MiB room frame from
   * being copied twice per member. With an asynchronous MAC, a fresh copy.
   */
  frameFor(mac: RoomMac): Uint8Array | Promise<Uint8Array> {
    const tag = mac.sign(this.authenticated);
    if (tag instanceof Uint8Array) return this.#withMac(this.#frame, tag);
    return tag.then((bytes) => this.#withMac(this.#frame.slice(), bytes));
  }

  #withMac(frame: Uint8Array, mac: Uint8Array): Uint8Array {
    if (mac.length !== ROOM_MAC_BYTES) {
      throw new RangeError(`A room MAC is ${ROOM_MAC_BYTES} bytes`);
    }
    frame.set(mac, frame.length - ROOM_MAC_BYTES);
    return frame;
  }
}

/**
 * Seals room frames of one epoch: `seal` once per batch, whatever the
 * number of members who get it.
 */
export class RoomFrameSealer {
  readonly #cipher: RoomCipher | Promise<RoomCipher>;

  constructor(
    readonly epoch: number,
    readonly key: Uint8Array,
    readonly crypto: RoomCrypto,
  ) {
    if (key.length !== ROOM_KEY_BYTES || !isU32(epoch)) {
      throw new RangeError("A room key is 32 bytes and its epoch a u32");
    }
    this.#cipher = crypto.cipher(key);
  }

  /**
   * The room frame `counter` of this epoch carrying `batch` (messages as a
   * channel frame's batch holds them), still without any member's MAC.
   *
   * @throws {RangeError} if the counter is out of range or the batch empty
   */
  async seal(counter: number, batch: Uint8Array): Promise<SealedRoomFrame> {
    if (
      !Number.isSafeInteger(counter) || counter < 0 ||
      counter >= ROOM_FRAMES_PER_KEY
    ) {
      throw new RangeError(`Room frame counter ${counter} out of range`);
    }
    if (batch.length === 0) throw new RangeError("Empty room batch");
    const header = roomHeader(this.epoch, counter);
    const cipher = await this.#cipher;
    const sealed = await cipher.seal(roomNonce(header), header, batch);
    const digest = await this.crypto.sha256(sealed);
    const frame = new Uint8Array(
      ROOM_HEADER_BYTES + sealed.length + ROOM_MAC_BYTES,
    );
    frame.set(header);
    frame.set(sealed, ROOM_HEADER_BYTES);
    return new SealedRoomFrame(frame, authenticatedMessage(header, digest));
  }
}

/**
 * Checks and opens the room frames one member receives. Each must be the
 * next of the current epoch, carry this member's MAC and be sealed under the
 * room key; anything else throws a {@link FrameError}, and the connection it
 * came on is no longer trustworthy. Open one frame at a time.
 */
export class RoomFrameOpener {
  #epoch: number;
  #expected: number;
  #cipher: RoomCipher | Promise<RoomCipher>;
  #mac: RoomMac;
  readonly #crypto: RoomCrypto;

  private constructor(key: RoomKey, crypto: RoomCrypto) {
    this.#epoch = key.epoch;
    this.#expected = key.next;
    this.#cipher = crypto.cipher(key.key);
    this.#mac = crypto.mac(key.macKey);
    this.#crypto = crypto;
  }

  /** @throws {RangeError} if the key is malformed */
  static create(key: RoomKey, crypto: RoomCrypto): RoomFrameOpener {
    const problem = roomKeyProblem(key);
    if (problem !== null) throw new RangeError(`Bad room key: ${problem}`);
    return new RoomFrameOpener(key, crypto);
  }

  /** The epoch and counter the next frame must carry. */
  get expected(): { epoch: number; counter: number } {
    return { epoch: this.#epoch, counter: this.#expected };
  }

  /**
   * A new room key (the server started an epoch): frames of the old one are
   * refused from now on.
   */
  rekey(key: RoomKey): void {
    const problem = roomKeyProblem(key);
    if (problem !== null) throw new RangeError(`Bad room key: ${problem}`);
    this.#mac = this.#crypto.mac(key.macKey);
    this.#cipher = this.#crypto.cipher(key.key);
    this.#epoch = key.epoch;
    this.#expected = key.next;
  }

  /**
   * The batch a room frame carries.
   *
   * @throws {FrameError} if it is malformed, of another epoch, not the next
   *   one, without this member's MAC, or fails authentication
   */
  async open(frame: Uint8Array): Promise<Uint8Array> {
    if (frame.length < MIN_ROOM_FRAME_BYTES) {
      throw new FrameError(
        "too short",
        `Room frame too short: ${frame.length} bytes, the minimum is ${MIN_ROOM_FRAME_BYTES}`,
      );
    }
    if (frame.length > MAX_FRAME_BYTES) {
      throw new FrameError(
        "too long",
        `Room frame too long: ${frame.length} bytes, the maximum is ${MAX_FRAME_BYTES}`,
      );
    }
    if (frame[0] !== ROOM_FRAME_VERSION) {
      throw new FrameError(
        "bad version",
        `Unsupported room frame version ${frame[0]}`,
      );
    }
    const epoch = readU32(frame, 1);
    if (epoch !== this.#epoch) {
      throw new FrameError(
        "wrong epoch",
        `Room frame of epoch ${epoch}, expected ${this.#epoch}`,
      );
    }
    const counter = readU32(frame, 5) * 2 ** 32 + readU32(frame, 9);
    // Checked before anything else: a replayed frame is authentic, and only
    // its counter gives it away.
    if (counter !== this.#expected) {
      throw new FrameError(
        "out of sequence",
        `Room frame out of sequence: expected ${this.#expected}, got ${counter}`,
      );
    }
    const header = frame.subarray(0, ROOM_HEADER_BYTES);
    const sealedEnd = frame.length - ROOM_MAC_BYTES;
    const sealed = frame.subarray(ROOM_HEADER_BYTES, sealedEnd);
    // Awaited only when asynchronous (WebCrypto): the native primitives
    // answer at once, and each needless await is a turn of the microtask
    // queue per frame for every member.
    const hashed = this.#crypto.sha256(sealed);
    const digest = hashed instanceof Promise ? await hashed : hashed;
    const checked = this.#mac.verify(
      authenticatedMessage(header, digest),
      frame.subarray(sealedEnd),
    );
    const authentic = typeof checked === "boolean" ? checked : await checked;
    if (!authentic) {
      throw new FrameError(
        "bad mac",
        `Room frame ${counter} does not carry this member's MAC`,
      );
    }
    const cipher = this.#cipher instanceof Promise
      ? await this.#cipher
      : this.#cipher;
    const opened = cipher.open(roomNonce(header), header, sealed);
    const batch = opened instanceof Promise ? await opened : opened;
    if (batch === null) {
      throw new FrameError(
        "authentication failed",
        `Room frame ${counter} failed authentication`,
      );
    }
    this.#expected = counter + 1;
    return batch;
  }
}

/** WebCrypto's primitives for room frames (asynchronous). */
export const webRoomCrypto: RoomCrypto = {
  cipher(key) {
    const imported = crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(key),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    return imported.then((aes): RoomCipher => ({
      async seal(nonce, aad, plaintext) {
        return new Uint8Array(
          await crypto.subtle.encrypt(
            {
              name: "AES-GCM",
              iv: arrayBufferBacked(nonce),
              additionalData: arrayBufferBacked(aad),
            },
            aes,
            arrayBufferBacked(plaintext),
          ),
        );
      },
      async open(nonce, aad, sealed) {
        try {
          return new Uint8Array(
            await crypto.subtle.decrypt(
              {
                name: "AES-GCM",
                iv: arrayBufferBacked(nonce),
                additionalData: arrayBufferBacked(aad),
              },
              aes,
              arrayBufferBacked(sealed),
            ),
          );
        } catch {
          return null;
        }
      },
    }));
  },

  mac(key) {
    if (key.length !== ROOM_KEY_BYTES) {
      throw new RangeError("A room MAC key is 32 bytes");
    }
    const imported = crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(key.slice()),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return {
      async sign(message) {
        return new Uint8Array(
          await crypto.subtle.sign(
            "HMAC",
            await imported,
            arrayBufferBacked(message),
          ),
        );
      },
      async verify(message, mac) {
        // WebCrypto compares in constant time.
        return crypto.subtle.verify(
          "HMAC",
          await imported,
          arrayBufferBacked(mac),
          arrayBufferBacked(message),
        );
      },
    };
  },

  async sha256(data) {
    return new Uint8Array(
      await crypto.subtle.digest("SHA-256", arrayBufferBacked(data)),
    );
  },
};

/** A room frame's first 13 bytes. */
export function roomHeader(
  epoch: number,
  counter: number,
): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(ROOM_HEADER_BYTES);
  header[0] = ROOM_FRAME_VERSION;
  writeU32(header, 1, epoch);
  writeU32(header, 5, Math.floor(counter / 2 ** 32));
  writeU32(header, 9, counter >>> 0);
  return header;
}

/** The GCM nonce: the header's epoch and counter (12 bytes). */
function roomNonce(header: Uint8Array): Uint8Array {
  return header.subarray(1, ROOM_HEADER_BYTES);
}

/** What each member's MAC covers: the label, the header and the digest. */
function authenticatedMessage(
  header: Uint8Array,
  digest: Uint8Array,
): Uint8Array {
  return concatBytes(LABEL, header, digest);
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function writeU32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) |
    (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
