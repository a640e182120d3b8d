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
 * `destroy()`).
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
  /** The kernel took it all: the buffer is free now. */
  | "done"
  /** The handle holds it: `onDone` is called when it is written or failed. */
  | "pending"
  /** Not written: write it through the stream (`socket.write`). */
  | "declined";

/**
 * The request a write hands the handle: its `oncomplete` is called only for
 * a write that did not complete at once, so one request serves every write
 * that does, and a new one is made only after a write the handle kept.
 */
class Request<T extends Uint8Array> implements WriteRequest {
  data: T | null = null;
  constructor(readonly completed: (data: T, status: number) => void) {}
  oncomplete(status: number): void {
    const data = this.data;
    if (data === null) return;
    this.data = null;
    this.completed(data, status);
  }
}

/** Direct writes to one socket, and those still pending with its handle. */
export class DirectWrites<T extends Uint8Array> {
  /** Whether this runtime has the internal APIs these writes need. */
  static readonly available: boolean = state !== null;

  readonly #socket: Socket;
  readonly #onDone: (data: T, failed: boolean) => void;
  /** Bytes handed to the handle and not yet written. */
  #pendingBytes = 0;
  /** A pending write finished with `status` (negative: failed). */
  readonly #completed = (data: T, status: number): void => {
    this.#pendingBytes -= data.byteLength;
    // The stream destroys the socket when a write fails: so does this.
    if (status < 0) this.#socket.destroy();
    this.#onDone(data, status < 0);
  };
  #request: Request<T> = new Request(this.#completed);

  /**
   * `onDone`: a pending write finished (`failed`: it was not written, the
   * socket being destroyed or broken; it is then destroyed).
   */
  constructor(socket: Socket, onDone: (data: T, failed: boolean) => void) {
    this.#socket = socket;
    this.#onDone = onDone;
  }

  /** Bytes written directly and still with the handle (not in the stream's count). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Writes `data` to the handle if nothing is queued in the stream before
   * it (else, or if the handle refuses it, Declined: nothing was written).
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
    const request = this.#request;
    if (handle.writeBuffer(request, data) !== 0) return "declined";
    if (state.fields[state.lastWriteWasAsync] === 0) return "done";
    request.data = data;
    this.#request = new Request(this.#completed);
    this.#pendingBytes += data.byteLength;
    return "pending";
  }
}
