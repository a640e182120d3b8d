/**
 * setReceiverLimits: the limits the server raises a connection's `ws`
 * receiver to after the handshake, checked on the receiver itself (no
 * socket, no timing): with DEFAULT_CONNECTION_LIMITS, one unfinished frame
 * is kept over 4096 reads and not one more. tests/server/ws_frame_reads_test.ts
 * checks the same limit end to end, lowered to 512 reads to stay quick.
 */

import assert from "node:assert/strict";
import * as ws from "ws";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/server/config.ts";
import { setReceiverLimits } from "../../src/server/ws_edge.ts";
import { MAX_FRAME_BYTES } from "../../src/protocol/limits.ts";

/** The part of ws's Receiver (a Writable; @types/ws omits it) used here. */
interface Receiver {
  write(chunk: Uint8Array, done: (error?: Error | null) => void): boolean;
  on(event: "error", listener: (error: Error) => void): void;
}

type ReceiverClass = new (options: {
  isServer: boolean;
  maxPayload: number;
  maxBufferedChunks: number;
}) => Receiver;

/** A server's receiver with the handshake's limits, raised as after it. */
function raisedReceiver(): Receiver {
  const Receiver = (ws as unknown as { Receiver: ReceiverClass }).Receiver;
  const receiver = new Receiver({
    isServer: true,
    maxPayload: DEFAULT_CONNECTION_LIMITS.maxHandshakePayloadBytes,
    maxBufferedChunks: DEFAULT_CONNECTION_LIMITS.maxHandshakeFrameReads,
  });
  receiver.on("error", () => {});
  setReceiverLimits(
    { _receiver: receiver } as unknown as Parameters<
      typeof setReceiverLimits
    >[0],
    DEFAULT_CONNECTION_LIMITS.maxPayloadBytes,
    DEFAULT_CONNECTION_LIMITS.maxFrameReads,
  );
  return receiver;
}

/** A masked, final, binary frame's header for `length` bytes (RFC 6455 5.2). */
function maskedBinaryHeader(length: number): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  // The mask (bytes 10-13) is left zero: the payload reads as sent.
  return header;
}

/**
 * Writes `chunk` as one read of the socket, and resolves once the receiver
 * took it, with the error it refused it with, or null.
 */
function writeChunk(
  receiver: Receiver,
  chunk: Uint8Array,
): Promise<Error | null> {
  return new Promise((resolve) => {
    receiver.write(chunk, (error) => resolve(error ?? null));
  });
}

Deno.test("setReceiverLimits with the default limits keeps one unfinished frame over 4096 reads, and refuses the next with 1008", async () => {
  assert.equal(DEFAULT_CONNECTION_LIMITS.maxFrameReads, 4096);
  const receiver = raisedReceiver();
  // The largest frame: over the handshake's 8 KiB, under the raised limit.
  assert.equal(
    await writeChunk(receiver, maskedBinaryHeader(MAX_FRAME_BYTES)),
    null,
  );
  const oneByte = new Uint8Array(1);
  for (let read = 1; read <= 4096; read++) {
    const error = await writeChunk(receiver, oneByte);
    assert.equal(error, null, `read ${read} refused: ${error?.message}`);
  }
  const error = await writeChunk(receiver, oneByte) as
    | (Error & { code?: string })
    | null;
  assert.ok(error !== null, "read 4097 of an unfinished frame was kept");
  assert.equal(error.code, "WS_ERR_TOO_MANY_BUFFERED_PARTS");
  const status = Object.getOwnPropertySymbols(error)
    .map((symbol) => (error as unknown as Record<symbol, unknown>)[symbol])
    .find((value) => typeof value === "number");
  assert.equal(status, 1008);
});

Deno.test("setReceiverLimits refuses to lower a limit: swapped or handshake limits are a bug", () => {
  const receiver = raisedReceiver();
  const asWs = { _receiver: receiver } as unknown as Parameters<
    typeof setReceiverLimits
  >[0];
  assert.throws(
    () =>
      setReceiverLimits(
        asWs,
        DEFAULT_CONNECTION_LIMITS.maxHandshakePayloadBytes,
        DEFAULT_CONNECTION_LIMITS.maxFrameReads,
      ),
    RangeError,
  );
  assert.throws(
    () =>
      setReceiverLimits(
        asWs,
        DEFAULT_CONNECTION_LIMITS.maxPayloadBytes,
        DEFAULT_CONNECTION_LIMITS.maxHandshakeFrameReads,
      ),
    RangeError,
  );
  const fields = receiver as unknown as {
    _maxPayload: number;
    _maxBufferedChunks: number;
  };
  assert.equal(fields._maxPayload, DEFAULT_CONNECTION_LIMITS.maxPayloadBytes);
  assert.equal(
    fields._maxBufferedChunks,
    DEFAULT_CONNECTION_LIMITS.maxFrameReads,
  );
});
