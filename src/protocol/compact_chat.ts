// This module is browser compatible.

/**
 * The compact form of a live chat message, for a client that asked for it
 * at `register` (its first byte is never 0, a JSON header's length's is):
 *
 *     u8 form | u48be ts | [u48be id | u48be seq] | u8 from_length | from
 *       | [u8 group_length | group] | u32be body_length | body
 *
 * (forms 1-3 without id and seq; 4-6, with them, only to clients that
 * registered with `acks`), or, to clients that also registered with
 * `varint`, forms 7-9, whose numbers are LEB128 varints:
 *
 *     u8 form | varint ts | varint id | varint seq | u8 from_length | from
 *       | [u8 group_length | group] | varint body_length | body
 *
 * Every byte of a chat message is sealed once per recipient and opened by
 * each of them, which is why its header has a compact form: ~15 bytes
 * instead of ~54 (docs/PROTOCOL.md 4.1).
 */

import type { ServerMessage } from "./messages.ts";
import { type DecodedMessage, decodeHeaderText } from "./message_framing.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

type ChatMessage = Extract<
  ServerMessage,
  { t: "public" | "private" | "group" }
>;
type AllKeys<T> = T extends unknown ? keyof T : never;
/**
 * Compiles only while every field of a chat message has a compact form or
 * sends the message as JSON (`history`, `to`, and `req`, which comes only
 * with `history`): a new field must decide which before it can be added,
 * or compact readers would silently lose it. `id` and `seq` are in forms
 * 4-9, and left out of forms 1-3, whose readers do not acknowledge.
 */
const CHAT_FIELDS_COVERED: [
  Exclude<
    AllKeys<ChatMessage>,
    "t" | "from" | "ts" | "group" | "history" | "req" | "to" | "id" | "seq"
  >,
] extends [never] ? true : false = true;
void CHAT_FIELDS_COVERED;

/** The first byte of a compact chat message, by type (0 starts a JSON one). */
const COMPACT_FORMS = { public: 1, private: 2, group: 3 } as const;
/** Forms 4-6 are 1-3 with a u48 id and seq after the time. */
const FIXED_POSITION_FORMS = 3;
/** Forms 7-9 are 1-3 with every number a varint, and an id and a seq. */
const VARINT_FORMS = 6;
const COMPACT_TYPES = [
  null,
  "public",
  "private",
  "group",
  "public",
  "private",
  "group",
  "public",
  "private",
  "group",
] as const;

/**
 * How a compact chat message carries its id and seq: not at all (forms 1-3,
 * for readers that do not acknowledge), as u48s (4-6), or with every number
 * a varint (7-9: a 16-byte text from a 3-letter name takes 34 bytes instead
 * of 43, and every byte is sealed once per recipient).
 */
export type CompactPosition = "none" | "fixed" | "varint";

/** Bytes of a compact message besides its names, body and position. */
const COMPACT_OVERHEAD = 1 + 6 + 1 + 4;
/** Bytes of an id and a seq in forms 4-6. */
const COMPACT_POSITION = 6 + 6;

/** The largest `ts`, `id` or `seq` the compact form's u48 holds. */
const MAX_U48 = 2 ** 48 - 1;
/** A varint of up to 2^48 - 1 takes at most 7 bytes (7 bits each). */
const MAX_VARINT_BYTES = 7;

/**
 * Encodes a live chat message (`public`, `private` or `group`, without
 * `history` or `to`) in the compact form, or returns null for any other
 * message: those are only ever sent as JSON (`encodeMessage`). With a
 * `position` other than "none", a message that has an id and a seq takes
 * form 4-6 ("fixed") or 7-9 ("varint"); with "none" they are left out.
 */
