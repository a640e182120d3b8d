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

import { FILE_CHUNK_TAG_BYTES } from "../protocol/limits.ts";
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

/** Where a chunk belongs: what its nonce and AAD bind it to. */
export interface ChunkPlace {
  /** The chunk's number in this transfer, from 0. */
  index: number;
  /** Where the chunk starts in the file. */
  offset: number;
}

/** Seals and opens the chunks of one transfer (one key, one file). */
export class FileCipher {
  readonly #key: CryptoKey;
  readonly #digestKey: CryptoKey;
  readonly #xfer: number;
  readonly #size: number;

  private constructor(
    key: CryptoKey,
    digestKey: CryptoKey,
    xfer: number,
    size: number,
  ) {
    this.#key = key;
    this.#digestKey = digestKey;
    this.#xfer = xfer;
    this.#size = size;
  }

  /**
   * The cipher for transfer `xfer` of a `size`-byte file.
   *
   * @throws {RangeError} if `key` is not 32 bytes
   */
  static async create(
    key: Uint8Array,
    xfer: number,
    size: number,
  ): Promise<FileCipher> {
    if (key.length !== FILE_KEY_BYTES) {
      throw new RangeError(
        `A file key is ${FILE_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
    const imported = await crypto.subtle.importKey(
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
    return new FileCipher(imported, digestKey, xfer, size);
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

  /** `chunk` sealed for `place`: its ciphertext and tag. */
  async seal(
    place: ChunkPlace,
    chunk: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
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
    const aad = new Uint8Array(AAD_BYTES);
    aad.set(LABEL);
    const view = new DataView(aad.buffer);
    let at = LABEL.length;
    for (const value of [this.#xfer, place.index, place.offset, this.#size]) {
      view.setBigUint64(at, BigInt(value));
      at += 8;
    }
    return aad;
  }
}

function chunkNonce(index: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(index));
  return nonce;
}
