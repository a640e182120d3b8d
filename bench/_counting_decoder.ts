/**
 * The load client's fast path for chat deliveries: a decrypted batch whose
 * messages are all live public, group or private messages (compact, or JSON)
 * is walked by its length fields and each message handed to the counter as a
 * kind and a body range, without making strings, as the IRC load client
 * finds PRIVMSG lines. Every frame is still decrypted and
 * authenticated; any other batch (replies, notices, file data, history
 * replays, anything malformed) is decoded in full by `decodeBatch`, as a real
 * client does.
 */

import { decodeBatch } from "../src/protocol/batch_framing.ts";
import {
  type DecodedMessage,
  MESSAGE_OVERHEAD,
} from "../src/protocol/message_framing.ts";
import type { BatchDecoder } from "../src/transport/secure_channel.ts";
import { releaseBuffer } from "../src/crypto/bytes.ts";
import type { ChatKind } from "./_driver.ts";

/** Gets each message's body as `plaintext` from `start` to `end`. */
export type ChatSink = (
  kind: ChatKind,
  plaintext: Uint8Array,
  start: number,
  end: number,
) => void;

const encoder = new TextEncoder();
/** How the server's chat headers begin: `{"t":"public",...`. */
const PREFIXES: [ChatKind, Uint8Array][] = (
  ["public", "group", "private"] as const
).map((kind) => [kind, encoder.encode(`{"t":"${kind}",`)]);

/** A compact message's first byte, by kind (docs/PROTOCOL.md, 4.1). */
const COMPACT_KINDS: Readonly<Record<number, ChatKind>> = {
  1: "public",
  2: "private",
  3: "group",
  4: "public",
  5: "private",
  6: "group",
  7: "public",
  8: "private",
  9: "group",
};

const NOTHING: DecodedMessage[] = [];

/**
 * A decoder for one connection; `sink()` gives its current delivery
 * counter, or null to decode everything (the scenario is not counting).
 * `self`: the connection's name as ASCII bytes; its own lines, which come
 * back in the room's batches (docs/PROTOCOL.md 3.8), are not deliveries.
 */
export function countingDecoder(
  sink: () => ChatSink | null,
  self: Uint8Array = new Uint8Array(0),
): BatchDecoder {
  const kinds: ChatKind[] = [];
  const bodies: number[] = [];
  return (plaintext) => {
    const onChat = sink();
    if (onChat === null || plaintext.byteLength === 0) {
      return decodeBatch(plaintext);
    }
    kinds.length = 0;
    bodies.length = 0;
    const view = new DataView(
      plaintext.buffer,
      plaintext.byteOffset,
      plaintext.byteLength,
    );
    let offset = 0;
    while (offset < plaintext.byteLength) {
      const form = plaintext[offset]!;
      if (form !== 0) {
        // Compact: form, u48 ts, [u48 id, u48 seq: forms 4-6], from,
        // [group], u32 body length, body; forms 7-9 with varints for the
        // ts, id, seq and body length (a malformed one is left to
        // decodeBatch, which says why).
        const kind = COMPACT_KINDS[form];
        if (kind === undefined) return decodeBatch(plaintext);
        const varints = form > 6;
        let at = offset + 1;
        if (varints) {
          for (let numbers = 3; numbers > 0; numbers--) {
            at = skipVarint(plaintext, at);
            if (at < 0) return decodeBatch(plaintext);
          }
        } else at += form > 3 ? 18 : 6;
        // Our own lines come back in the room's batches (PROTOCOL.md 3.8).
        const own = isName(plaintext, at, self);
        for (let names = kind === "group" ? 2 : 1; names > 0; names--) {
          const length = plaintext[at] ?? 0;
          if (length === 0) return decodeBatch(plaintext);
          at += 1 + length;
        }
        let start: number;
        let length: number;
        if (varints) {
          start = skipVarint(plaintext, at);
          if (start < 0) return decodeBatch(plaintext);
          length = 0;
          for (let i = start - 1; i >= at; i--) {
            length = length * 128 + (plaintext[i]! & 0x7f);
          }
        } else {
          if (at + 4 > plaintext.byteLength) return decodeBatch(plaintext);
          start = at + 4;
          length = view.getUint32(at);
        }
        const end = start + length;
        if (end > plaintext.byteLength) return decodeBatch(plaintext);
        if (!own) {
          kinds.push(kind);
          bodies.push(start, end);
        }
        offset = end;
        continue;
      }
      if (plaintext.byteLength - offset < MESSAGE_OVERHEAD) {
        return decodeBatch(plaintext);
      }
      const headerLength = view.getUint32(offset);
      const bodyLength = view.getUint32(offset + 4);
      const header = offset + MESSAGE_OVERHEAD;
      const end = header + headerLength + bodyLength;
      if (end > plaintext.byteLength) return decodeBatch(plaintext);
      const kind = kindOf(plaintext, header, headerLength);
      if (kind === null) return decodeBatch(plaintext);
      kinds.push(kind);
      bodies.push(header + headerLength, end);
      offset = end;
    }
    for (let i = 0; i < kinds.length; i++) {
      onChat(kinds[i]!, plaintext, bodies[2 * i]!, bodies[2 * i + 1]!);
    }
    // Counted and read (listeners keep nothing): the opened frame, which the
    // channel handed over, is freed now, as the server frees the batches it
    // routes. Left to the collector, a load process in the fan-out would
    // hold hundreds of MiB of them between collections.
    releaseBuffer(plaintext.buffer);
    return NOTHING;
  };
}

/**
 * The kind of a live chat message's header, or null for anything else. A
 * live one ends with its `ts` (`...,"ts":1732560000000}`); a history
 * replay ends with `"history":true}` (or its `to`) and is not counted.
 */
function kindOf(
  bytes: Uint8Array,
  start: number,
  length: number,
): ChatKind | null {
  const last = bytes[start + length - 2]!;
  if (bytes[start + length - 1] !== 0x7d || last < 0x30 || last > 0x39) {
    return null;
  }
  for (const [kind, prefix] of PREFIXES) {
    if (length <= prefix.length) continue;
    let i = 0;
    while (i < prefix.length && bytes[start + i] === prefix[i]) i++;
    if (i === prefix.length) return kind;
  }
  return null;
}

/** Whether the u8-length-prefixed name at `at` is `name`. */
function isName(bytes: Uint8Array, at: number, name: Uint8Array): boolean {
  if (bytes[at] !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if (bytes[at + 1 + i] !== name[i]) return false;
  }
  return true;
}

/** The offset after the varint at `at`, or -1 if it is cut short or too long. */
function skipVarint(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < 7; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) return -1;
    if (byte < 0x80) return at + i + 1;
  }
  return -1;
}
