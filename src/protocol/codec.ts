// This module is browser compatible.

/**
 * Encoding of messages inside a sealed frame.
 *
 * A frame's plaintext is a batch: one or more messages back to back, each
 *
 *     u32be header_length | u32be body_length | header (UTF-8 JSON) | body
 *
 * or, for a live chat message to a client that asked for it at `register`,
 * the compact form (its first byte is never 0, a JSON header's length's is):
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
 * Batching is what lets the server seal one frame per recipient per flush instead
 * of one per message (see docs/PROTOCOL.md, "Batching"). A message is encoded once
 * and the same bytes are copied into every recipient's batch. Every byte of a
 * chat message is sealed once per recipient and opened by each of them, which
 * is why its header has a compact form: ~15 bytes instead of ~54.
 */

import {
  FILE_KEY_ID_PATTERN,
  isValidName,
  MAX_AWAY_CHARS,
  MAX_BATCH_BYTES,
  MAX_HEADER_BYTES,
  NAME_RULE,
  SHA256_HEX_PATTERN,
} from "./limits.ts";
import {
  CLIENT_ID_PATTERN,
  type ClientMessage,
  type Cursor,
  type Declined,
  type GroupInfo,
  type GroupMembers,
  isErrorCode,
  MAX_ACK_CURSORS,
  type ResumeClaim,
  type RoomKeyMessage,
  type ServerMessage,
  type UserInfo,
} from "./messages.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// A leading U+FEFF is kept (and then refused by JSON.parse, or kept in a
// name), not silently dropped: what was sent is what is read.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes a message adds to a batch besides its header and body. */
export const MESSAGE_OVERHEAD = 8;

export interface DecodedMessage {
  header: unknown;
  body: Uint8Array;
  /**
   * The body came outside the connection's encryption, in a bulk frame
   * (docs/PROTOCOL.md 3.7): a view of that frame, sealed by its sender.
   */
  outside?: true;
  /**
   * It came in a room frame (docs/PROTOCOL.md 3.8), sealed once for every
   * member of the public room, its sender included.
   */
  room?: true;
}

/**
 * A message header alone, as a bulk frame seals it (docs/PROTOCOL.md 3.7):
 * the UTF-8 JSON text.
 *
 * @throws {RangeError} if it is over `MAX_HEADER_BYTES`
 */
export function encodeHeader(
  header: ClientMessage | ServerMessage,
): Uint8Array {
  const json = encoder.encode(JSON.stringify(header));
  if (json.byteLength > MAX_HEADER_BYTES) {
    throw new RangeError(`Message header too large (${json.byteLength} bytes)`);
  }
  return json;
}

/**
 * The header a bulk frame sealed. Throws SyntaxError on invalid JSON or a
 * header over `MAX_HEADER_BYTES`, TypeError on invalid UTF-8.
 */
export function decodeHeader(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_HEADER_BYTES) {
    throw new SyntaxError(`Bad header length ${bytes.byteLength}`);
  }
  return parseHeader(decodeHeaderText(bytes));
}

/**
 * A header's JSON. V8's error for invalid JSON quotes the input, which came
 * from the network and ends up in the server's log and on terminals: the
 * error says only what is wrong.
 */
function parseHeader(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError("Header is not valid JSON");
  }
}

/** Encodes one message; the result can be appended to any number of batches. */
export function encodeMessage(
  header: ClientMessage | ServerMessage | RoomKeyMessage,
  body: Uint8Array = EMPTY,
): Uint8Array {
  const text = JSON.stringify(header);
  return (text.length <= ASCII_FAST_PATH_BYTES
    ? encodeAsciiMessage(text, body)
    : null) ?? encodeUtf8Message(encoder.encode(text), body);
}

/**
 * The message with an ASCII header written in JavaScript, or null if the
 * header is not ASCII: a server encodes one per message it routes, and a
 * call into the runtime's TextEncoder costs more than this loop for a short
 * header (as for decoding, see decodeHeaderText).
 */
function encodeAsciiMessage(text: string, body: Uint8Array): Uint8Array | null {
  const length = text.length;
  const out = new Uint8Array(MESSAGE_OVERHEAD + length + body.byteLength);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return null;
    out[MESSAGE_OVERHEAD + i] = code;
  }
  writeLengths(out, length, body.byteLength);
  out.set(body, MESSAGE_OVERHEAD + length);
  return out;
}

