import assert from "node:assert/strict";
import {
  clientFrameBytes,
  closePayload,
  FrameError,
  MaskKeys,
  readClosePayload,
  readFrameHead,
  writeClientFrame,
} from "../../src/transport/websocket_frames.ts";

Deno.test("writeClientFrame lays out each length form with its mask, and the payload masked by it", () => {
  const keys = new MaskKeys();
  const forms: [number, number][] = [
    [0, 6],
    [125, 6],
    [126, 8],
    [65535, 8],
    [65536, 14],
    [300_001, 14],
  ];
  for (const [length, header] of forms) {
    const payload = crypto.getRandomValues(
      new Uint8Array(Math.min(length, 65536)),
    );
    const whole = new Uint8Array(length);
    for (let at = 0; at < length; at += payload.length) {
      whole.set(payload.subarray(0, length - at), at);
    }
    const out = new Uint8Array(clientFrameBytes(length) + 3);
    // At an odd offset: the word loop must not care where the frame starts.
    const end = writeClientFrame(out, 3, 0x2, whole, keys);
    assert.equal(end, 3 + header + length);
    assert.equal(out[3], 0x82);
    assert.ok((out[4]! & 0x80) !== 0, "the mask bit");
    const mask = out.subarray(3 + header - 4, 3 + header);
    const unmasked = out.slice(3 + header, end).map((b, i) => b ^ mask[i & 3]!);
    assert.deepEqual(unmasked, whole, `length ${length}`);
  }
});

Deno.test("MaskKeys never repeats in a run across its refills", () => {
  const keys = new MaskKeys();
  const seen = new Set<number>();
  const out = new Uint8Array(4);
  for (let i = 0; i < 3000; i++) {
    keys.writeTo(out, 0);
    seen.add(new DataView(out.buffer).getUint32(0));
  }
  // 3000 draws of 32 random bits: a repeat is a 1 in 1000 chance, a stuck pool certain.
  assert.ok(seen.size >= 2998, `${seen.size} different keys`);
});

Deno.test("readFrameHead waits for the whole header and reads the 64-bit length", () => {
  const frame = new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  for (let cut = 0; cut < frame.length; cut++) {
    assert.equal(readFrameHead(frame.subarray(0, cut), 2 ** 20), null);
  }
  assert.deepEqual(readFrameHead(frame, 2 ** 20), {
    fin: true,
    opcode: 2,
    length: 65536,
    headerBytes: 10,
  });
  assert.throws(
    () => readFrameHead(frame, 65535),
    (error) => error instanceof FrameError && error.closeCode === 1009,
  );
});

Deno.test("closePayload leaves out a reason too long for a control frame, and readClosePayload reads what it writes", () => {
  assert.deepEqual(
    readClosePayload(closePayload(4008, "too much unread data")),
    {
      code: 4008,
      reason: "too much unread data",
    },
  );
  assert.deepEqual(readClosePayload(closePayload(1000, "é".repeat(62))), {
    code: 1000,
    reason: "",
  });
  assert.equal(closePayload(1000, "é".repeat(61)).length, 2 + 122);
  assert.deepEqual(closePayload(1005, "ignored"), new Uint8Array(0));
  assert.deepEqual(readClosePayload(new Uint8Array(0)), {
    code: 1005,
    reason: "",
  });
});
