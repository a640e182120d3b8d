// This module is browser compatible.

/**
 * Room frames (docs/PROTOCOL.md 3.8): a batch of public-room messages
 * sealed ONCE under a room key every member holds, signed by the server, and
 * sent as the same bytes to every member. Sealing each batch once per
 * recipient made the server's cost grow with bytes x recipients (issue 21).
 *
 * Frame layout (integers big-endian):
 *
 *     version (1 byte, 0x03) || epoch (4) || counter (8)
 *       || AES-256-GCM(room key, nonce = epoch || counter, aad = those 13 bytes)
 *       || Ed25519 signature (64)
 *
 * The signature is the server's, over
 *
 *     "chat/1 room frame" || header (13) || SHA-256(ciphertext || tag)
 *
 * with a signing key the server makes at start and gives each member (with
 * the room key) over the member's own sealed channel. The room key lets a
 * member read room frames; only the signature makes one authentic, so a
 * member who can write into another member's connection still cannot forge,
 * alter, replay, reorder or drop room frames without being caught.
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

/** Version, epoch and counter: also the AAD and the start of what is signed. */
export const ROOM_HEADER_BYTES = 13;

/** Ed25519 signatures are 64 bytes. */
export const ROOM_SIGNATURE_BYTES = 64;

/** A room key and an Ed25519 public key are 32 bytes each. */
export const ROOM_KEY_BYTES = 32;

/** AES-GCM tag. */
const TAG_BYTES = 16;

/** Smallest room frame: header, the tag of a 1-byte batch and a signature. */
export const MIN_ROOM_FRAME_BYTES = ROOM_HEADER_BYTES + 1 + TAG_BYTES +
  ROOM_SIGNATURE_BYTES;

/** Bytes a room frame adds to its batch. */
export const ROOM_FRAME_OVERHEAD = ROOM_HEADER_BYTES + TAG_BYTES +
  ROOM_SIGNATURE_BYTES;

/**
 * Frames per room key at most (as a session's epochs: 2^24 frames of up to
 * 1 MiB keep each key well inside AES-GCM's usage limits).
 */
export const ROOM_FRAMES_PER_KEY = 2 ** 24;

/** Prefix of every signed message: a room-frame signature means nothing else. */
export const ROOM_SIGNATURE_LABEL = "chat/1 room frame";
const LABEL = utf8Encode(ROOM_SIGNATURE_LABEL);

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

/** An Ed25519 private key, and its public key (raw, 32 bytes). */
export interface RoomSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** An Ed25519 public key. */
export interface RoomVerifier {
  verify(
    message: Uint8Array,
    signature: Uint8Array,
  ): boolean | Promise<boolean>;
}

/**
 * The primitives room frames use. {@link webRoomCrypto} is WebCrypto's
 * (asynchronous, any browser); `native_room.ts` has node:crypto's, called
 * synchronously, for the server and the terminal client. The same bytes
 * either way: this is a seam for cost, never for format.
 */
export interface RoomCrypto {
  cipher(key: Uint8Array): RoomCipher | Promise<RoomCipher>;
  /** A signer with a fresh key pair, or the one made from a 32-byte seed. */
  signer(seed?: Uint8Array): Promise<RoomSigner>;
  /** @throws {Error} if `publicKey` is not a valid raw Ed25519 key */
  verifier(publicKey: Uint8Array): Promise<RoomVerifier>;
  sha256(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A room key as the server hands it to a member (`room_key`). */
export interface RoomKey {
  epoch: number;
  key: Uint8Array;
  /** The counter of the next room frame the member gets. */
  next: number;
  /** The server's room-frame signing key, raw Ed25519. */
  signingKey: Uint8Array;
}

/** The room-key fields that are not in range. */
export function roomKeyProblem(key: RoomKey): string | null {
  if (key.key.length !== ROOM_KEY_BYTES) return "the room key is not 32 bytes";
  if (key.signingKey.length !== ROOM_KEY_BYTES) {
    return "the room signing key is not 32 bytes";
  }
  if (!isU32(key.epoch)) return "the room epoch is not a 32-bit number";
  if (
    !Number.isSafeInteger(key.next) || key.next < 0 ||
    key.next >= ROOM_FRAMES_PER_KEY
  ) return "the next room frame counter is out of range";
  return null;
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
    readonly signer: RoomSigner,
    readonly crypto: RoomCrypto,
  ) {
    if (key.length !== ROOM_KEY_BYTES || !isU32(epoch)) {
      throw new RangeError("A room key is 32 bytes and its epoch a u32");
    }
    this.#cipher = crypto.cipher(key);
  }

  /**
   * The room frame `counter` of this epoch carrying `batch` (messages as a
   * channel frame's batch holds them).
   *
   * @throws {RangeError} if the counter is out of range or the batch empty
   */
  async seal(counter: number, batch: Uint8Array): Promise<Uint8Array> {
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
    const signature = await this.signer.sign(signedMessage(header, digest));
    return concatBytes(header, sealed, signature);
  }
}

/**
 * Checks and opens the room frames one member receives. Each must be the
 * next of the current epoch, signed by the server's key and sealed under the
 * room key; anything else throws a {@link FrameError}, and the connection it
 * came on is no longer trustworthy. Open one frame at a time.
 */
export class RoomFrameOpener {
  #epoch: number;
  #expected: number;
  #cipher: RoomCipher | Promise<RoomCipher>;
  #verifier: RoomVerifier;
  readonly #crypto: RoomCrypto;