function encodeUtf8Message(json: Uint8Array, body: Uint8Array): Uint8Array {
  if (json.byteLength > MAX_HEADER_BYTES) {
    throw new RangeError(`Message header too large (${json.byteLength} bytes)`);
  }
  const out = new Uint8Array(
    MESSAGE_OVERHEAD + json.byteLength + body.byteLength,
  );
  writeLengths(out, json.byteLength, body.byteLength);
  out.set(json, MESSAGE_OVERHEAD);
  out.set(body, MESSAGE_OVERHEAD + json.byteLength);
  return out;
}

/** The two big-endian u32 lengths that start every message. */
function writeLengths(out: Uint8Array, header: number, body: number): void {
  out[0] = header >>> 24;
  out[1] = (header >>> 16) & 0xff;
  out[2] = (header >>> 8) & 0xff;
  out[3] = header & 0xff;
  out[4] = body >>> 24;
  out[5] = (body >>> 16) & 0xff;
  out[6] = (body >>> 8) & 0xff;
  out[7] = body & 0xff;
}

type ChatMessage = Extract<
  ServerMessage,
  { t: "public" | "private" | "group" }
>;
type AllKeys<T> = T extends unknown ? keyof T : never;
/**
 * Compiles only while every field of a chat message has a compact form or
 * sends the message as JSON (`history`, `to`): a new field must decide which
 * before it can be added, or compact readers would silently lose it. `id`
 * and `seq` are in forms 4-9, and left out of forms 1-3, whose readers do
 * not acknowledge.
 */
const CHAT_FIELDS_COVERED: [
  Exclude<
    AllKeys<ChatMessage>,
    "t" | "from" | "ts" | "group" | "history" | "to" | "id" | "seq"
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
 * Reads a varint at `offset`: its value and the offset after it. Throws on
 * one cut short, longer than 7 bytes, over 2^48 - 1, or not in its shortest
 * form (a last byte of 0 after others): one number, one encoding.
 */
function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = bytes[offset + i];
    if (byte === undefined) throw new SyntaxError("Truncated compact message");
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw new SyntaxError("Overlong varint");
      if (value > MAX_U48) throw new SyntaxError("Varint over 2^48 - 1");
      return [value, offset + i + 1];
    }
    scale *= 0x80;
  }
  throw new SyntaxError("Varint longer than 7 bytes");
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
function decodeCompactChat(
  batch: Uint8Array,
  offset: number,
): [DecodedMessage, number] {
  const form = batch[offset]!;
  const t = COMPACT_TYPES[form];
  if (t === undefined || t === null) {
    throw new SyntaxError(`Unknown message form ${form}`);
  }
  const end = batch.byteLength;
  let ts: number;
  let at: number;
  let position: { id: number; seq: number } | null = null;
  const varints = form > VARINT_FORMS;
  if (varints) {
    [ts, at] = readVarint(batch, offset + 1);
    const [id, afterId] = readVarint(batch, at);
    const [seq, afterSeq] = readVarint(batch, afterId);
    position = { id, seq };
    at = afterSeq;
  } else {
    const withPosition = form > FIXED_POSITION_FORMS;
    if (
      end - offset <
        COMPACT_OVERHEAD + (withPosition ? COMPACT_POSITION : 0) + 1
    ) {
      throw new SyntaxError("Truncated compact message");
    }
    ts = readU48(batch, offset + 1);
    at = offset + 7;
    if (withPosition) {
      position = { id: readU48(batch, at), seq: readU48(batch, at + 6) };
      at += COMPACT_POSITION;
    }
  }
  const [from, afterFrom] = readName(batch, at);
  at = afterFrom;
  let group: string | null = null;
  if (t === "group") [group, at] = readName(batch, at);
  let bodyLength: number;
  if (varints) [bodyLength, at] = readVarint(batch, at);
  else {
    if (end - at < 4) throw new SyntaxError("Truncated compact message");
    bodyLength = readU32(batch, at);
    at += 4;
  }
  if (bodyLength > end - at) {
    throw new SyntaxError("Message longer than its frame");
  }
  const header = group === null
    ? { t, from, ts, ...position }
    : { t, group, from, ts, ...position };
  return [
    { header, body: batch.subarray(at, at + bodyLength) },
    at + bodyLength,
  ];
}

