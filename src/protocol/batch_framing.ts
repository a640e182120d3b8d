// This module is browser compatible.

/**
 * A sealed frame's plaintext is a batch: one or more messages back to back,
 * each in its JSON form (message_framing.ts) or, a live chat message, in its
 * compact form (compact_chat.ts), told apart by the first byte.
 *
 * Batching is what lets the server seal one frame per recipient per flush
 * instead of one per message (see docs/PROTOCOL.md, "Batching").
 */

import { MAX_BATCH_BYTES, MAX_HEADER_BYTES } from "./limits.ts";
import { decodeCompactChat } from "./compact_chat.ts";
import {
  type DecodedMessage,
  decodeHeaderText,
  MESSAGE_OVERHEAD,
  parseHeader,
} from "./message_framing.ts";

/**
 * Splits a batch into messages. Throws SyntaxError on any malformed length,
 * truncated message or invalid JSON, and TypeError on invalid UTF-8: a peer
 * that sends one is broken or hostile, and the whole frame is rejected.
 */
export function decodeBatch(batch: Uint8Array): DecodedMessage[] {
  if (batch.byteLength === 0) throw new SyntaxError("Empty batch");
  if (batch.byteLength > MAX_BATCH_BYTES) {
    throw new SyntaxError("Batch too large");
  }
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const messages: DecodedMessage[] = [];
  let offset = 0;
  while (offset < batch.byteLength) {
    if (batch[offset] !== 0) {
      const [message, next] = decodeCompactChat(batch, offset);
      messages.push(message);
      offset = next;
      continue;
    }
    if (batch.byteLength - offset < MESSAGE_OVERHEAD) {
      throw new SyntaxError("Truncated message length");
    }
    const headerLength = view.getUint32(offset);
    const bodyLength = view.getUint32(offset + 4);
    offset += MESSAGE_OVERHEAD;
    if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) {
      throw new SyntaxError(`Bad header length ${headerLength}`);
    }
    if (headerLength + bodyLength > batch.byteLength - offset) {
      throw new SyntaxError("Message longer than its frame");
    }
    const header: unknown = parseHeader(
      decodeHeaderText(batch.subarray(offset, offset + headerLength)),
    );
    offset += headerLength;
    const body = batch.subarray(offset, offset + bodyLength);
    offset += bodyLength;
    messages.push({ header, body });
  }
  return messages;
}

/** Concatenates encoded messages into batches of at most `limit` bytes each. */
export function packBatches(
  messages: readonly Uint8Array[],
  limit = MAX_BATCH_BYTES,
): Uint8Array[] {
  const batches: Uint8Array[] = [];
  let start = 0;
  while (start < messages.length) {
    const end = batchEnd(messages, start, limit);
    if (end === start + 1) {
      batches.push(messages[start]!);
    } else {
      const batch = new Uint8Array(batchBytes(messages, start, end));
      packInto(messages, start, end, batch, 0);
      batches.push(batch);
    }
    start = end;
  }
  return batches;
}

/**
 * Where the batch that starts with `messages[start]` ends (the index after
 * its last message): as many messages as fit in `limit` bytes, and at least
 * one (a single message never exceeds the limit: headers and bodies are
 * bounded).
 */
export function batchEnd(
  messages: readonly Uint8Array[],
  start: number,
  limit = MAX_BATCH_BYTES,
): number {
  let end = start;
  let size = 0;
  while (end < messages.length) {
    const next = messages[end]!.byteLength;
    if (end > start && size + next > limit) break;
    size += next;
    end++;
  }
  return end;
}

/** The bytes of `messages[start]` to `messages[end - 1]` together. */
export function batchBytes(
  messages: readonly Uint8Array[],
  start: number,
  end: number,
): number {
  let size = 0;
  for (let i = start; i < end; i++) size += messages[i]!.byteLength;
  return size;
}

/**
 * Writes `messages[start]` to `messages[end - 1]` back to back into `out`
 * from `offset` (which has room for them): their batch, in a buffer of the
 * caller's. Returns the offset after the last.
 */
export function packInto(
  messages: readonly Uint8Array[],
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
): number {
  for (let i = start; i < end; i++) {
    const message = messages[i]!;
    out.set(message, offset);
    offset += message.byteLength;
  }
  return offset;
}
