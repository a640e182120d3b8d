import assert from "node:assert/strict";
import { randomBytes } from "../../src/crypto/bytes.ts";
import {
  ContextCache,
  type LibCrypto,
  libraryNames,
  loadOpenSslAead,
  SYMBOLS,
} from "../../src/crypto/openssl_aead.ts";
import {
  agrees,
  frameAeadName,
  nativeSmallFrames,
} from "../../src/crypto/native_aead.ts";
import type { SmallFrameAead } from "../../src/crypto/session_cipher.ts";
import { FrameOpener, FrameSealer } from "../../src/crypto/session_cipher.ts";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!.map((b) => parseInt(b, 16)));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The tests run with --allow-ffi on Linux, where libcrypto 3 is installed. */
function openssl(): SmallFrameAead {
  const aead = loadOpenSslAead();
  assert.ok(aead, "libcrypto.so.3 should load with the ffi permission");
  return aead;
}

async function webSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    key.slice(),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce.slice(), additionalData: aad.slice() },
      cryptoKey,
      plaintext.slice(),
    ),
  );
}

Deno.test("openSslAead seals the GCM specification's test case 16 (AES-256, 60 bytes, AAD)", () => {
  // McGrew and Viega, "The Galois/Counter Mode of Operation", test case 16.
  const key = hex(
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
  );
  const nonce = hex("cafebabefacedbaddecaf888");
  const plaintext = hex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
  );
  const aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const out = new Uint8Array(3 + plaintext.length + 16);
  openssl().sealInto(key, nonce, aad, plaintext, out, 3);
  assert.equal(
    toHex(out.subarray(3)),
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
      "76fc6ece0f4e1768cddf8853bb2d551b",
  );
  assert.deepEqual(out.subarray(0, 3), new Uint8Array(3));
  assert.deepEqual(openssl().open(key, nonce, aad, out.subarray(3)), plaintext);
});

Deno.test("openSslAead makes WebCrypto's bytes and opens them, from 0 bytes to 1 MiB", async () => {
  const aead = openssl();
  for (const size of [0, 1, 100, 4096, 4097, 65_536, 1 << 20]) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(size % 2 === 0 ? 13 : 0);
    const plaintext = randomBytes(size);
    const out = new Uint8Array(size + 16);
    aead.sealInto(key, nonce, aad, plaintext, out, 0);
    const web = await webSeal(key, nonce, aad, plaintext);
    assert.equal(toHex(out), toHex(web), `${size} bytes`);
    assert.deepEqual(aead.open(key, nonce, aad, web), plaintext);
  }
});

Deno.test("openSslAead refuses a changed ciphertext, tag, AAD, nonce or key", () => {
  const aead = openssl();
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(9);
  const sealed = new Uint8Array(116);
  aead.sealInto(key, nonce, aad, randomBytes(100), sealed, 0);
  for (const index of [0, 99, 100, 115]) {
    const changed = sealed.slice();
    changed[index] = changed[index]! ^ 0x01;
    assert.equal(aead.open(key, nonce, aad, changed), null, `byte ${index}`);
  }
  const other = (bytes: Uint8Array) => {
    const copy = bytes.slice();
    copy[0] = copy[0]! ^ 0x80;
    return copy;
  };
  assert.equal(aead.open(key, nonce, other(aad), sealed), null);
  assert.equal(aead.open(key, other(nonce), aad, sealed), null);
  assert.equal(aead.open(other(key), nonce, aad, sealed), null);
  assert.equal(aead.open(key, nonce, aad, sealed.subarray(0, 15)), null);
  // A forged frame leaves no trace in the next good one.
  assert.equal(aead.open(key, nonce, aad, sealed)?.length, 100);
});

Deno.test("openSslAead refuses bad lengths before calling C", () => {
  const aead = openssl();
  assert.throws(
    () =>
      aead.sealInto(
        randomBytes(16),
        randomBytes(12),
        new Uint8Array(),
        new Uint8Array(1),
        new Uint8Array(17),
        0,
      ),
    RangeError,
  );
  assert.throws(
    () =>
      aead.sealInto(
        randomBytes(32),
        randomBytes(8),
        new Uint8Array(),
        new Uint8Array(1),
        new Uint8Array(17),
        0,
      ),
    RangeError,
  );
  // No room for the tag.
  assert.throws(
    () =>
      aead.sealInto(
        randomBytes(32),
        randomBytes(12),
        new Uint8Array(),
        new Uint8Array(10),
        new Uint8Array(30),
        5,
      ),
    RangeError,
  );
});