/** A u8-length-prefixed UTF-8 name at `offset`, and the offset after it. */
function readName(batch: Uint8Array, offset: number): [string, number] {
  if (offset >= batch.byteLength) {
    throw new SyntaxError("Truncated compact message");
  }
  const length = batch[offset]!;
  const start = offset + 1;
  if (length === 0) throw new SyntaxError("Empty name in a compact message");
  if (length > batch.byteLength - start) {
    throw new SyntaxError("Truncated compact message");
  }
  return [
    decodeHeaderText(batch.subarray(start, start + length)),
    start + length,
  ];
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! * 2 ** 24) +
    ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
      bytes[offset + 3]!);
}

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

/** Headers up to this length that are plain ASCII skip TextDecoder. */
const ASCII_FAST_PATH_BYTES = 512;

/**
 * A header's text. Almost every header is short ASCII JSON, and building
 * such a string in JavaScript costs less than a call into the runtime's
 * TextDecoder (0.16 against 0.27 µs for a 60-byte header): a client in a
 * busy room decodes one per message.
 */
function decodeHeaderText(bytes: Uint8Array): string {
  if (bytes.length <= ASCII_FAST_PATH_BYTES) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return String.fromCharCode.apply(null, bytes as unknown as number[]);
    }
  }
  return decoder.decode(bytes);
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

/**
 * packBatches with a memory of its last few lists: in a busy room every
 * recipient's flush packs the same encoded messages in the same order, and
 * packing them once instead of once per recipient saves a copy of every byte
 * of every delivery. The batches it returns may be shared: never write to
 * or free them. Only lists that pack into one batch are remembered, and only
 * until the current turn's microtasks have run (the flushes of one routed
 * frame run there, one after another), so an idle server keeps none.
 */
export class SharedBatchPacker {
  readonly #recent: {
    messages: readonly Uint8Array[];
    /** Null until a second flush asks for the list ({@link packed}). */
    batches: readonly Uint8Array[] | null;
  }[] = [];
  readonly #forget = () => {
    this.#recent.length = 0;
  };

  constructor(readonly remember = 4, readonly limit = MAX_BATCH_BYTES) {}

  pack(messages: readonly Uint8Array[]): readonly Uint8Array[] {
    // One message is its own batch: nothing to pack, nothing to remember.
    if (messages.length < 2) return packBatches(messages, this.limit);
    const known = this.#find(messages);
    if (known?.batches != null) return known.batches;
    const batches = packBatches(messages, this.limit);
    if (batches.length > 1) return batches;
    if (known !== undefined) known.batches = batches;
    // The list is copied: a caller may reuse its array.
    else this.#remember(messages.slice(), batches);
    return batches;
  }

  /**
   * The batch of `messages` (two or more that fit in one batch) if a flush
   * in this turn asked for the same list before, packed once for all that
   * ask; else null, and the caller packs them itself (into its own frame:
   * `packInto`), and the list is remembered. So a list only one recipient
   * gets (in a room of senders, each gets everyone's messages but its own)
   * is never packed twice. `messages` is kept, not copied: the caller must
   * not change the array afterwards.
   */
  packed(messages: readonly Uint8Array[]): Uint8Array | null {
    const known = this.#find(messages);
    if (known === undefined) {
      this.#remember(messages, null);
      return null;
    }
    known.batches ??= packBatches(messages, this.limit);
    return known.batches.length === 1 ? known.batches[0]! : null;
  }

  #find(messages: readonly Uint8Array[]) {
    for (const entry of this.#recent) {
      if (sameMessages(entry.messages, messages)) return entry;
    }
    return undefined;
  }

  #remember(
    messages: readonly Uint8Array[],
    batches: readonly Uint8Array[] | null,
  ): void {
    if (this.#recent.length === 0) queueMicrotask(this.#forget);
    this.#recent.unshift({ messages, batches });
    if (this.#recent.length > this.remember) this.#recent.pop();
  }
}

function sameMessages(
  a: readonly Uint8Array[],
  b: readonly Uint8Array[],
): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --- Validation of headers received from the network -------------------------

type Fields = Record<string, unknown>;

function fail(reason: string): never {
  throw new TypeError(reason);
}

function asRecord(value: unknown): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("Message header is not an object");
  }
  return value as Fields;
}

