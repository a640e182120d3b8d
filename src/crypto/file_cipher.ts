// This module is browser compatible.

/**
 * The file cipher: each chunk of a file is sealed once, by the sender, under
 * a fresh 32-byte key for that transfer, and opened once, by each recipient.
 * The server relays the sealed chunk as opaque bytes (docs/PROTOCOL.md 3.7
 * and 5.6, "Chunk encryption"): it never decrypts or re-encrypts file data.
 *
 *     nonce (12) = 00 00 00 00 || u64be(index)
 *     AAD   (43) = "chat/1 file" || u64be(xfer) || u64be(index) || u64be(offset) || u64be(size)
 *     body       = AES-256-GCM(key, nonce, AAD, chunk) = ciphertext || tag (16)
 *
 * `index` counts the chunks of this transfer from 0, `offset` is where the
 * chunk starts in the file, `size` the file's size from the offer. The
 * recipient opens each chunk with the index and offset it expects next, so a
 * chunk that was reordered, replayed, dropped, moved from another transfer or
 * from a file of another size fails authentication; a file cut short ends
 * below `size`, which the recipient checks at `file_end`.
 *
 * The SHA-256 of the file (in `file_end`) and of a part already held (a
 * resume claim) cross the server keyed, so that it cannot tell a file it
 * knows by its hash:
 *
 *     digest key = HKDF-SHA-256(IKM = key, salt = 0x00 * 32, info = "chat/1 file digest", L = 32)
 *     on the wire = hex(HMAC-SHA-256(digest key, SHA-256(bytes)))
 */

import {
  FILE_CHUNK_TAG_BYTES,
  MAX_FILE_CHUNK_BYTES,
} from "../protocol/limits.ts";
import { arrayBufferBacked } from "./bytes.ts";

/** Length of a file key. */
export const FILE_KEY_BYTES = 32;

/** What sealing adds to each chunk: the AES-GCM tag. */
export const FILE_TAG_BYTES = FILE_CHUNK_TAG_BYTES;

/** The label that starts every chunk's AAD. */
export const FILE_AAD_LABEL = "chat/1 file";

/** HKDF's info for the key a file's SHA-256 is keyed with. */
export const FILE_DIGEST_INFO = "chat/1 file digest";

const LABEL = new TextEncoder().encode(FILE_AAD_LABEL);
const AAD_BYTES = LABEL.length + 4 * 8;

/** A fresh random file key. */
export function newFileKey(): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(FILE_KEY_BYTES));
}

/**
 * A synchronous AES-256-GCM for file chunks (native_aead.ts `fileAead`:
 * OpenSSL through FFI, 20-40 times Deno's own AES-GCM on the bench machine,
 * and no promise per chunk). A browser has none and leaves it unset: its
 * WebCrypto is already native. Both make the same bytes; this changes the
 * cost of a chunk, never its format. No cipher is computed here: this is
 * only the seam that keeps this module browser compatible.
 */
export interface FileAead {
  /** Largest plaintext handled (at least a chunk's, or it is not used). */
  readonly maxPlaintext: number;
  /**
   * Writes `ciphertext || tag` of `plaintext` under the 32-byte `key` into
   * `out` at `offset` (room for `plaintext.length + 16` bytes there).
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
   * Writes the plaintext of `ciphertext || tag` into `out` from 0 (room for
   * `sealed.length - 16` bytes) and returns true, or returns false if it
   * fails authentication (nothing of it is left in `out` then).
   */
  openInto(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
  ): boolean;
}

/** Where a chunk belongs: what its nonce and AAD bind it to. */
export interface ChunkPlace {
  /** The chunk's number in this transfer, from 0. */
  index: number;
  /** Where the chunk starts in the file. */
  offset: number;
}

/**
 * Seals and opens the chunks of one transfer (one key, one file): through a
 * {@link FileAead} when one is given (synchronously, into the caller's
 * buffers: {@link sealInto}, {@link openInto}), else through WebCrypto
 * ({@link seal}, {@link open}, which use the {@link FileAead} too when there
 * is one).
 */
