import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import {
  AesGcmKey,
  JS_SMALL_FRAME_LIMIT,
  jsSmallFrames,
} from "../../src/crypto/aes_gcm.ts";
import { randomBytes, utf8Encode } from "../../src/crypto/bytes.ts";
import { FrameOpener, FrameSealer } from "../../src/crypto/session_cipher.ts";

const hex = (text: string) =>
  Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));

function seal(
  key: AesGcmKey,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(plaintext.length + 16);
  key.sealInto(nonce, aad, plaintext, out, 0);
  return out;
}

async function webCryptoSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey(
    "raw",
    key.slice(),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce.slice(), additionalData: aad.slice() },
      imported,
      plaintext.slice(),
    ),
  );
}

// The AES-256 cases with 96-bit IVs from the GCM specification (McGrew and
// Viega, "The Galois/Counter Mode of Operation", appendix B, test cases 13-16).
const K15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const P15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const C15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
const SPEC_CASES = [
  {
    name: "13",
    key: "00".repeat(32),
    nonce: "00".repeat(12),
    aad: "",
    plaintext: "",
    sealed: "530f8afbc74536b9a963b4f1c4cb738b",
  },
  {
    name: "14",
    key: "00".repeat(32),
    nonce: "00".repeat(12),
    aad: "",
    plaintext: "00".repeat(16),
    sealed: "cea7403d4d606b6e074ec5d3baf39d18" +
      "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "15",
    key: K15,
    nonce: "cafebabefacedbaddecaf888",
    aad: "",
    plaintext: P15,
    sealed: C15 + "b094dac5d93471bdec1a502270e3cc6c",
  },
  {
    name: "16",
    key: K15,
    nonce: "cafebabefacedbaddecaf888",
    aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    plaintext: P15.slice(0, 120),
    sealed: C15.slice(0, 120) + "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

Deno.test("AesGcmKey gives the GCM specification's AES-256 results (test cases 13-16)", () => {
  for (const c of SPEC_CASES) {
    const key = new AesGcmKey(hex(c.key));
    const sealed = seal(key, hex(c.nonce), hex(c.aad), hex(c.plaintext));
    assert.deepEqual(sealed, hex(c.sealed), `case ${c.name}`);
    assert.deepEqual(
      key.open(hex(c.nonce), hex(c.aad), hex(c.sealed)),
      hex(c.plaintext),
      `case ${c.name}`,
    );
  }
});

Deno.test("AesGcmKey seals what WebCrypto seals, for every length up to 600 bytes and AAD up to 96", async () => {
  for (let length = 0; length <= 600; length++) {
    const rawKey = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(length % 97);
    const plaintext = randomBytes(length);
    const key = new AesGcmKey(rawKey);
    const sealed = seal(key, nonce, aad, plaintext);
    assert.deepEqual(
      sealed,
      await webCryptoSeal(rawKey, nonce, aad, plaintext),
      `${length} bytes, ${aad.length} bytes of AAD`,
    );
    assert.deepEqual(key.open(nonce, aad, sealed), plaintext);
  }
});

Deno.test("AesGcmKey agrees with node:crypto over many messages under one key", () => {
  // One key, many nonces: the per-message state must not leak into the next.
  const rawKey = randomBytes(32);
  const key = new AesGcmKey(rawKey);
  for (let i = 0; i < 500; i++) {
    const nonce = randomBytes(12);
    const aad = randomBytes(9);
    const plaintext = randomBytes((i * 37) % 300);
    const cipher = createCipheriv("aes-256-gcm", rawKey, nonce);
    cipher.setAAD(aad);
    const expected = new Uint8Array([
      ...cipher.update(plaintext),
      ...cipher.final(),
      ...cipher.getAuthTag(),
    ]);
    assert.deepEqual(
      seal(key, nonce, aad, plaintext),
      expected,
      `message ${i}`,
    );
  }
});

Deno.test("AesGcmKey.open rejects every single-bit change to the ciphertext, the tag, the AAD or the nonce", () => {
  const key = new AesGcmKey(randomBytes(32));
  const nonce = randomBytes(12);
  const aad = randomBytes(9);
  const plaintext = utf8Encode("meet at the usual place");
  const sealed = seal(key, nonce, aad, plaintext);
  for (
    const [name, bytes] of [["sealed", sealed], ["aad", aad], [
      "nonce",
      nonce,
    ]] as const
  ) {
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(key.open(nonce, aad, sealed), null, `${name} bit ${bit}`);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
    }
  }
  assert.equal(key.open(nonce, aad, sealed.subarray(0, 15)), null);
  assert.equal(key.open(nonce, aad, sealed.subarray(1)), null);
  assert.equal(new AesGcmKey(randomBytes(32)).open(nonce, aad, sealed), null);
  // Nothing was changed for good: the genuine message still opens.
  assert.deepEqual(key.open(nonce, aad, sealed), plaintext);
});

Deno.test("AesGcmKey.sealInto writes its bytes at the offset and nowhere else", () => {
  const key = new AesGcmKey(randomBytes(32));
  const nonce = randomBytes(12);
  const plaintext = randomBytes(37);
  // A view into a larger buffer, so offsets are relative to the view.
  const whole = new Uint8Array(107).fill(0xaa);
  const out = whole.subarray(7);
  key.sealInto(nonce, new Uint8Array(0), plaintext, out, 11);
  assert.ok(out.subarray(0, 11).every((byte) => byte === 0xaa));
  assert.ok(out.subarray(11 + 37 + 16).every((byte) => byte === 0xaa));
  assert.deepEqual(
    out.subarray(11, 11 + 37 + 16),
    seal(key, nonce, new Uint8Array(0), plaintext),
  );
  assert.ok(whole.subarray(0, 7).every((byte) => byte === 0xaa));
  // Views at an offset into larger buffers read right too.
  const padded = new Uint8Array(200);
  padded.set(plaintext, 5);
  assert.deepEqual(
    seal(key, nonce, new Uint8Array(0), padded.subarray(5, 42)),
    out.subarray(11, 11 + 37 + 16),
  );
});

Deno.test("AesGcmKey.sealInto refuses an out with no room for the frame, or a bad offset", () => {
  const key = new AesGcmKey(randomBytes(32));
  const nonce = randomBytes(12);
  const aad = new Uint8Array(0);
  const plaintext = randomBytes(20);
  for (
    const [size, offset] of [[35, 0], [36, 1], [36, -1], [40, 1.5], [36, NaN]]
  ) {
    assert.throws(
      () => key.sealInto(nonce, aad, plaintext, new Uint8Array(size!), offset!),
      RangeError,
      `${size} bytes at ${offset}`,
    );
  }
  key.sealInto(nonce, aad, plaintext, new Uint8Array(36), 0);
});

Deno.test("AesGcmKey refuses keys and nonces of the wrong size", () => {
  for (const size of [0, 16, 24, 31, 33]) {
    assert.throws(() => new AesGcmKey(new Uint8Array(size)), RangeError);
  }
  const key = new AesGcmKey(new Uint8Array(32));
  for (const size of [0, 8, 11, 13, 16]) {
    const nonce = new Uint8Array(size);
    assert.throws(
      () => seal(key, nonce, new Uint8Array(0), new Uint8Array(1)),
      RangeError,
    );
    // Also when what is to be opened is too short to hold a tag.
    for (const sealed of [new Uint8Array(3), new Uint8Array(40)]) {
      assert.throws(
        () => key.open(nonce, new Uint8Array(0), sealed),
        RangeError,
      );
    }
  }
});

Deno.test("a small-frame seal on the session's hot path allocates nothing once compiled", async () => {
  // Garbage per frame is what this AEAD is for (see aes_gcm.ts): node:crypto
  // made ~2 KB per seal here. A young generation of 64 MB keeps collections
  // out of the count; if one ran anyway the figure would come out negative.
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--min-semi-space-size=64,--max-semi-space-size=64",
      new URL("./_seal_allocation.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(success);
  const { bytesPerSeal } = JSON.parse(new TextDecoder().decode(stdout));
  assert.ok(
    bytesPerSeal >= 0 && bytesPerSeal < 64,
    `${bytesPerSeal} bytes per seal`,
  );
});

Deno.test("jsSmallFrames in the session cipher makes WebCrypto's frames, and opens them", async () => {
  const secret = randomBytes(32);
  const js = new FrameSealer(secret, {
    rekeyInterval: 3,
    smallFrames: jsSmallFrames,
  });
  const web = new FrameSealer(secret, { rekeyInterval: 3 });
  const opener = new FrameOpener(secret, {
    rekeyInterval: 3,
    smallFrames: jsSmallFrames,
  });
  for (
    const size of [0, 1, 60, JS_SMALL_FRAME_LIMIT, JS_SMALL_FRAME_LIMIT + 1]
  ) {
    const plaintext = randomBytes(size);
    const frame = await js.seal(plaintext);
    assert.deepEqual(frame, await web.seal(plaintext), `${size} bytes`);
    assert.deepEqual(await opener.open(frame), plaintext, `${size} bytes`);
  }
});