function str(fields: Fields, key: string, max = 256): string {
  const value = fields[key];
  if (typeof value !== "string") fail(`Field '${key}' must be a string`);
  if (value.length > max) fail(`Field '${key}' is too long`);
  return value;
}

/**
 * A file offer's optional `key` (64 lower-case hex digits) and `key_id` (32
 * lower-case hex digits), when present.
 */
function fileKey(fields: Fields): { key?: string; key_id?: string } {
  let out: { key?: string; key_id?: string } = {};
  if (fields.key !== undefined) {
    const key = str(fields, "key", 64);
    if (!SHA256_HEX_PATTERN.test(key)) {
      fail("Field 'key' must be 64 lower-case hex digits");
    }
    out = { key };
  }
  if (fields.key_id !== undefined) {
    const id = str(fields, "key_id", 32);
    if (!FILE_KEY_ID_PATTERN.test(id)) {
      fail("Field 'key_id' must be 32 lower-case hex digits");
    }
    out = { ...out, key_id: id };
  }
  return out;
}

/**
 * A `file_end`: its `sig` (a group file's, 11.10), when present, is 64 bytes
 * in base64 (88 characters); the server passes it on as it is.
 */
function fileEnd(
  fields: Fields,
): { t: "file_end"; xfer: number; sha256: string; sig?: string } {
  const end = {
    t: "file_end" as const,
    xfer: int(fields, "xfer"),
    sha256: str(fields, "sha256", 64),
  };
  if (fields.sig === undefined) return end;
  const sig = str(fields, "sig", 88);
  if (!/^[A-Za-z0-9+/]{86}==$/.test(sig)) {
    fail("Field 'sig' must be 64 bytes in base64");
  }
  return { ...end, sig };
}

function int(fields: Fields, key: string): number {
  const value = fields[key];
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 0
  ) {
    fail(`Field '${key}' must be a non-negative integer`);
  }
  return value;
}

function optionalInt(fields: Fields, key: string): number | null {
  return fields[key] === null ? null : int(fields, key);
}

function bool(fields: Fields, key: string): boolean {
  const value = fields[key];
  if (typeof value !== "boolean") fail(`Field '${key}' must be a boolean`);
  return value;
}

function list<T>(
  fields: Fields,
  key: string,
  item: (value: unknown) => T,
  max = 100_000,
): T[] {
  const value = fields[key];
  if (!Array.isArray(value)) fail(`Field '${key}' must be an array`);
  if (value.length > max) fail(`Field '${key}' has too many items`);
  return value.map(item);
}

/** A chat message's optional `cid`, checked against CLIENT_ID_PATTERN. */
function clientId(fields: Fields): { cid?: string } {
  const value = fields.cid;
  if (value === undefined) return {};
  if (typeof value !== "string" || !CLIENT_ID_PATTERN.test(value)) {
    fail("Field 'cid' must be 16 to 32 lowercase hex digits");
  }
  return { cid: value };
}

/**
 * A user or group name a server sent: it follows the naming rule
 * (docs/PROTOCOL.md 8), as every name the server accepted does. A name is
 * shown on terminals and pages and kept in files: one that breaks the rule
 * (a control character, a newline, 200 characters) is the server breaking
 * the protocol.
 */
function userName(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== "string" || !isValidName(value)) {
    fail(`Field '${key}' must be a name (${NAME_RULE})`);
  }
  return value;
}

/** A list's name, as {@link userName}. */
function validName(value: unknown): string {
  if (typeof value !== "string" || !isValidName(value)) {
    fail(`Expected a name (${NAME_RULE})`);
  }
  return value;
}