export class FileCipher {
  readonly #key: CryptoKey | null;
  readonly #digestKey: CryptoKey;
  readonly #rawKey: Uint8Array;
  readonly #native: FileAead | null;
  readonly #xfer: number;
  readonly #size: number;
  // The native path's nonce and AAD, rewritten for every chunk (C reads
  // them during the call and keeps nothing).
  readonly #nonce = new Uint8Array(12);
  readonly #aad = new Uint8Array(AAD_BYTES);

  private constructor(
    key: CryptoKey | null,
    digestKey: CryptoKey,
    rawKey: Uint8Array,
    native: FileAead | null,
    xfer: number,
    size: number,
  ) {
    this.#key = key;
    this.#digestKey = digestKey;
    this.#rawKey = rawKey;
    this.#native = native;
    this.#xfer = xfer;
    this.#size = size;
  }

  /**
   * The cipher for transfer `xfer` of a `size`-byte file; with `aead`, one
   * that seals and opens synchronously ({@link native}).
   *
   * @throws {RangeError} if `key` is not 32 bytes
   */
  static async create(
    key: Uint8Array,
    xfer: number,
    size: number,
    aead: FileAead | null = null,
  ): Promise<FileCipher> {
    if (key.length !== FILE_KEY_BYTES) {
      throw new RangeError(
        `A file key is ${FILE_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
    const native = aead !== null && aead.maxPlaintext >= MAX_FILE_CHUNK_BYTES
      ? aead
      : null;
    const imported = native !== null ? null : await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(key),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    const base = await crypto.subtle.importKey(
      "raw",
      arrayBufferBacked(key),
      "HKDF",
      false,
      ["deriveKey"],
    );
    const digestKey = await crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: new Uint8Array(32),
        info: new TextEncoder().encode(FILE_DIGEST_INFO),
      },
      base,
      { name: "HMAC", hash: "SHA-256", length: 256 },
      false,
      ["sign"],
    );
    // A copy: the caller may wipe or reuse its key buffer.
    return new FileCipher(imported, digestKey, key.slice(), native, xfer, size);
  }

  /**
   * A SHA-256 (64 hex digits) as it crosses the server: keyed with this
   * transfer's digest key, 64 lower-case hex digits.
   *
   * @throws {TypeError} if `sha256Hex` is not 64 hex digits
   */
  async keyedDigest(sha256Hex: string): Promise<string> {
    if (!/^[0-9a-fA-F]{64}$/.test(sha256Hex)) {
      throw new TypeError("A SHA-256 is 64 hex digits");
    }
    const digest = new Uint8Array(32);
    for (let i = 0; i < 32; i++) {
      digest[i] = parseInt(sha256Hex.slice(2 * i, 2 * i + 2), 16);
    }
    const mac = await crypto.subtle.sign("HMAC", this.#digestKey, digest);
    let hex = "";
    for (const byte of new Uint8Array(mac)) {
      hex += byte.toString(16).padStart(2, "0");
    }
    return hex;
  }

  /** Whether {@link sealInto} and {@link openInto} may be called. */
  get native(): boolean {
    return this.#native !== null;
  }

  /**
   * `chunk` sealed for `place` into `out` from 0, synchronously: the view of
   * `out` holding its ciphertext and tag.
   *
   * @throws {TypeError} if this cipher is not {@link native}
   * @throws {RangeError} if `chunk` is over a chunk's maximum or `out` has
   * no room for it and its tag
   */
  sealInto(
    place: ChunkPlace,
    chunk: Uint8Array,
    out: Uint8Array,
  ): Uint8Array {
    const native = this.#nativeFor(chunk.length);
    const length = chunk.length + FILE_TAG_BYTES;
    if (out.length < length) {
      throw new RangeError(
        `Cannot seal a ${chunk.length}-byte chunk into ${out.length} bytes`,
      );
    }
    native.sealInto(
      this.#rawKey,
      this.#nonceFor(place.index),
      this.#aadFor(place),
      chunk,
      out,
      0,
    );
    return out.subarray(0, length);
  }

  /**
   * The chunk in `sealed` opened into `out` from 0, synchronously, if it
   * authenticates as the chunk at `place` of this transfer (the view of
   * `out` holding it), else null.
   *
   * @throws {TypeError} if this cipher is not {@link native}
   * @throws {RangeError} if `out` has no room for the chunk
   */
  openInto(
    place: ChunkPlace,
    sealed: Uint8Array,
    out: Uint8Array,
  ): Uint8Array | null {
    if (sealed.length < FILE_TAG_BYTES) return null;
    const length = sealed.length - FILE_TAG_BYTES;
    const native = this.#nativeFor(length);
    if (out.length < length) {
      throw new RangeError(
        `Cannot open a ${length}-byte chunk into ${out.length} bytes`,
      );
    }
    const ok = native.openInto(
      this.#rawKey,
      this.#nonceFor(place.index),
      this.#aadFor(place),
      sealed,
      out,
    );
    return ok ? out.subarray(0, length) : null;
  }

  /** `chunk` sealed for `place`: its ciphertext and tag. */
  async seal(
    place: ChunkPlace,
    chunk: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#key === null) {
      const out = new Uint8Array(chunk.length + FILE_TAG_BYTES);
      this.sealInto(place, chunk, out);
      return out;
    }
    const sealed = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: chunkNonce(place.index),
        additionalData: this.aad(place),
      },
      this.#key,
      arrayBufferBacked(chunk),
    );
    return new Uint8Array(sealed);
  }

  /**
   * The chunk in `sealed` if it authenticates as the chunk at `place` of
   * this transfer, else null.
   */
  async open(
    place: ChunkPlace,
    sealed: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer> | null> {
    if (sealed.length < FILE_TAG_BYTES) return null;
    if (this.#key === null) {
      if (sealed.length - FILE_TAG_BYTES > MAX_FILE_CHUNK_BYTES) return null;
      const out = new Uint8Array(sealed.length - FILE_TAG_BYTES);
      return this.openInto(place, sealed, out) === null ? null : out;
    }
    try {
      const chunk = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: chunkNonce(place.index),
          additionalData: this.aad(place),
        },
        this.#key,
        arrayBufferBacked(sealed),
      );
      return new Uint8Array(chunk);
    } catch {
      return null;
    }
  }

  /** The AAD of the chunk at `place` (exported for the test vector). */
  aad(place: ChunkPlace): Uint8Array<ArrayBuffer> {
    return writeAad(new Uint8Array(AAD_BYTES), this.#xfer, this.#size, place);
  }

  #nativeFor(length: number): FileAead {
    const native = this.#native;
    if (native === null) {
      throw new TypeError("This file cipher has no synchronous AES-GCM");
    }
    if (length > MAX_FILE_CHUNK_BYTES) {
      throw new RangeError(
        `A chunk is at most ${MAX_FILE_CHUNK_BYTES} bytes, got ${length}`,
      );
    }
    return native;
  }

  #nonceFor(index: number): Uint8Array {
    new DataView(this.#nonce.buffer).setBigUint64(4, BigInt(index));
    return this.#nonce;
  }

  #aadFor(place: ChunkPlace): Uint8Array {
    return writeAad(this.#aad, this.#xfer, this.#size, place);
  }
}

function writeAad<T extends Uint8Array<ArrayBuffer>>(
  aad: T,
  xfer: number,
  size: number,
  place: ChunkPlace,
): T {
  aad.set(LABEL);
  const view = new DataView(aad.buffer, aad.byteOffset, aad.byteLength);
  let at = LABEL.length;
  for (const value of [xfer, place.index, place.offset, size]) {
    view.setBigUint64(at, BigInt(value));
    at += 8;
  }
  return aad;
}

function chunkNonce(index: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(index));
  return nonce;
}
