/**
 * Messages that pass no rate otherwise are still counted: a frame packed with
 * a hundred thousand headers that do not parse (each answered with an error)
 * or with file data for no transfer (each dropped) cost the server a parse
 * each, and one connection kept its core busy for everyone.
 */
import assert from "node:assert/strict";
import {
  FILE_CHUNK_TAG_BYTES,
  MAX_HANDSHAKE_BYTES,
} from "../../src/protocol/limits.ts";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

const encoder = new TextEncoder();

/** `count` messages whose header is `json` (PROTOCOL.md 3.4), no bodies. */
function batchOf(json: string, count: number): Uint8Array {
  const header = encoder.encode(json);
  const one = 8 + header.byteLength;
  const batch = new Uint8Array(one * count);
  const view = new DataView(batch.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint32(i * one, header.byteLength);
    batch.set(header, i * one + 8);
  }
  return batch;
}

for (
  const [what, json, register, count] of [
    // Unregistered, the server has sent no sealed frame yet, so the frame
    // must fit in MAX_HANDSHAKE_BYTES (PROTOCOL.md 1.1): a larger one is cut
    // off with 1009 whenever it reaches the server in the same read as
    // client_finished (on a loaded machine). 700 is still far past the
    // burst and the strikes (90 or so).
    ["headers that do not parse", "{}", false, 700],
    [
      "file acks for no transfer",
      '{"t":"file_ack","xfer":7,"received":1}',
      true,
      10_000,
    ],
    // Over the rate, acks are held, not refused (no strike): a connection
    // sending nothing else was never cut off.
    [
      "acks over the rate",
      '{"t":"ack","cursors":[{"to":"bob","seq":1}]}',
      true,
      10_000,
    ],
  ] as const
) {
  Deno.test(`a frame of ${what} gets its sender cut off, not a reply or a routing each`, async () => {
    await using server = await startTestServer();
    const raw = await RawClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    if (register) assert.equal((await raw.register("mallory")).t, "welcome");
    let received = 0;
    raw.socket.addEventListener("message", (event) => {
      received += (event.data as ArrayBuffer).byteLength;
    });
    const frame = await raw.sealPlaintext(batchOf(json, count));
    if (!register) assert.ok(frame.byteLength <= MAX_HANDSHAKE_BYTES);
    raw.send(frame);
    const closed = await raw.waitClosed();
    assert.deepEqual(closed, { code: 1008, reason: "violation" });
    // Cut off at the flood: a few replies, not one per message.
    assert.ok(received < 16 * 1024, `${received} bytes of replies`);
  });
}

/**
 * mallory offers mallory2 (both hers) a file and mallory2 accepts: a
 * transfer of her own, whose file data the rate limit lets through.
 */
async function ownTransfer(
  server: Awaited<ReturnType<typeof startTestServer>>,
) {
  const sender = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const recipient = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  assert.equal((await sender.register("mallory")).t, "welcome");
  assert.equal((await recipient.register("mallory2")).t, "welcome");
  const offer = sender.nextId();
  await sender.sendMessage({
    t: "file_offer",
    id: offer,
    to: "mallory2",
    name: "big.bin",
    size: 1 << 30,
  });
  let xfer: number | undefined;
  while (xfer === undefined) {
    for (const { message } of await recipient.receiveMessages()) {
      if (message.t === "file_offer") xfer = message.xfer;
    }
  }
  await recipient.sendMessage({ t: "file_accept", xfer });
  assert.equal((await sender.replyTo(offer)).t, "file_ready");
  return { sender, recipient, xfer };
}

for (
  const [what, from, header] of [
    [
      "acknowledgements that move nothing",
      "recipient",
      (xfer: number) => `{"t":"file_ack","xfer":${xfer},"received":0}`,
    ],
    [
      "acknowledgements from the sender",
      "sender",
      (xfer: number) => `{"t":"file_ack","xfer":${xfer},"received":1}`,
    ],
  ] as const
) {
  Deno.test(`a frame of ${what} in a transfer of its own gets its sender cut off, though the transfer's file data passes the rate`, async () => {
    await using server = await startTestServer();
    const parts = await ownTransfer(server);
    const raw = parts[from];
    const other = from === "sender" ? parts.recipient : parts.sender;
    // Each one changes nothing (the router drops it); 20,000 in a frame,
    // sent without pause, kept the server from everyone else.
    raw.send(await raw.sealPlaintext(batchOf(header(parts.xfer), 10_000)));
    const closed = await raw.waitClosed();
    assert.deepEqual(closed, { code: 1008, reason: "violation" });
    await other.close();
  });
}

Deno.test("a frame of one-byte chunks in a transfer of its own gets its sender cut off: the window counts bytes, not messages", async () => {
  await using server = await startTestServer();
  const { sender, recipient, xfer } = await ownTransfer(server);
  // 10,000 chunks that each move the transfer by one byte (a body is the
  // byte and its 16-byte tag), in order and within the window.
  const chunks = Array.from(
    { length: 10_000 },
    (_, offset) =>
      encodeMessage(
        { t: "file_chunk", xfer, offset },
        new Uint8Array(1 + FILE_CHUNK_TAG_BYTES),
      ),
  );
  const [batch, ...rest] = packBatches(chunks);
  assert.equal(rest.length, 0);
  sender.send(await sender.sealPlaintext(batch!));
  const closed = await sender.waitClosed();
  assert.deepEqual(closed, { code: 1008, reason: "violation" });
  await recipient.close();
});