/** Validates a header a client sent. Throws TypeError naming what is wrong. */
export function parseClientMessage(value: unknown): ClientMessage {
  const f = asRecord(value);
  const t = f.t;
  switch (t) {
    case "register":
      return {
        t,
        id: int(f, "id"),
        name: str(f, "name"),
        key: str(f, "key", 64),
        ...(f.compact === undefined ? {} : { compact: bool(f, "compact") }),
        ...(f.acks === undefined ? {} : { acks: bool(f, "acks") }),
        ...(f.varint === undefined ? {} : { varint: bool(f, "varint") }),
        ...(f.room_frames === undefined
          ? {}
          : { room_frames: bool(f, "room_frames") }),
      };
    case "prove":
      return { t, id: int(f, "id"), signature: str(f, "signature", 128) };
    case "say":
      return { t, id: int(f, "id"), ...clientId(f) };
    case "list":
    case "groups":
    case "ping":
      return { t, id: int(f, "id") };
    case "msg":
      return { t, id: int(f, "id"), to: str(f, "to"), ...clientId(f) };
    case "gsay":
      return { t, id: int(f, "id"), group: str(f, "group"), ...clientId(f) };
    case "create":
    case "join":
    case "leave":
      return { t, id: int(f, "id"), group: str(f, "group") };
    case "members": {
      const id = int(f, "id");
      return f.group === undefined
        ? { t, id }
        : { t, id, group: str(f, "group") };
    }
    case "bye":
      return { t };
    case "away": {
      const id = int(f, "id");
      return f.reason === undefined
        ? { t, id }
        : { t, id, reason: str(f, "reason", MAX_AWAY_CHARS) };
    }
    case "ack":
      return { t, cursors: list(f, "cursors", cursor, MAX_ACK_CURSORS) };
    case "history": {
      const message: Extract<ClientMessage, { t: "history" }> = {
        t,
        id: int(f, "id"),
      };
      if (f.target !== undefined) message.target = str(f, "target");
      if (f.limit !== undefined) message.limit = int(f, "limit");
      return message;
    }
    case "file_offer": {
      const id = int(f, "id");
      const name = str(f, "name", 1024);
      const size = int(f, "size");
      if ((f.to === undefined) === (f.group === undefined)) {
        fail("A file offer needs exactly one of 'to' and 'group'");
      }
      const key = fileKey(f);
      return f.to === undefined
        ? { t, id, name, size, group: str(f, "group"), ...key }
        : { t, id, name, size, to: str(f, "to"), ...key };
    }
    case "file_chunk":
      return { t, xfer: int(f, "xfer"), offset: int(f, "offset") };
    case "file_end":
      return fileEnd(f);
    case "file_ack":
      return { t, xfer: int(f, "xfer"), received: int(f, "received") };
    case "file_done":
      return {
        t,
        xfer: int(f, "xfer"),
        ok: bool(f, "ok"),
        reason: str(f, "reason", 1024),
      };
    case "file_cancel":
      return { t, xfer: int(f, "xfer"), reason: str(f, "reason", 1024) };
    case "e2e_keys":
      return { t, id: int(f, "id") };
    case "e2e_bundle":
      return { t, id: int(f, "id"), name: str(f, "name") };
    case "e2e_msg":
      return {
        t,
        id: int(f, "id"),
        to: str(f, "to"),
        fingerprint: str(f, "fingerprint", 64),
        ...clientId(f),
      };
    case "e2e_gsay":
      return { t, id: int(f, "id"), group: str(f, "group"), ...clientId(f) };
    case "file_accept": {
      // Each is read on its own; a claim needs both (the server checks).
      return {
        t,
        xfer: int(f, "xfer"),
        ...(f.offset === undefined ? {} : { offset: int(f, "offset") }),
        ...(f.sha256 === undefined ? {} : { sha256: str(f, "sha256", 64) }),
      };
    }
    case "file_decline":
      return { t, xfer: int(f, "xfer") };
    default:
      fail(
        typeof t === "string"
          ? `Unknown message type '${t.slice(0, 32)}'`
          : "Missing message type",
      );
  }
}

function cursor(value: unknown): Cursor {
  const f = asRecord(value);
  const seq = int(f, "seq");
  if ((f.to === undefined) === (f.group === undefined)) {
    fail("A cursor needs exactly one of 'to' and 'group'");
  }
  return f.to === undefined
    ? { group: str(f, "group"), seq }
    : { to: str(f, "to"), seq };
}

/**
 * `id` and `seq` of a chat message. A server sends both or neither; each is
 * read on its own, and a reader uses them only together.
 */
function withPosition<T extends object>(
  f: Fields,
  message: T,
): T & { id?: number; seq?: number } {
  if (f.id === undefined && f.seq === undefined) return message;
  return {
    ...message,
    ...(f.id === undefined ? {} : { id: int(f, "id") }),
    ...(f.seq === undefined ? {} : { seq: int(f, "seq") }),
  };
}

function resumeClaim(value: unknown): ResumeClaim {
  const f = asRecord(value);
  return {
    name: userName(f, "name"),
    offset: int(f, "offset"),
    sha256: str(f, "sha256", 64),
  };
}