export function encodeCompactChat(
  message: ServerMessage,
  body: Uint8Array = EMPTY,
  position: CompactPosition = "none",
): Uint8Array | null {
  if (
    (message.t !== "public" && message.t !== "private" &&
      message.t !== "group") ||
    message.history !== undefined ||
    (message.t === "private" && message.to !== undefined) ||
    !isU48(message.ts)
  ) {
    return null;
  }
  const { id, seq } = message;
  const withPosition = position !== "none" &&
    (id !== undefined || seq !== undefined);
  // Half a position, or one too large, goes as JSON: never lost silently.
  if (
    withPosition &&
    (id === undefined || seq === undefined || !isU48(id) || !isU48(seq))
  ) return null;
  const from = compactName(message.from);
  const group = message.t === "group" ? compactName(message.group) : null;
  if (from === null || (message.t === "group" && group === null)) return null;
  const groupBytes = group === null ? 0 : 1 + group.length;
  const length = body.byteLength;
  const varints = withPosition && position === "varint";
  const numbers = varints
    ? varintLength(message.ts) + varintLength(id!) + varintLength(seq!) +
      varintLength(length)
    : 6 + 4 + (withPosition ? COMPACT_POSITION : 0);
  const out = new Uint8Array(
    1 + numbers + 1 + from.length + groupBytes + length,
  );
  out[0] = COMPACT_FORMS[message.t] +
    (varints ? VARINT_FORMS : withPosition ? FIXED_POSITION_FORMS : 0);
  let offset: number;
  if (varints) {
    offset = writeVarint(out, 1, message.ts);
    offset = writeVarint(out, offset, id!);
    offset = writeVarint(out, offset, seq!);
  } else {
    writeU48(out, 1, message.ts);
    offset = 7;
    if (withPosition) {
      writeU48(out, 7, id!);
      writeU48(out, 13, seq!);
      offset = 19;
    }
  }
  offset = writeName(out, offset, from);
  if (group !== null) offset = writeName(out, offset, group);
  if (varints) offset = writeVarint(out, offset, length);
  else {
    out[offset] = length >>> 24;
    out[offset + 1] = (length >>> 16) & 0xff;
    out[offset + 2] = (length >>> 8) & 0xff;
    out[offset + 3] = length & 0xff;
    offset += 4;
  }
  // A server encodes one per message it routes: a short copy by hand costs
  // less than a call to set().
  if (length <= 64) {
    for (let i = 0; i < length; i++) out[offset + i] = body[i]!;
  } else out.set(body, offset);
  return out;
}

function isU48(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_U48;
}

function writeU48(out: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 2 ** 32);
  const low = value >>> 0;
  out[offset] = high >>> 8;
  out[offset + 1] = high & 0xff;
  out[offset + 2] = low >>> 24;
  out[offset + 3] = (low >>> 16) & 0xff;
  out[offset + 4] = (low >>> 8) & 0xff;
  out[offset + 5] = low & 0xff;
}

function readU48(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! * 2 ** 8 + bytes[offset + 1]!) * 2 ** 32 +
    readU32(bytes, offset + 2);
}

/** Bytes of `value` (0 to 2^48 - 1) as an unsigned LEB128 varint. */
function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length++;
  }
  return length;
}

/**
 * Writes `value` as an unsigned LEB128 varint (7 bits a byte, lowest first,
 * the top bit set on every byte but the last); returns the offset after it.
 * Division rather than shifts: values pass 2^32.
 */
function writeVarint(out: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    out[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[offset] = value;
  return offset + 1;
}

/**
 * Reads a compact message's fields one after the other, `at` being where
 * the next one starts: one object per message, where a pair returned per
 * field made six (a client decodes one message per chat line it gets).
 */
class FieldReader {
  constructor(readonly bytes: Uint8Array, public at: number) {}

  /**
   * A varint. Throws on one cut short, longer than 7 bytes, over 2^48 - 1,
   * or not in its shortest form (a last byte of 0 after others): one
   * number, one encoding.
   */
  varint(): number {
    const bytes = this.bytes;
    const offset = this.at;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = bytes[offset + i];
      if (byte === undefined) {
        throw new SyntaxError("Truncated compact message");
      }
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) throw new SyntaxError("Overlong varint");
        if (value > MAX_U48) throw new SyntaxError("Varint over 2^48 - 1");
        this.at = offset + i + 1;
        return value;
      }
      scale *= 0x80;
    }
    throw new SyntaxError("Varint longer than 7 bytes");
  }

  /** A u8-length-prefixed UTF-8 name. */
  name(): string {
    const bytes = this.bytes;
    const offset = this.at;
    if (offset >= bytes.byteLength) {
      throw new SyntaxError("Truncated compact message");
    }
    const length = bytes[offset]!;
    const start = offset + 1;
    if (length === 0) throw new SyntaxError("Empty name in a compact message");
    if (length > bytes.byteLength - start) {
      throw new SyntaxError("Truncated compact message");
    }
    this.at = start + length;
    return decodeHeaderText(bytes.subarray(start, start + length));
  }
}