  private constructor(
    key: RoomKey,
    cipher: RoomCipher | Promise<RoomCipher>,
    verifier: RoomVerifier,
    crypto: RoomCrypto,
  ) {
    this.#epoch = key.epoch;
    this.#expected = key.next;
    this.#cipher = cipher;
    this.#verifier = verifier;
    this.#crypto = crypto;
  }

  /** @throws {RangeError} if the key is malformed */
  static async create(
    key: RoomKey,
    crypto: RoomCrypto,
  ): Promise<RoomFrameOpener> {
    const problem = roomKeyProblem(key);
    if (problem !== null) throw new RangeError(`Bad room key: ${problem}`);
    return new RoomFrameOpener(
      key,
      crypto.cipher(key.key),
      await crypto.verifier(key.signingKey),
      crypto,
    );
  }

  /** The epoch and counter the next frame must carry. */
  get expected(): { epoch: number; counter: number } {
    return { epoch: this.#epoch, counter: this.#expected };
  }

  /**
   * A new room key (the server started an epoch): frames of the old one are
   * refused from now on.
   */
  async rekey(key: RoomKey): Promise<void> {
    const problem = roomKeyProblem(key);
    if (problem !== null) throw new RangeError(`Bad room key: ${problem}`);
    this.#verifier = await this.#crypto.verifier(key.signingKey);
    this.#cipher = this.#crypto.cipher(key.key);
    this.#epoch = key.epoch;
    this.#expected = key.next;
  }

  /**
   * The batch a room frame carries.
   *
   * @throws {FrameError} if it is malformed, of another epoch, not the next
   *   one, not signed by the server, or fails authentication
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
    const sealedEnd = frame.length - ROOM_SIGNATURE_BYTES;
    const sealed = frame.subarray(ROOM_HEADER_BYTES, sealedEnd);
    const digest = await this.#crypto.sha256(sealed);
    const signed = await this.#verifier.verify(
      signedMessage(header, digest),
      frame.subarray(sealedEnd),
    );
    if (!signed) {
      throw new FrameError(
        "bad signature",
        `Room frame ${counter} is not signed by the server`,
      );
    }
    const cipher = await this.#cipher;
    const batch = await cipher.open(roomNonce(header), header, sealed);
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

  async signer(seed) {
    let privateKey: CryptoKey;
    let publicKey: Uint8Array;
    if (seed === undefined) {
      const pair = await crypto.subtle.generateKey(
        { name: "Ed25519" },
        true,
        ["sign", "verify"],
      ) as CryptoKeyPair;
      privateKey = pair.privateKey;
      publicKey = new Uint8Array(
        await crypto.subtle.exportKey("raw", pair.publicKey),
      );
    } else {
      privateKey = await crypto.subtle.importKey(
        "pkcs8",
        ed25519Pkcs8(seed),
        { name: "Ed25519" },
        true,
        ["sign"],
      );
      const jwk = await crypto.subtle.exportKey("jwk", privateKey);
      publicKey = Uint8Array.fromBase64(jwk.x ?? "", {
        alphabet: "base64url",
      });
    }
    return {
      publicKey,
      async sign(message) {
        return new Uint8Array(
          await crypto.subtle.sign(
            "Ed25519",
            privateKey,
            arrayBufferBacked(message),
          ),
        );
      },
    };
  },

  async verifier(publicKey) {
    const key = await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(publicKey),
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    return {
      verify(message, signature) {
        return crypto.subtle.verify(
          "Ed25519",
          key,
          arrayBufferBacked(signature),
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

/** A PKCS#8 Ed25519 private key (RFC 8410) holding `seed`. */
export function ed25519Pkcs8(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  if (seed.length !== 32) throw new RangeError("An Ed25519 seed is 32 bytes");
  return concatBytes(PKCS8_PREFIX, seed);
}

const PKCS8_PREFIX = Uint8Array.fromHex("302e020100300506032b657004220420");

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

function signedMessage(header: Uint8Array, digest: Uint8Array): Uint8Array {
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