function declined(value: unknown): Declined {
  const f = asRecord(value);
  return { name: userName(f, "name"), reason: str(f, "reason", 1024) };
}

function userInfo(value: unknown): UserInfo {
  const f = asRecord(value);
  return {
    name: userName(f, "name"),
    lastMessageAt: optionalInt(f, "lastMessageAt"),
    ...(f.away === undefined ? {} : { away: str(f, "away", MAX_AWAY_CHARS) }),
    ...(f.fingerprint === undefined
      ? {}
      : { fingerprint: str(f, "fingerprint", 64) }),
  };
}

function groupInfo(value: unknown): GroupInfo {
  const f = asRecord(value);
  return { name: userName(f, "name"), members: int(f, "members") };
}

function groupMembers(value: unknown): GroupMembers {
  const f = asRecord(value);
  return withMore(f, {
    group: userName(f, "group"),
    members: list(f, "members", validName),
    online: list(f, "online", validName),
  });
}

function withMore<T extends object>(
  f: Fields,
  message: T,
): T & { more?: number } {
  return f.more === undefined ? message : { ...message, more: int(f, "more") };
}

function withHistory<T extends object>(
  f: Fields,
  message: T,
): T & { history?: true } {
  if (f.history === undefined) return message;
  if (f.history !== true) fail("Field 'history' must be true when present");
  return { ...message, history: true };
}

// A Record so the compiler insists on every tag of ServerMessage.
const SERVER_TYPES: Readonly<Record<ServerMessage["t"], true>> = {
  welcome: true,
  challenge: true,
  ok: true,
  error: true,
  pong: true,
  public: true,
  private: true,
  group: true,
  users: true,
  groups: true,
  members: true,
  presence: true,
  membership: true,
  bye: true,
  file_ready: true,
  file_progress: true,
  file_result: true,
  file_offer: true,
  file_chunk: true,
  file_end: true,
  file_cancel: true,
  e2e_keys: true,
  e2e_bundle: true,
  e2e_private: true,
  e2e_group: true,
};

/**
 * Whether a header has a type this client understands. Unknown types are
 * skipped rather than fatal, so servers can add messages without breaking
 * older clients (docs/PROTOCOL.md, "Versioning").
 */
export function isKnownServerType(header: unknown): boolean {
  if (typeof header !== "object" || header === null) return true; // fails in parse
  const t = (header as { t?: unknown }).t;
  return typeof t !== "string" || Object.hasOwn(SERVER_TYPES, t);
}

