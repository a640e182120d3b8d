// This module is browser compatible.

/**
 * A message's JSON form, the one every message has (a live chat message may
 * also take the compact form, compact_chat.ts):
 *
 *     u32be header_length | u32be body_length | header (UTF-8 JSON) | body
 *
 * A message is encoded once and the same bytes are copied into every
 * recipient's batch (batch_framing.ts). A bulk frame seals a header alone
 * (docs/PROTOCOL.md 3.7): `encodeHeader`, `decodeHeader`.
 */

import { MAX_HEADER_BYTES } from "./limits.ts";
import type {
  ClientMessage,
  RoomKeyMessage,
  ServerMessage,
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
export function parseHeader(text: string): unknown {
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

/** Headers up to this length that are plain ASCII skip TextDecoder. */
const ASCII_FAST_PATH_BYTES = 512;

/**
 * A header's text. Almost every header is short ASCII JSON, and building
 * such a string in JavaScript costs less than a call into the runtime's
 * TextDecoder: a client in a busy room decodes one per message.
 */
export function decodeHeaderText(bytes: Uint8Array): string {
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
