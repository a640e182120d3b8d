// This module is browser compatible.

/**
 * RFC 6455 framing (§5) as a client speaks it: frames out are masked with a
 * fresh random key each, and frames in are read as a server must send them
 * (unmasked, no extension bits, control frames short and whole), with
 * their length checked before any of the payload is kept. The socket's side
 * is tcp_websocket.ts.
 */

import { CloseCode } from "./connection.ts";
import { unmask } from "./websocket_mask.ts";

export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Close codes of RFC 6455 §7.4.1 that only this layer sends. */
export const FrameCloseCode = {
  /** No code in the close frame (never sent on the wire). */
  noStatus: 1005,
  /** The connection ended without a close frame (never sent on the wire). */
  abnormal: 1006,
  /** A text message that is not UTF-8. */
  invalidData: 1007,
} as const;

/** The longest payload of a control frame (§5.5). */
export const MAX_CONTROL_PAYLOAD_BYTES = 125;

/** The longest close reason: a control payload less the 2-byte code. */
const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD_BYTES - 2;

/**
 * Why a frame from the server is refused, and the close code that says so.
 * The message says what the server sent, as words that follow "it sent"
 * (CloseInfo.violation): numbers from the frame, never its bytes.
 */
export class FrameError extends Error {
  constructor(message: string, readonly closeCode: number) {
    super(message);
    this.name = "FrameError";
  }
}

/** The header of a frame from the server. */
export interface FrameHead {
  fin: boolean;
  opcode: number;
  /** Payload bytes. */
  length: number;
  /** Header bytes: where the payload starts. */
  headerBytes: number;
}

/**
 * Reads the header of the frame at the start of `bytes`; null when not all
 * of it has arrived yet. A data frame may carry `maxLength` bytes at most:
 * what is left of the message size limit, so that a server cannot make us
 * buffer more than the limit by announcing it (checked before any payload
 * is read).
 *
 * @throws {FrameError} when the server breaks §5.2 or §5.5
 */
export function readFrameHead(
  bytes: Uint8Array,
  maxLength: number,
): FrameHead | null {
  if (bytes.length < 2) return null;
  const first = bytes[0]!;
  const second = bytes[1]!;
  const fin = (first & 0x80) !== 0;
  const opcode = first & 0x0f;
  if ((first & 0x70) !== 0) {
    throw new FrameError(
      "a frame with reserved bits set, and no extension was agreed",
      CloseCode.protocolError,
    );
  }
  const control = opcode >= 0x8;
  if (!isKnownOpcode(opcode)) {
    throw new FrameError(
      `a frame with the unknown opcode ${opcode}`,
      CloseCode.protocolError,
    );
  }
  if ((second & 0x80) !== 0) {
    // §5.1: a client closes on a masked frame from the server.
    throw new FrameError("a masked frame", CloseCode.protocolError);
  }
  let length = second & 0x7f;
  let headerBytes = 2;
  if (length === 126) {
    if (bytes.length < 4) return null;
    length = (bytes[2]! << 8) | bytes[3]!;
    headerBytes = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return null;
    const high = readUint32(bytes, 2);
    const low = readUint32(bytes, 6);
    // Past 2^53 a number loses bytes: any high word over 2^21 is too long
    // for any limit here anyway.
    length = high > 0x1fffff ? Infinity : high * 2 ** 32 + low;
    headerBytes = 10;
  }
  if (control) {
    if (!fin) {
      throw new FrameError(
        "a fragmented control frame",
        CloseCode.protocolError,
      );
    }
    if (length > MAX_CONTROL_PAYLOAD_BYTES) {
      throw new FrameError(
        `a control frame of ${
          bytesOf(length)
        }, over the ${MAX_CONTROL_PAYLOAD_BYTES} allowed`,
        CloseCode.protocolError,
      );
    }
  } else if (length > maxLength) {
    throw new FrameError(
      `a frame of ${
        bytesOf(length)
      }, over the ${maxLength} left for its message`,
      CloseCode.tooBig,
    );
  }
  return { fin, opcode, length, headerBytes };
}

/** A length announced by a frame header, in words. */
function bytesOf(length: number): string {
  return Number.isFinite(length) ? `${length} bytes` : "over 2^53 bytes";
}

function isKnownOpcode(opcode: number): boolean {
  return opcode <= Opcode.binary ||
    (opcode >= Opcode.close && opcode <= Opcode.pong);
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! * 2 ** 24) +
    ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