Deno.test("openSslAead follows a key buffer that was overwritten with another key", () => {
  const aead = openssl();
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const plaintext = randomBytes(50);
  const first = new Uint8Array(66);
  aead.sealInto(key, nonce, new Uint8Array(), plaintext, first, 0);
  const secondKey = randomBytes(32);
  key.set(secondKey);
  const second = new Uint8Array(66);
  aead.sealInto(key, nonce, new Uint8Array(), plaintext, second, 0);
  assert.notDeepEqual(first, second);
  assert.deepEqual(
    nativeSmallFrames.open(secondKey, nonce, new Uint8Array(), second),
    plaintext,
  );
});

Deno.test("frameAead is OpenSSL here, and agrees with node:crypto", () => {
  assert.equal(frameAeadName, "openssl");
  assert.ok(agrees(openssl(), nativeSmallFrames));
  const broken: SmallFrameAead = {
    maxPlaintext: 4096,
    sealInto: (key, nonce, aad, plaintext, out, offset) => {
      nativeSmallFrames.sealInto(key, nonce, aad, plaintext, out, offset);
      out[offset] = out[offset]! ^ 1;
    },
    open: nativeSmallFrames.open,
  };
  assert.equal(agrees(broken, nativeSmallFrames), false);
});

Deno.test("a session sealed through OpenSSL opens through node:crypto and WebCrypto, and back", async () => {
  const secret = randomBytes(32);
  const sizes = [10, 5000, 300_000];
  for (
    const [sealWith, openWith] of [
      [openssl(), undefined],
      [undefined, openssl()],
      [openssl(), nativeSmallFrames],
    ] as const
  ) {
    const sealer = new FrameSealer(
      secret,
      sealWith ? { smallFrames: sealWith } : {},
    );
    const opener = new FrameOpener(
      secret,
      openWith ? { smallFrames: openWith } : {},
    );
    for (const size of sizes) {
      const plaintext = randomBytes(size);
      const frame = await sealer.seal(plaintext);
      assert.deepEqual(await opener.open(frame), plaintext);
    }
  }
});

Deno.test("openSslAead.openInto opens into the caller's buffer and wipes it for a forgery", () => {
  const aead = loadOpenSslAead();
  assert.ok(aead);
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(43);
  const plaintext = randomBytes(1000);
  const sealed = new Uint8Array(1016);
  aead.sealInto(key, nonce, aad, plaintext, sealed, 0);
  const out = new Uint8Array(2000).fill(7);
  assert.equal(aead.openInto(key, nonce, aad, sealed, out), true);
  assert.deepEqual(out.subarray(0, 1000), plaintext);
  // Past the plaintext: untouched.
  assert.deepEqual(out.subarray(1000), new Uint8Array(1000).fill(7));
  const forged = sealed.slice();
  forged[3] = forged[3]! ^ 1;
  assert.equal(aead.openInto(key, nonce, aad, forged, out), false);
  assert.deepEqual(out.subarray(0, 1000), new Uint8Array(1000));
  assert.equal(
    aead.openInto(key, nonce, aad, sealed.subarray(0, 15), out),
    false,
  );
  assert.throws(
    () => aead.openInto(key, nonce, aad, sealed, new Uint8Array(999)),
    RangeError,
  );
});

Deno.test("openSslAead seals right into a key buffer reused for other keys, keying one context anew rather than leaking one per key", () => {
  const aead = openssl();
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(13);
  const plaintext = randomBytes(100);
  for (let round = 0; round < 3; round++) {
    key.set(randomBytes(32));
    const ours = new Uint8Array(plaintext.length + 16);
    const theirs = new Uint8Array(plaintext.length + 16);
    aead.sealInto(key, nonce, aad, plaintext, ours, 0);
    nativeSmallFrames.sealInto(key, nonce, aad, plaintext, theirs, 0);
    assert.equal(toHex(ours), toHex(theirs), `round ${round}`);
    assert.equal(
      toHex(aead.open(key, nonce, aad, theirs)!),
      toHex(plaintext),
    );
  }

  // Counted at the library: one context made for the buffer, however many
  // keys it held (a new one each time left the old unfreed).
  const lib = Deno.dlopen(libraryNames()[0]!, SYMBOLS);
  try {
    let made = 0;
    let freed = 0;
    const counted: LibCrypto = {
      ...lib.symbols,
      EVP_CIPHER_CTX_new: () => (made++, lib.symbols.EVP_CIPHER_CTX_new()),
      EVP_CIPHER_CTX_free: (
        ctx,
      ) => (freed++, lib.symbols.EVP_CIPHER_CTX_free(ctx)),
    };
    const cache = new ContextCache(
      counted,
      lib.symbols.EVP_aes_256_gcm()!,
      true,
    );
    const reused = randomBytes(32);
    for (let round = 0; round < 5; round++) {
      reused.set(randomBytes(32));
      assert.ok(cache.get(reused));
    }
    assert.equal(made, 1);
    assert.equal(freed, 0);
  } finally {
    lib.close();
  }
});
