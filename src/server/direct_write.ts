/**
 * A buffer written straight to a `node:net` socket's handle, past the
 * socket's Writable stream, when the stream has nothing queued before it.
 *
 * Why: where each delivery is one socket write (a hundred recipients of a
 * turn, each its own write), `socket.write` costs about as much again as
 * the system call beneath it. The Writable machinery (writeOrBuffer, a
 * WriteWrap and an async id per write, onwrite, a nextTick to afterWrite,
 * then our callback) ran for every write, and almost every write completes
 * at once: the kernel takes the bytes in the call. Here such a write is one
 * call to the handle's `writeBuffer` and a check of the flag the handle sets
 * (`streamBaseState[kLastWriteWasAsync]`), as node's own `writeGeneric`
 * does; the caller reuses its buffer at once. A write the kernel could not
 * take whole stays with the handle, which finishes it in order before any
 * later write or the shutdown of `end()`, and calls `oncomplete` (with an
 * error status if the socket is destroyed first: at once, within
 * `destroy()`). A large buffer goes in pieces (PIECE_BYTES), so that what
 * the handle holds falls as a slow reader reads, not only once the whole
 * buffer is written.
 *
 * These are node's internal APIs (Deno implements them natively in 2.9.6).
 * `DirectWrites.available` checks them once; without them, or for a socket
 * whose handle is not a TCP one (a TLS socket's, say, which need not set
 * the flag), every write goes through the stream as before
 * (tests/server/direct_write_test.ts fails if they change).
 */

import type { Socket } from "node:net";
import process from "node:process";

/** The handle methods used here, as node's `LibuvStreamWrap` has them. */
interface StreamHandle {
  writeBuffer(request: WriteRequest, data: Uint8Array): number;
}

/** The class of a plain TCP socket's handle, in node and in Deno. */
const TCP_HANDLE = "TCPWrap";

interface WriteRequest {
  oncomplete(status: number): void;
}

/** `process.binding("stream_wrap")`'s shared write state, checked. */
const state = (() => {
  try {
    // deno-lint-ignore no-explicit-any
    const binding = (process as any).binding("stream_wrap");
    const fields = binding?.streamBaseState;
    const lastWriteWasAsync = binding?.kLastWriteWasAsync;
    if (
      !(fields instanceof Int32Array) || typeof lastWriteWasAsync !== "number"
    ) return null;
    return { fields, lastWriteWasAsync };
  } catch {
    return null;
  }
})();

/** How a {@link DirectWrites.write} went. */
export type Direct =
  /**
   * Nothing of it stays with the handle: the buffer is free now (the kernel
   * took it all, or the socket broke part way and is destroyed).
   */
  | "done"
  /**
   * Some of it stays with the handle: `held` was told how many bytes, each
   * `written` as it goes, and `done` once all of it has.
   */
  | "pending"
  /** Not written: write it through the stream (`socket.write`). */
  | "declined";

/**
 * A write larger than this goes to the handle in pieces of this size, each
 * its own `writeBuffer` with its own completion (the handle writes them in
 * order, so the bytes on the wire are the same). Why: the handle tells a
 * write's end, never its progress, and what is queued for a recipient falls
 * only as writes end; a 1 MiB frame to a reader on a 1 Mbit/s link (128
 * KB/s) takes 8 s, longer than a stall period (5 s), so an honest reader in
 * the middle of one looked as if it took nothing (queue_stall.ts). A piece
 * takes half a second at that speed. Smaller writes, the usual ones, stay
 * one call each.
 */
export const PIECE_BYTES = 64 * 1024;

/** What a {@link DirectWrites} tells its owner about writes the handle holds. */
export interface DirectWriteEvents<T> {
  /** `bytes` of a write stay with the handle (before any of them is `written`). */
  held(bytes: number): void;
  /** `bytes` held were written, or failed (the socket is then destroyed). */
  written(bytes: number): void;
  /**
   * All of `data` that was held is written or failed (`failed`: some of it
   * was not written, the socket being destroyed or broken): its buffer is
   * the caller's again, unless failed (whether the handle still reads it is
   * not said).
   */
  done(data: T, failed: boolean): void;
}

