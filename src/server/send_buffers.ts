// This module is browser compatible.

/**
 * Buffers for frames on their way to a socket, reused once written.
 *
 * The edge copies every frame it hands to the socket (the caller may free
 * or overwrite its own: a small frame is sealed into scratch space that the
 * next seal overwrites). A fresh copy each time was among the costliest
 * steps of delivery: every new ArrayBuffer is a backing store V8 must
 * allocate, zero, account and later collect, many times what copying into a
 * buffer already there costs (for a file chunk, a new memory mapping the
 * kernel must fault in page by page). A written buffer goes back here
 * instead, to carry the next frame of its size class; what is idle is
 * capped, so memory stays bounded by what is in flight.
 */

import { releaseBuffer } from "../crypto/bytes.ts";

/** The smallest size class: a chat frame of one short message fits. */
const MIN_CLASS_BYTES = 256;
/**
 * Size classes are powers of two below this (a frame wastes less than half
 * its buffer), and multiples of it from there (less than 64 KiB each).
 */
const CLASS_STEP = 64 * 1024;

/** The size class of a frame of `bytes` bytes: the buffer that carries it. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  if (bytes < CLASS_STEP) return 2 ** Math.ceil(Math.log2(bytes));
  return Math.ceil(bytes / CLASS_STEP) * CLASS_STEP;
}

function isClass(size: number): boolean {
  return size >= CLASS_STEP
    ? size % CLASS_STEP === 0
    : size >= MIN_CLASS_BYTES && (size & (size - 1)) === 0;
}

export class SendBuffers {
  readonly #idle = new Map<number, Uint8Array<ArrayBuffer>[]>();
  #idleBytes = 0;

  /** `maxIdleBytes`: written buffers kept for reuse at most, all sizes. */
  constructor(readonly maxIdleBytes = 8 * 1024 * 1024) {}

  /** Bytes held idle for reuse (for tests). */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /**
   * A copy of `data`, in a reused buffer when one of its class is idle;
   * with `headroom`, after that many bytes left for the caller to fill (a
   * WebSocket frame's header).
   */
  copy(data: Uint8Array, headroom = 0): Uint8Array<ArrayBuffer> {
    const view = this.take(headroom + data.byteLength);
    view.set(data, headroom);
    return view;
  }

  /**
   * `length` bytes for the caller to fill, in a reused buffer when one of
   * its class is idle (what is there is a former frame's, not zeros); given
   * back with {@link written} as a copy is.
   */
  take(length: number): Uint8Array<ArrayBuffer> {
    const size = sizeClass(length);
    const reused = this.#idle.get(size)?.pop();
    if (reused !== undefined) this.#idleBytes -= size;
    return (reused ?? new Uint8Array(size)).subarray(0, length);
  }

  /**
   * `copy` (a result of {@link copy} or {@link take}, or a view of its
   * buffer) is written and nobody reads it any more: its buffer carries a
   * later frame, or is freed (a large one at once, see `releaseBuffer`; a
   * small one by the collector).
   */
  written(copy: Uint8Array<ArrayBuffer>): void {
    const size = copy.buffer.byteLength;
    if (!isClass(size) || this.#idleBytes + size > this.maxIdleBytes) {
      releaseBuffer(copy.buffer);
      return;
    }
    const list = this.#idle.get(size);
    const whole = new Uint8Array(copy.buffer);
    if (list === undefined) this.#idle.set(size, [whole]);
    else list.push(whole);
    this.#idleBytes += size;
  }
}
