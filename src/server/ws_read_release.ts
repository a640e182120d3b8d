/**
 * Frees what the server reads from a socket as soon as `ws` is done with it.
 *
 * Each read from a socket is a new buffer of what that read took (up to 64
 * KiB; a read of one byte is a one-byte buffer); `ws` parses frames out of
 * them and copies each message out (or hands over a whole one), after which
 * they are garbage. V8 collects dead ArrayBuffers only once about 64 MiB of
 * them have piled up (see `releaseBuffer`), so a client sending a file made
 * the server's memory grow by 35-50 MiB, most of it these buffers. This
 * detaches each read buffer once nothing in `ws`'s receiver points into it
 * and it was not handed over as a message.
 *
 * `ws`'s receiver keeps what it has not parsed in `_buffers`, the mask of the
 * frame it is reading in `_mask` and a message's earlier frames in
 * `_fragments` (private fields, checked: a `ws` without them gets no
 * release, as before, rather than freed bytes it still reads). It parses
 * synchronously in the socket's "data" event, before our listener (added
 * after `ws`'s) runs.
 */

import type { Socket } from "node:net";
import { releaseBuffer } from "../crypto/bytes.ts";

interface ReceiverFields {
  _buffers?: unknown;
  _fragments?: unknown;
  _mask?: unknown;
  writableLength?: unknown;
}

/** Read buffers released, all connections (tests check it moves). */
export const readReleaseStats = { released: 0 };

/** Read buffers kept waiting for release at most (a paused receiver's). */
const MAX_PENDING = 256;

export class ReadRelease {
  readonly #receiver: ReceiverFields;
  /** Read buffers given to `ws` and maybe still in use. */
  #pending: ArrayBuffer[] = [];
  /** Messages `ws` handed over: ours, not to be freed here. */
  readonly #delivered = new WeakSet<ArrayBufferLike>();

  private constructor(receiver: ReceiverFields) {
    this.#receiver = receiver;
  }

  /**
   * Starts releasing `socket`'s read buffers, which `ws` (whose receiver is
   * `receiver`) already reads; null if the receiver lacks the fields.
   */
  static attach(socket: Socket, receiver: unknown): ReadRelease | null {
    const fields = receiver as ReceiverFields | null;
    if (
      fields === null || typeof fields !== "object" ||
      !Array.isArray(fields._buffers) || !Array.isArray(fields._fragments) ||
      !("_mask" in fields) || typeof fields.writableLength !== "number"
    ) return null;
    const release = new ReadRelease(fields);
    socket.on("data", (chunk: Uint8Array) => release.#afterRead(chunk));
    return release;
  }

  /** `message` was handed over by `ws`: whoever took it owns it. */
  delivered(message: ArrayBufferLike): void {
    this.#delivered.add(message);
  }

  #afterRead(chunk: Uint8Array): void {
    const buffer = chunk.buffer;
    // Only a buffer the read filled alone: a slice of a shared pool (a TLS
    // socket's, say) has neighbours still in use.
    if (
      buffer instanceof ArrayBuffer && chunk.byteOffset === 0 &&
      chunk.byteLength === buffer.byteLength
    ) {
      if (this.#pending.length >= MAX_PENDING) this.#pending.shift();
      this.#pending.push(buffer);
    }
    const receiver = this.#receiver;
    // Still queued in the stream, unparsed: look again at the next read.
    if (receiver.writableLength !== 0) return;
    const live = new Set<ArrayBufferLike>();
    for (const view of receiver._buffers as Uint8Array[]) live.add(view.buffer);
    for (const view of receiver._fragments as Uint8Array[]) {
      live.add(view.buffer);
    }
    const mask = receiver._mask as Uint8Array | undefined;
    if (mask !== undefined) live.add(mask.buffer);
    const kept: ArrayBuffer[] = [];
    for (const pending of this.#pending) {
      if (live.has(pending)) kept.push(pending);
      else if (!this.#delivered.has(pending)) {
        releaseBuffer(pending);
        readReleaseStats.released++;
      }
    }
    this.#pending = kept;
  }
}
