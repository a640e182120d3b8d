/**
 * AES-256-GCM from the system's OpenSSL (libcrypto 3) called through Deno's
 * FFI: a {@link SmallFrameAead} for every frame size, byte for byte the
 * cipher the protocol specifies (docs/PROTOCOL.md 3.1), only faster. Not
 * browser compatible (FFI): a browser's WebCrypto is already OpenSSL- or
 * BoringSSL-fast.
 *
 * Why: Deno 2.9.6's own AES-GCM (node:crypto and WebCrypto alike) runs in
 * software here, at 125-200 MB/s on 1 MiB and 4-5 µs per 100-byte frame,
 * against 4.6 GB/s and 0.35 µs for OpenSSL on the same CPU (AES-NI and
 * PCLMULQDQ; Deno's by `deno run --allow-env bench/aead_cost.ts`, OpenSSL's
 * in session 11, `git show f00c740:bench/BASELINE.md`). Sealing was the server's
 * largest cost in fan-out (issue 21) and the wall of file transfers (issue
 * 16). No cipher is written here:
 * this file only calls OpenSSL's EVP interface, the library scp and nginx use.
 *
 * Safety: every length passed to C is checked here against the buffers
 * handed over (OpenSSL writes exactly `plaintext.length` bytes of ciphertext
 * for GCM, a stream mode, and the 16-byte tag where we say). Nothing is
 * loaded without the `ffi` permission (no prompt), and the library is used
 * only if it agrees with node:crypto on a known input at load (a
 * mismatched or broken libcrypto falls back to node:crypto, see
 * {@link frameAead}).
 */

import type { FileAead } from "./file_cipher.ts";
import type { SmallFrameAead } from "./session_cipher.ts";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** EVP_CTRL_GCM_GET_TAG and EVP_CTRL_GCM_SET_TAG (openssl/evp.h). */
const GET_TAG = 0x10;
const SET_TAG = 0x11;
/** Anything larger is refused before reaching C (i32 lengths there). */
const MAX_INPUT_BYTES = 1 << 30;

/** `OPENSSL_INIT_NO_ATEXIT` (openssl/crypto.h). */
const INIT_NO_ATEXIT = 0x00080000n;

/** What {@link skipExitCleanup} calls: in every loader's symbols. */
export const INIT_SYMBOLS = {
  OPENSSL_init_crypto: { parameters: ["u64", "pointer"], result: "i32" },
} as const;

export const SYMBOLS = {
  ...INIT_SYMBOLS,
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptFinal_ex: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_CIPHER_CTX_ctrl: {
    parameters: ["pointer", "i32", "i32", "buffer"],
    result: "i32",
  },
} as const;

