// This module is browser compatible.

/**
 * The framing the cluster's log records and bus events share (docs/SCALING.md):
 * a 4-byte big-endian header length, the header as JSON, then the body,
 * opaque. One place for it, so that both kinds check a frame's bounds and
 * its header the same way before either looks at a field.
 */

/** `header` as JSON behind its length, then `body`. */
export function encodeHeaderFrame(
  header: Record<string, unknown>,
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(4 + json.byteLength + body.byteLength);
  new DataView(bytes.buffer).setUint32(0, json.byteLength);
  bytes.set(json, 4);
  bytes.set(body, 4 + json.byteLength);
  return bytes;
}

/** A frame's header (a JSON object) and a copy of its body. */
export interface HeaderFrame {
  header: Record<string, unknown>;
  body: Uint8Array;
}

/**
 * The header and body in `bytes`; throws a TypeError naming `what` ("Log
 * record", "Bus event") and what is wrong: too short, a length past the
 * end, a header that is not UTF-8 JSON or not an object.
 */
export function decodeHeaderFrame(
  bytes: Uint8Array,
  what: string,
): HeaderFrame {
  if (bytes.byteLength < 4) throw new TypeError(`${what} too short`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (4 + length > bytes.byteLength) {
    throw new TypeError(`${what} header runs past its end`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        bytes.subarray(4, 4 + length),
      ),
    );
  } catch {
    throw new TypeError(`${what} header is not JSON`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new TypeError(`${what} header is not an object`);
  }
  return {
    header: header as Record<string, unknown>,
    body: bytes.slice(4 + length),
  };
}