/**
 * The code and reason of a close frame's payload (code 1005 when it has
 * none).
 *
 * @throws {FrameError} for a code §7.4 does not allow on the wire, or a
 *   reason that is not UTF-8
 */
export function readClosePayload(
  payload: Uint8Array,
): { code: number; reason: string } {
  if (payload.length === 0) {
    return { code: FrameCloseCode.noStatus, reason: "" };
  }
  if (payload.length === 1) {
    throw new FrameError(
      "a close frame with a 1-byte payload",
      CloseCode.protocolError,
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidCloseCode(code)) {
    throw new FrameError(
      `a close frame with the code ${code}`,
      CloseCode.protocolError,
    );
  }
  let reason: string;
  try {
    reason = strictUtf8.decode(payload.subarray(2));
  } catch {
    throw new FrameError(
      "a close reason that is not UTF-8",
      FrameCloseCode.invalidData,
    );
  }
  return { code, reason };
}

/** §7.4: the codes an endpoint may put in a close frame. */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 &&
    code !== 1006) || (code >= 3000 && code <= 4999);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * The text of a text message.
 *
 * @throws {FrameError} (1007) when it is not UTF-8
 */
export function readText(payload: Uint8Array): string {
  try {
    return strictUtf8.decode(payload);
  } catch {
    throw new FrameError(
      "a text message that is not UTF-8",
      FrameCloseCode.invalidData,
    );
  }
}

/**
 * A close frame's payload: `code` (none for 1005) and `reason`, left out
 * when it does not fit a control frame (a reason is for logs).
 */
export function closePayload(code: number, reason: string): Uint8Array {
  if (code === FrameCloseCode.noStatus) return new Uint8Array(0);
  const text = encoder.encode(reason);
  const kept = text.length <= MAX_CLOSE_REASON_BYTES
    ? text
    : text.subarray(0, 0);
  const payload = new Uint8Array(2 + kept.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(kept, 2);
  return payload;
}

/**
 * Mask keys (§5.3: a fresh one per frame, from a strong source of
 * randomness, so that a script in the path cannot choose the bytes on the
 * wire). They are drawn from the system's generator 4 KiB at a time: one
 * call into it for every 1024 frames instead of one per frame.
 */
export class MaskKeys {
  #pool = new Uint8Array(4096);
  #next = this.#pool.length;

  /** Writes the next key into `out` at `at`. */
  writeTo(out: Uint8Array, at: number): void {
    if (this.#next === this.#pool.length) {
      crypto.getRandomValues(this.#pool);
      this.#next = 0;
    }
    const pool = this.#pool;
    const from = this.#next;
    out[at] = pool[from]!;
    out[at + 1] = pool[from + 1]!;
    out[at + 2] = pool[from + 2]!;
    out[at + 3] = pool[from + 3]!;
    this.#next = from + 4;
  }
}

/** Bytes of a client frame carrying `length` payload bytes. */
export function clientFrameBytes(length: number): number {
  return (length < 126 ? 6 : length < 65536 ? 8 : 14) + length;
}

/**
 * Writes a whole (FIN) client frame of `opcode` carrying `payload` into
 * `out` from `at`, masked with the next of `keys`; returns where it ends.
 * `out` must have room for {@link clientFrameBytes}.
 */
export function writeClientFrame(
  out: Uint8Array,
  at: number,
  opcode: number,
  payload: Uint8Array,
  keys: MaskKeys,
): number {
  const length = payload.length;
  out[at] = 0x80 | opcode;
  let keyAt: number;
  if (length < 126) {
    out[at + 1] = 0x80 | length;
    keyAt = at + 2;
  } else if (length < 65536) {
    out[at + 1] = 0x80 | 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
    keyAt = at + 4;
  } else {
    out[at + 1] = 0x80 | 127;
    // Lengths stay far below 2^32: the high word is zero.
    out.fill(0, at + 2, at + 6);
    out[at + 6] = length >>> 24;
    out[at + 7] = (length >>> 16) & 0xff;
    out[at + 8] = (length >>> 8) & 0xff;
    out[at + 9] = length & 0xff;
    keyAt = at + 10;
  }
  keys.writeTo(out, keyAt);
  const start = keyAt + 4;
  const end = start + length;
  out.set(payload, start);
  // In place, a word at a time (websocket_mask.ts): no loop over bytes.
  unmask(out.subarray(start, end), out.subarray(keyAt, start));
  return end;
}