export type LibCrypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Initialises libcrypto without its exit handler; to be called before any
 * other function of the library, whose first call would register it.
 *
 * Why: by default libcrypto registers `OPENSSL_cleanup` with `atexit`. It
 * frees OpenSSL's global state (method stores, locks, every thread's
 * handlers) on the thread that exits the process, while other threads may
 * still be inside libcrypto (openssl/openssl#6214). `deno test` runs the
 * tests on a thread of their own, not the one that exits the process, and
 * one run died at exit, its tests passed, with glibc's "double free or
 * corruption (fasttop)". Here (libcrypto 3.0.19) a C program whose threads
 * were setting up contexts (EVP_EncryptInit_ex, which looks the cipher up)
 * as its main thread exited crashed in 160 of 1,000 runs, and in none of
 * 1,000 with this call first. Nothing needs OpenSSL's memory freed at exit:
 * the system takes it back with the process.
 */
export function skipExitCleanup(
  lib: Deno.DynamicLibrary<typeof INIT_SYMBOLS>["symbols"],
): boolean {
  return lib.OPENSSL_init_crypto(INIT_NO_ATEXIT, null) === 1;
}

/** Where libcrypto 3 usually is, per platform (never macOS's system stub). */
export function libraryNames(): string[] {
  switch (Deno.build.os) {
    case "linux":
      return ["libcrypto.so.3", "libcrypto.so"];
    case "darwin":
      return [
        "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
        "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
      ];
    case "windows":
      return ["libcrypto-3-x64.dll"];
    default:
      return [];
  }
}

/**
 * One EVP context per key and direction, set up once (OpenSSL 3's key set-up
 * through EVP costs more than sealing a chat frame), freed when the
 * key's bytes are collected. The key is copied and compared at each use, so a
 * caller that reused its key buffer for another key gets a fresh context.
 */
export class ContextCache {
  readonly #contexts = new WeakMap<
    Uint8Array,
    { key: Uint8Array; ctx: Deno.PointerObject }
  >();
  readonly #freed: FinalizationRegistry<Deno.PointerObject>;

  constructor(
    private readonly lib: LibCrypto,
    private readonly cipher: Deno.PointerObject,
    private readonly encrypt: boolean,
  ) {
    this.#freed = new FinalizationRegistry((ctx) =>
      lib.EVP_CIPHER_CTX_free(ctx)
    );
  }

  /** A context keyed with `key`, or null if OpenSSL refused. */
  get(key: Uint8Array): Deno.PointerObject | null {
    const init = this.encrypt
      ? this.lib.EVP_EncryptInit_ex
      : this.lib.EVP_DecryptInit_ex;
    const known = this.#contexts.get(key);
    if (known !== undefined) {
      if (sameBytes(known.key, key)) return known.ctx;
      // The caller reused its key buffer for another key: its context is
      // keyed anew. (A new context each time left the old one unfreed: it
      // was unregistered, and nothing else frees it.)
      if (init(known.ctx, this.cipher, null, key, null) === 1) {
        known.key = key.slice();
        return known.ctx;
      }
      this.#freed.unregister(known);
      this.#contexts.delete(key);
      this.lib.EVP_CIPHER_CTX_free(known.ctx);
      return null;
    }
    const ctx = this.lib.EVP_CIPHER_CTX_new();
    if (ctx === null) return null;
    if (init(ctx, this.cipher, null, key, null) !== 1) {
      this.lib.EVP_CIPHER_CTX_free(ctx);
      return null;
    }
    const entry = { key: key.slice(), ctx };
    this.#contexts.set(key, entry);
    this.#freed.register(key, ctx, entry);
    return ctx;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * AES-256-GCM through libcrypto, for session frames and file chunks alike,
 * or null where it cannot be loaded.
 */
export type OpenSslAead = SmallFrameAead & FileAead;

/** AES-256-GCM through libcrypto, or null where it cannot be loaded. */
export function loadOpenSslAead(): OpenSslAead | null {
  if (!ffiGranted()) return null;
  let lib: LibCrypto | null = null;
  for (const name of libraryNames()) {
    try {
      lib = Deno.dlopen(name, SYMBOLS).symbols;
      break;
    } catch {
      // Not there, or not a libcrypto with these symbols: try the next one.
    }
  }
  if (lib === null || !skipExitCleanup(lib)) return null;
  const cipher = lib.EVP_aes_256_gcm();
  if (cipher === null) return null;
  return openSslAead(lib, cipher);
}

export function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function openSslAead(
  lib: LibCrypto,
  cipher: Deno.PointerObject,
): OpenSslAead {
  const sealing = new ContextCache(lib, cipher, true);
  const opening = new ContextCache(lib, cipher, false);
  // Output lengths OpenSSL reports; read nowhere (GCM writes what it gets).
  const written = new Int32Array(1);
  const tag = new Uint8Array(TAG_BYTES);
  // GCM's Final writes no bytes; OpenSSL still wants somewhere to write them.
  const finalOut = new Uint8Array(TAG_BYTES);

  function openInto(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    out: Uint8Array,
  ): boolean {
    checkKeyAndNonce(key, nonce);
    if (
      sealed.length < TAG_BYTES || sealed.length > MAX_INPUT_BYTES ||
      aad.length > MAX_INPUT_BYTES
    ) return false;
    const length = sealed.length - TAG_BYTES;
    if (out.length < length) {
      throw new RangeError(
        `Cannot open ${length} bytes into ${out.length}`,
      );
    }
    const ctx = opening.get(key);
    if (ctx === null) return false;
    const plaintext = out.subarray(0, length);
    // SET_TAG reads from the buffer: a copy, so that the caller's is never
    // handed to C as writable.
    tag.set(sealed.subarray(length));
    const ok = lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce) === 1 &&
      (aad.length === 0 ||
        lib.EVP_DecryptUpdate(ctx, null, written, aad, aad.length) === 1) &&
      (length === 0 ||
        lib.EVP_DecryptUpdate(
            ctx,
            plaintext,
            written,
            sealed.subarray(0, length),
            length,
          ) === 1) &&
      lib.EVP_CIPHER_CTX_ctrl(ctx, SET_TAG, TAG_BYTES, tag) === 1 &&
      // Final checks the tag: 1 only when it authenticates.
      lib.EVP_DecryptFinal_ex(ctx, finalOut, written) === 1;
    // Nothing of a forged frame leaves this function.
    if (!ok) plaintext.fill(0);
    return ok;
  }

  return {
    maxPlaintext: MAX_INPUT_BYTES,

    sealInto(key, nonce, aad, plaintext, out, offset) {
      checkKeyAndNonce(key, nonce);
      if (
        plaintext.length > MAX_INPUT_BYTES || aad.length > MAX_INPUT_BYTES ||
        !Number.isSafeInteger(offset) || offset < 0 ||
        out.length - offset < plaintext.length + TAG_BYTES
      ) {
        throw new RangeError(
          `Cannot seal ${plaintext.length} bytes at offset ${offset} into ${out.length}`,
        );
      }
      const ctx = sealing.get(key);
      const body = out.subarray(offset, offset + plaintext.length);
      if (
        ctx === null ||
        lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce) !== 1 ||
        (aad.length > 0 &&
          lib.EVP_EncryptUpdate(ctx, null, written, aad, aad.length) !== 1) ||
        (plaintext.length > 0 &&
          lib.EVP_EncryptUpdate(
              ctx,
              body,
              written,
              plaintext,
              plaintext.length,
            ) !== 1) ||
        lib.EVP_EncryptFinal_ex(ctx, finalOut, written) !== 1 ||
        lib.EVP_CIPHER_CTX_ctrl(ctx, GET_TAG, TAG_BYTES, tag) !== 1
      ) {
        throw new Error("OpenSSL refused to seal a frame");
      }
      out.set(tag, offset + plaintext.length);
    },

    open(key, nonce, aad, sealed) {
      if (sealed.length < TAG_BYTES || sealed.length > MAX_INPUT_BYTES) {
        return null;
      }
      const plaintext = new Uint8Array(sealed.length - TAG_BYTES);
      return openInto(key, nonce, aad, sealed, plaintext) ? plaintext : null;
    },

    openInPlace(key, nonce, aad, sealed) {
      if (sealed.length < TAG_BYTES) return false;
      // OpenSSL's GCM decrypts in place when output and input are the same.
      return openInto(
        key,
        nonce,
        aad,
        sealed,
        sealed.subarray(0, sealed.length - TAG_BYTES),
      );
    },

    openInto,
  };
}

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== KEY_BYTES || nonce.length !== NONCE_BYTES) {
    throw new RangeError(
      `AES-256-GCM needs a ${KEY_BYTES}-byte key and a ${NONCE_BYTES}-byte nonce, got ${key.length} and ${nonce.length}`,
    );
  }
}
