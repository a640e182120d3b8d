/**
 * The body of an HTTP answer that refused the WebSocket upgrade, as far as
 * the client quotes it (upgrade_refusal.ts): the bytes up to its
 * Content-Length, or, sent chunked (Transfer-Encoding: chunked, RFC 9112
 * 7.1: each chunk behind its size in hex on a line of its own), its first
 * chunk's, not the size line that a web framework's streamed error page
 * starts with. Pure: tcp_websocket.ts reads the bytes.
 *
 * @module
 */

/** The longest chunk-size line looked for (hex digits and extensions). */
const MAX_SIZE_LINE_BYTES = 64;

/** Whether the answer's body comes in chunks. */
function isChunked(fields: ReadonlyMap<string, string>): boolean {
  return /(?:^|,)\s*chunked\s*$/i.test(fields.get("transfer-encoding") ?? "");
}

/** The first chunk's size and where its data starts, or null (not all here). */
function firstChunk(
  bytes: Uint8Array,
): { start: number; size: number } | null {
  const end = Math.min(bytes.length, MAX_SIZE_LINE_BYTES);
  for (let i = 1; i < end; i++) {
    if (bytes[i - 1] !== 0x0d || bytes[i] !== 0x0a) continue;
    const line = new TextDecoder().decode(bytes.subarray(0, i - 1));
    const hex = /^([0-9a-fA-F]{1,8})(?:[ \t]*;.*)?$/.exec(line)?.[1];
    return hex === undefined
      ? { start: 0, size: 0 }
      : { start: i + 1, size: parseInt(hex, 16) };
  }
  return null;
}

/**
 * How many bytes after the header the client reads before it quotes the
 * body (`bytes`: those read so far): past them, more would not be quoted.
 * 0 when there is no body to wait for.
 */
export function refusalBytesWanted(
  fields: ReadonlyMap<string, string>,
  bytes: Uint8Array,
): number {
  if (isChunked(fields)) {
    const chunk = firstChunk(bytes);
    // The size line still coming: one byte more, up to its bound.
    if (chunk === null) {
      return bytes.length < MAX_SIZE_LINE_BYTES ? bytes.length + 1 : 0;
    }
    return chunk.start + chunk.size;
  }
  const length = Number(fields.get("content-length") ?? 0);
  return Number.isSafeInteger(length) && length > 0 ? length : 0;
}

/** What to quote of the body, from the bytes that followed the header. */
export function refusalBody(
  fields: ReadonlyMap<string, string>,
  bytes: Uint8Array,
): Uint8Array {
  if (isChunked(fields)) {
    const chunk = firstChunk(bytes);
    return chunk === null
      ? new Uint8Array(0)
      : bytes.subarray(chunk.start, chunk.start + chunk.size);
  }
  const length = Number(fields.get("content-length"));
  return Number.isSafeInteger(length) && length >= 0
    ? bytes.subarray(0, length)
    : bytes;
}