/** A buffer some of whose pieces the handle holds. */
class Held<T> {
  /** Pieces not yet completed, plus one while they are still being handed. */
  pieces = 1;
  failed = false;
  constructor(readonly data: T) {}
}

/**
 * The request a write hands the handle: its `oncomplete` is called only for
 * a write that did not complete at once, so one request serves every write
 * that does, and a new one is made only after a write the handle kept.
 */
class Request<T> implements WriteRequest {
  held: Held<T> | null = null;
  /** The bytes of the write (a number: a freed buffer's length is 0). */
  bytes = 0;
  constructor(
    readonly completed: (held: Held<T>, bytes: number, status: number) => void,
  ) {}
  oncomplete(status: number): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    this.completed(held, this.bytes, status);
  }
}

/** Direct writes to one socket, and those still pending with its handle. */
export class DirectWrites<T extends Uint8Array> {
  /** Whether this runtime has the internal APIs these writes need. */
  static readonly available: boolean = state !== null;

  readonly #socket: Socket;
  readonly #events: DirectWriteEvents<T>;
  /** Bytes handed to the handle and not yet written. */
  #pendingBytes = 0;
  /** A pending write finished with `status` (negative: failed). */
  readonly #completed = (held: Held<T>, bytes: number, status: number) => {
    this.#pendingBytes -= bytes;
    if (status < 0) {
      held.failed = true;
      // The stream destroys the socket when a write fails: so does this
      // (which fails the other writes still held, at once).
      this.#socket.destroy();
    }
    this.#events.written(bytes);
    this.#release(held);
  };
  #request: Request<T> = new Request(this.#completed);

  constructor(socket: Socket, events: DirectWriteEvents<T>) {
    this.#socket = socket;
    this.#events = events;
  }

  /** Bytes written directly and still with the handle (not in the stream's count). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Writes `data` to the handle if nothing is queued in the stream before
   * it (else, or if the handle refuses it, Declined: nothing was written);
   * in pieces if it is larger than {@link PIECE_BYTES}.
   */
  write(data: T): Direct {
    const socket = this.#socket;
    const handle = (socket as unknown as { _handle?: StreamHandle | null })
      ._handle;
    if (
      state === null || handle == null ||
      handle.constructor.name !== TCP_HANDLE || socket.connecting ||
      socket.destroyed || !socket.writable || socket.writableLength !== 0 ||
      socket.writableCorked !== 0
    ) return "declined";
    if (data.byteLength > PIECE_BYTES) return this.#writePieces(handle, data);
    const request = this.#request;
    if (handle.writeBuffer(request, data) !== 0) return "declined";
    if (state.fields[state.lastWriteWasAsync] === 0) return "done";
    const held = new Held(data);
    this.#hold(request, held, data.byteLength);
    this.#release(held);
    return "pending";
  }

  /** `data` in pieces of PIECE_BYTES, each a write of its own. */
  #writePieces(handle: StreamHandle, data: T): Direct {
    const length = data.byteLength;
    let held: Held<T> | null = null;
    for (let at = 0; at < length; at += PIECE_BYTES) {
      const request = this.#request;
      const piece = data.subarray(at, Math.min(at + PIECE_BYTES, length));
      if (handle.writeBuffer(request, piece) !== 0) {
        if (at === 0) return "declined";
        // Part of the frame is on its way and the rest cannot follow: the
        // connection is broken mid-frame. Destroyed, as the stream does
        // when a write fails (which fails the pieces held, at once).
        if (held !== null) held.failed = true;
        this.#socket.destroy();
        break;
      }
      if (state!.fields[state!.lastWriteWasAsync] === 0) continue;
      held ??= new Held(data);
      this.#hold(request, held, piece.byteLength);
    }
    if (held === null) return "done";
    this.#release(held);
    return "pending";
  }

  /** The handle kept `request`'s write of `bytes` of `held`. */
  #hold(request: Request<T>, held: Held<T>, bytes: number): void {
    request.held = held;
    request.bytes = bytes;
    held.pieces++;
    this.#request = new Request(this.#completed);
    this.#pendingBytes += bytes;
    this.#events.held(bytes);
  }

  /** One of `held`'s pieces (or its writer) is done with it. */
  #release(held: Held<T>): void {
    if (--held.pieces === 0) this.#events.done(held.data, held.failed);
  }
}