/**
 * A name for the compact form: the string itself if it is 1 to 255 ASCII
 * characters (written char by char: names are short ASCII in practice, and
 * TextEncoder costs more than that), else its 1 to 255 bytes of UTF-8, or
 * null if it does not fit in that or has a lone surrogate (UTF-8 cannot
 * carry it; JSON's `\ud800` can).
 */
function compactName(name: string): string | Uint8Array | null {
  const length = name.length;
  if (length >= 1 && length <= 255) {
    let i = 0;
    while (i < length && name.charCodeAt(i) < 0x80) i++;
    if (i === length) return name;
  }
  if (!name.isWellFormed()) return null;
  const bytes = encoder.encode(name);
  return bytes.byteLength >= 1 && bytes.byteLength <= 255 ? bytes : null;
}

/** Writes a u8 length and the name at `offset`; returns the offset after. */
function writeName(
  out: Uint8Array,
  offset: number,
  name: string | Uint8Array,
): number {
  const length = name.length;
  out[offset] = length;
  if (typeof name === "string") {
    for (let i = 0; i < length; i++) out[offset + 1 + i] = name.charCodeAt(i);
  } else out.set(name, offset + 1);
  return offset + 1 + length;
}

/**
 * Reads the compact chat message at `offset`; returns it and where the next
 * message starts. Throws like decodeBatch.
 */
export function decodeCompactChat(
  batch: Uint8Array,
  offset: number,
): [DecodedMessage, number] {
  const form = batch[offset]!;
  const t = COMPACT_TYPES[form];
  if (t === undefined || t === null) {
    throw new SyntaxError(`Unknown message form ${form}`);
  }
  const end = batch.byteLength;
  const fields = new FieldReader(batch, offset + 1);
  let ts: number;
  // Both or neither (forms 1-3).
  let id: number | undefined;
  let seq: number | undefined;
  const varints = form > VARINT_FORMS;
  if (varints) {
    ts = fields.varint();
    id = fields.varint();
    seq = fields.varint();
  } else {
    const withPosition = form > FIXED_POSITION_FORMS;
    if (
      end - offset <
        COMPACT_OVERHEAD + (withPosition ? COMPACT_POSITION : 0) + 1
    ) {
      throw new SyntaxError("Truncated compact message");
    }
    ts = readU48(batch, offset + 1);
    fields.at = offset + 7;
    if (withPosition) {
      id = readU48(batch, fields.at);
      seq = readU48(batch, fields.at + 6);
      fields.at += COMPACT_POSITION;
    }
  }
  const from = fields.name();
  const group = t === "group" ? fields.name() : null;
  let bodyLength: number;
  if (varints) bodyLength = fields.varint();
  else {
    if (end - fields.at < 4) throw new SyntaxError("Truncated compact message");
    bodyLength = readU32(batch, fields.at);
    fields.at += 4;
  }
  const at = fields.at;
  if (bodyLength > end - at) {
    throw new SyntaxError("Message longer than its frame");
  }
  // Each shape written out (fields in the order they always had), rather
  // than spread from a position object: no object but the header.
  const header = id === undefined
    ? group === null ? { t, from, ts } : { t, group, from, ts }
    : group === null
    ? { t, from, ts, id, seq }
    : { t, group, from, ts, id, seq };
  return [
    { header, body: batch.subarray(at, at + bodyLength) },
    at + bodyLength,
  ];
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! * 2 ** 24) +
    ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
      bytes[offset + 3]!);
}
