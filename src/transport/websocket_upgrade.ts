// This module is browser compatible.

/**
 * The client's half of the WebSocket opening handshake (RFC 6455 §4.1): the
 * upgrade request, and the checks on the server's answer before any frame
 * of it is read. The socket's side is tcp_websocket.ts.
 */

import { randomBytes, toBase64 } from "../crypto/bytes.ts";

/** §1.3: what the server appends to our key before hashing it. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** How much of what the server said an error quotes at most. */
const QUOTED_CHARS = 200;

/** The server did not accept the WebSocket. */
export class WebSocketUpgradeError extends Error {
  /** The HTTP status the server answered with; null if it did not answer with one. */
  readonly status: number | null;
  /**
   * Why the server refused, as it said it (`Refused: <reason>`, docs/
   * PROTOCOL.md 1.1): printable ASCII only, or null.
   */
  readonly reason: string | null;
  /** The seconds its `Retry-After` asked to wait (0-3600), or null. */
  readonly retryAfter: number | null;
  /**
   * The first line of what followed a refusal's header, at most
   * QUOTED_CHARS, as the server sent it (not sanitised: the caller does,
   * for a terminal), or "" when it sent none.
   */
  readonly said: string;

  constructor(
    message: string,
    status: number | null = null,
    reason: string | null = null,
    retryAfter: number | null = null,
    said = "",
  ) {
    super(message);
    this.name = "WebSocketUpgradeError";
    this.status = status;
    this.reason = reason;
    this.retryAfter = retryAfter;
    this.said = said;
  }
}

/** A reason the reference server gives: `Refused: ` and plain words. */
const REFUSED = /^Refused: ([\x20-\x7e]{1,200})$/;

/** `Retry-After` in seconds (RFC 9110 10.2.3; a date is not used here). */
function retryAfterOf(field: string | undefined): number | null {
  if (field === undefined || !/^\d{1,4}$/.test(field.trim())) return null;
  return Math.min(Number(field.trim()), 3600);
}

/** A new Sec-WebSocket-Key: 16 random bytes, base64 (§4.1). */
export function newWebSocketKey(): string {
  return toBase64(randomBytes(16));
}

/** The GET that asks for the upgrade of `url` (a ws:// URL). */
export function upgradeRequest(url: URL, key: string): string {
  return `GET ${url.pathname || "/"}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n\r\n";
}

/** Where the response's header ends ("\r\n\r\n" starts), or -1. */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a &&
      bytes[i - 3] === 0x0d
    ) return i - 3;
  }
  return -1;
}

/** The status and the header fields (names in lower case) of a response. */
export interface ResponseHead {
  status: number;
  statusLine: string;
  fields: Map<string, string>;
}

/**
 * Parses the response's header (without the blank line that ends it).
 *
 * @throws {WebSocketUpgradeError} when it is not an HTTP/1.1 response
 */
export function parseResponseHead(head: string): ResponseHead {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const status = /^HTTP\/1\.1 (\d{3})(?: |$)/.exec(statusLine)?.[1];
  if (status === undefined) {
    throw new WebSocketUpgradeError(
      `The server did not answer with HTTP/1.1 (it said '${
        quote(statusLine)
      }'): is this a chat server?`,
    );
  }
  const fields = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new WebSocketUpgradeError(
        `The server's answer has a broken header line: '${quote(line)}'`,
      );
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = fields.get(name);
    fields.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { status: Number(status), statusLine, fields };
}

/**
 * Checks that the server accepted the upgrade with `key` (§4.1, the
 * client's checks of the server's handshake). `body`: what followed the
 * header, quoted when the server refused (the reference server says why
 * there).
 *
 * @throws {WebSocketUpgradeError} when it did not
 */
export async function checkUpgradeResponse(
  head: ResponseHead,
  key: string,
  body = "",
): Promise<void> {
  if (head.status !== 101) {
    const line = body.split(/\r?\n/, 1)[0]!.trim();
    const said = quote(line);
    throw new WebSocketUpgradeError(
      `The server refused the WebSocket: '${quote(head.statusLine)}'${
        said === "" ? "" : ` (${said})`
      }`,
      head.status,
      REFUSED.exec(line)?.[1] ?? null,
      retryAfterOf(head.fields.get("retry-after")),
      said,
    );
  }
  const upgrade = head.fields.get("upgrade")?.toLowerCase();
  const connection = (head.fields.get("connection") ?? "").toLowerCase()
    .split(",").map((token) => token.trim());
  if (upgrade !== "websocket" || !connection.includes("upgrade")) {
    throw new WebSocketUpgradeError(
      "The server answered 101 without 'Upgrade: websocket' and 'Connection: Upgrade'",
      head.status,
    );
  }
  if (head.fields.get("sec-websocket-accept") !== await acceptFor(key)) {
    throw new WebSocketUpgradeError(
      "The server's Sec-WebSocket-Accept does not match the key sent: not a WebSocket server, or something in the way answered for it",
      head.status,
    );
  }
  // We ask for neither: a server that chooses one speaks something else.
  for (const asked of ["sec-websocket-extensions", "sec-websocket-protocol"]) {
    if (head.fields.has(asked)) {
      throw new WebSocketUpgradeError(
        `The server chose a ${asked} that was not asked for`,
        head.status,
      );
    }
  }
}

/** The Sec-WebSocket-Accept a server must answer `key` with (§4.2.2). */
export async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + ACCEPT_GUID),
  );
  return toBase64(new Uint8Array(digest));
}

/** At most QUOTED_CHARS of `text` (the caller sanitises it for a terminal). */
function quote(text: string): string {
  return text.length <= QUOTED_CHARS
    ? text
    : `${text.slice(0, QUOTED_CHARS)}...`;
}
