/**
 * SHA-256 and HMAC-SHA-256 from the system's OpenSSL (libcrypto 3) through
 * Deno's FFI, one C call each: what room frames (docs/PROTOCOL.md 3.8) need
 * per frame and per member. Not browser compatible (FFI).
 *
 * Why: Deno 2.9.6's node:crypto builds a hash object per call
 * (`createHash`/`createHmac`), which would make the server's per-member MAC
 * cost many times more than sealing the frame for the member with OpenSSL
 * (bench/room_frame_cost.ts measures the per-member costs). No hash or MAC is written
 * here: this file only calls OpenSSL's `SHA256` and `HMAC_*`. Loaded like openssl_aead.ts: only with the `ffi`
 * permission, and used only if it agrees with node:crypto at load
 * (native_room.ts).
 */

import {
  ffiGranted,
  INIT_SYMBOLS,
  libraryNames,
  skipExitCleanup,
} from "./openssl_aead.ts";

const DIGEST_BYTES = 32;
/** Anything larger is refused before reaching C. */
const MAX_INPUT_BYTES = 1 << 30;

const SYMBOLS = {
  ...INIT_SYMBOLS,
  EVP_sha256: { parameters: [], result: "pointer" },
  SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  // HMAC_CTX is deprecated in OpenSSL 3 in favour of EVP_MAC, whose set-up
  // needs OSSL_PARAM structs; HMAC_CTX is still exported by libcrypto 3,
  // and re-initialised with a NULL key it reuses the key's prepared state
  // (several times cheaper than the one-shot HMAC, which sets the key up
  // again each call).
  HMAC_CTX_new: { parameters: [], result: "pointer" },
  HMAC_CTX_free: { parameters: ["pointer"], result: "void" },
  HMAC_Init_ex: {
    parameters: ["pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
  },
  HMAC_Update: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  HMAC_Final: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
} as const;

/** SHA-256 and HMAC-SHA-256, synchronous; each result a fresh 32 bytes. */
export interface Sha256Functions {
  sha256(data: Uint8Array): Uint8Array;
  /** HMAC-SHA-256 under `key`, the key set up once for every message. */
  hmacSha256(key: Uint8Array): (message: Uint8Array) => Uint8Array;
}

/** OpenSSL's SHA-256 and HMAC-SHA-256, or null where it cannot be loaded. */
export function loadOpenSslHashes(): Sha256Functions | null {
  if (!ffiGranted()) return null;
  for (const name of libraryNames()) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
    try {
      lib = Deno.dlopen(name, SYMBOLS).symbols;
    } catch {
      // Not there, or not a libcrypto with these symbols: try the next one.
      continue;
    }
    if (!skipExitCleanup(lib)) return null;
    const md = lib.EVP_sha256();
    if (md === null) return null;
    // HMAC_Final writes the digest's length here; read nowhere (always 32).
    const written = new Uint32Array(1);
    const freed = new FinalizationRegistry<Deno.PointerObject>((ctx) =>
      lib.HMAC_CTX_free(ctx)
    );
    return {
      sha256(data) {
        checkLength(data.length);
        const out = new Uint8Array(DIGEST_BYTES);
        if (lib.SHA256(data, BigInt(data.length), out) === null) {
          throw new Error("OpenSSL refused to hash");
        }
        return out;
      },
      hmacSha256(key) {
        checkLength(key.length);
        const ctx = lib.HMAC_CTX_new();
        if (
          ctx === null || lib.HMAC_Init_ex(ctx, key, key.length, md, null) !== 1
        ) {
          if (ctx !== null) lib.HMAC_CTX_free(ctx);
          throw new Error("OpenSSL refused an HMAC key");
        }
        const mac = (message: Uint8Array) => {
          checkLength(message.length);
          const out = new Uint8Array(DIGEST_BYTES);
          if (
            lib.HMAC_Init_ex(ctx, null, 0, null, null) !== 1 ||
            lib.HMAC_Update(ctx, message, BigInt(message.length)) !== 1 ||
            lib.HMAC_Final(ctx, out, written) !== 1
          ) throw new Error("OpenSSL refused to compute an HMAC");
          return out;
        };
        freed.register(mac, ctx);
        return mac;
      },
    };
  }
  return null;
}

function checkLength(length: number): void {
  if (length > MAX_INPUT_BYTES) {
    throw new RangeError(`Cannot hash ${length} bytes at once`);
  }
}
