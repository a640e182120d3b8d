/**
 * One binary WebSocket message written in two parts, the second as it is:
 * how the relay passes a file chunk on to each recipient without copying it
 * (`Connection.sendParts`). `ws.send` takes one buffer, so the caller would
 * have to join head and body first, a copy of the whole chunk per recipient.
 *
 * This writes what `ws`'s own Sender writes for an unmasked, uncompressed
 * binary frame (RFC 6455 5.2), straight to `ws`'s socket, as its Sender does
 * (cork, header, payload, uncork). Safe to mix with `ws.send` because that
 * also writes synchronously when nothing is compressed (the edge turns
 * permessage-deflate off) and nothing is a Blob; `ws.bufferedAmount` counts
 * these writes as well (it reads the socket's queue).
 */

import type { Socket } from "node:net";
// @ts-types="@types/ws"
import type { WebSocket } from "ws";

/** FIN set, opcode 2 (binary). */
const FIN_BINARY = 0x82;

/** The bytes of an unmasked final binary frame's header for `length`. */
export function binaryFrameHeader(length: number): Uint8Array {
  if (length < 126) return Uint8Array.of(FIN_BINARY, length);
  if (length < 65536) {
    return Uint8Array.of(FIN_BINARY, 126, length >>> 8, length & 0xff);
  }
  const header = new Uint8Array(10);
  header[0] = FIN_BINARY;
  header[1] = 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header;
}

/** `ws`'s socket (a private field, checked: see wsSocket's caller). */
export function wsSocket(ws: WebSocket): Socket {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (socket === undefined || typeof socket.cork !== "function") {
    throw new Error(
      "This version of ws has no _socket: see wsSocket in src/server/ws_parts.ts",
    );
  }
  return socket;
}

/**
 * Writes `head` + `body` as one binary message on `socket` (an open `ws`'s);
 * `head` is copied, `body` is written as it is, and `written` is called once
 * the socket is done with it (or failed to write it).
 */
export function writeParts(
  socket: Socket,
  head: Uint8Array,
  body: Uint8Array,
  written: () => void,
): void {
  const frameHeader = binaryFrameHeader(head.byteLength + body.byteLength);
  const first = new Uint8Array(frameHeader.byteLength + head.byteLength);
  first.set(frameHeader);
  first.set(head, frameHeader.byteLength);
  socket.cork();
  socket.write(first);
  socket.write(body, () => written());
  socket.uncork();
}
