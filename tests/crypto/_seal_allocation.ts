/**
 * Prints the heap bytes allocated per synchronous small-frame seal, on the
 * session's hot path (FrameSealer.trySealNow). Run by aes_gcm_test.ts with a
 * young generation large enough that no collection happens while it counts.
 */
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { nativeSmallFrames } from "../../src/crypto/native_aead.ts";
import { FrameSealer } from "../../src/crypto/session_cipher.ts";

const sealer = new FrameSealer(new Uint8Array(32).fill(1), {
  smallFrames: nativeSmallFrames,
});
// The first seal of a session waits for its keys; trySealNow needs them.
await sealer.seal(utf8Encode("first"));
const plaintext = new Uint8Array(60).fill(7);
const seal = () => {
  if (sealer.trySealNow(plaintext) === null) throw new Error("not sealed");
};
// Warm up until the JIT has compiled the path (unoptimised code boxes numbers).
for (let i = 0; i < 50_000; i++) seal();
const seals = 5_000;
const before = Deno.memoryUsage().heapUsed;
for (let i = 0; i < seals; i++) seal();
const after = Deno.memoryUsage().heapUsed;
console.log(JSON.stringify({ bytesPerSeal: (after - before) / seals }));