/** A `welcome`'s store id (docs/PROTOCOL.md 5.3). */
const STORE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Validates a header the server sent. Throws TypeError naming what is wrong. */
export function parseServerMessage(value: unknown): ServerMessage {
  const f = asRecord(value);
  const t = f.t;
  switch (t) {
    case "welcome": {
      const message = {
        t,
        re: int(f, "re"),
        name: userName(f, "name"),
        text: str(f, "text", 4096),
      };
      for (const flag of ["acks", "cids"]) {
        if (f[flag] !== undefined && f[flag] !== true) {
          fail(`Field '${flag}' must be true when present`);
        }
      }
      if (
        f.store !== undefined &&
        (typeof f.store !== "string" || !STORE_ID.test(f.store))
      ) {
        fail("Field 'store' must be 1 to 64 letters, digits, '-' or '_'");
      }
      return {
        ...message,
        ...(f.acks === true ? { acks: true } : {}),
        ...(f.cids === true ? { cids: true } : {}),
        ...(typeof f.store === "string" ? { store: f.store } : {}),
      };
    }
    case "ok":
      return withPosition(f, {
        t,
        re: int(f, "re"),
        text: str(f, "text", 4096),
      });
    case "error": {
      const code = f.code;
      return {
        t,
        re: optionalInt(f, "re"),
        code: isErrorCode(code) ? code : "internal",
        text: str(f, "text", 4096),
      };
    }
    case "public":
      return withPosition(
        f,
        withHistory(f, { t, from: userName(f, "from"), ts: int(f, "ts") }),
      );
    case "private": {
      const message = withPosition(
        f,
        withHistory(f, { t, from: userName(f, "from"), ts: int(f, "ts") }),
      );
      return f.to === undefined
        ? message
        : { ...message, to: userName(f, "to") };
    }
    case "e2e_group":
      return withPosition(
        f,
        withHistory(f, {
          t,
          group: userName(f, "group"),
          from: userName(f, "from"),
          fingerprint: str(f, "fingerprint", 64),
          ts: int(f, "ts"),
        }),
      );
    case "group":
      return withPosition(
        f,
        withHistory(f, {
          t,
          group: userName(f, "group"),
          from: userName(f, "from"),
          ts: int(f, "ts"),
        }),
      );
    case "users":
      return withMore(f, {
        t,
        re: int(f, "re"),
        users: list(f, "users", userInfo),
      });
    case "groups":
      return withMore(f, {
        t,
        re: int(f, "re"),
        groups: list(f, "groups", groupInfo),
      });
    case "members":
      return withMore(f, {
        t,
        re: int(f, "re"),
        groups: list(f, "groups", groupMembers),
      });
    case "presence":
      return { t, name: userName(f, "name"), online: bool(f, "online") };
    case "membership":
      return {
        t,
        group: userName(f, "group"),
        name: userName(f, "name"),
        joined: bool(f, "joined"),
      };
    case "bye": {
      const reason = f.reason;
      if (
        reason !== "quit" && reason !== "shutdown" && reason !== "replaced" &&
        reason !== "violation"
      ) {
        fail("Unknown bye reason");
      }
      return { t, reason, text: str(f, "text", 4096) };
    }
    case "pong":
      return { t, re: int(f, "re") };
    case "challenge":
      return {
        t,
        re: int(f, "re"),
        nonce: str(f, "nonce", 64),
        ...(f.proof === undefined ? {} : { proof: int(f, "proof") }),
      };
    case "file_ready": {
      const message = {
        t,
        re: int(f, "re"),
        xfer: int(f, "xfer"),
        recipients: list(f, "recipients", validName),
      };
      return {
        ...message,
        ...(f.declined === undefined
          ? {}
          : { declined: list(f, "declined", declined) }),
        ...(f.resume === undefined
          ? {}
          : { resume: list(f, "resume", resumeClaim) }),
      };
    }
    case "file_progress":
      return { t, xfer: int(f, "xfer"), acked: int(f, "acked") };
    case "file_result": {
      const message = {
        t,
        xfer: int(f, "xfer"),
        name: userName(f, "name"),
        ok: bool(f, "ok"),
        reason: str(f, "reason", 1024),
      };
      if (f.resumable === undefined) return message;
      if (f.resumable !== true) {
        fail("Field 'resumable' must be true when present");
      }
      return { ...message, resumable: true as const };
    }
    case "file_offer": {
      const common = {
        t,
        xfer: int(f, "xfer"),
        from: userName(f, "from"),
        name: str(f, "name", 1024),
        size: int(f, "size"),
        ...(f.fingerprint === undefined
          ? {}
          : { fingerprint: str(f, "fingerprint", 64) }),
        ...(f.timeout === undefined ? {} : { timeout: int(f, "timeout") }),
        ...fileKey(f),
      };
      return f.group === undefined
        ? common
        : { ...common, group: userName(f, "group") };
    }
    case "file_chunk":
      return { t, xfer: int(f, "xfer"), offset: int(f, "offset") };
    case "file_end":
      return fileEnd(f);
    case "file_cancel": {
      const message = {
        t,
        xfer: int(f, "xfer"),
        reason: str(f, "reason", 1024),
      };
      if (f.resumable === undefined) return message;
      if (f.resumable !== true) {
        fail("Field 'resumable' must be true when present");
      }
      return { ...message, resumable: true as const };
    }
    case "e2e_keys":
      return { t, re: int(f, "re"), one_time: int(f, "one_time") };
    case "e2e_bundle":
      return {
        t,
        re: int(f, "re"),
        name: userName(f, "name"),
        fingerprint: str(f, "fingerprint", 64),
      };
    case "e2e_private": {
      const message = withPosition(
        f,
        withHistory(f, {
          t,
          from: userName(f, "from"),
          fingerprint: str(f, "fingerprint", 64),
          ts: int(f, "ts"),
        }),
      );
      return f.to === undefined
        ? message
        : { ...message, to: userName(f, "to") };
    }
    default:
      fail(
        typeof t === "string"
          ? `Unknown message type '${t.slice(0, 32)}'`
          : "Missing message type",
      );
  }
}
