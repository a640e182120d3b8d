// This module is browser compatible.

/**
 * Buffers for large frames on their way to a socket, reused once written.
 *
 * The edge copies every frame it hands to `ws` (the caller may free or
 * overwrite its own). For a file chunk (~256 KiB, once per recipient) a fresh
 * copy each time was the relay's costliest step: every allocation of that
 * size is a new memory mapping the kernel must fault in page by page, and
 * unmap when it is freed (in a group transfer, 14 % of the server's time in
 * the profile, against 20 % for the socket writes themselves). A written
 * buffer goes back here instead, to carry the next frame of its size class;
 * what is idle is capped, so memory stays bounded by what is in flight.
 */

import { releaseBuffer } from "../crypto/bytes.ts";

/** Frames below this are copied as before (small allocations are cheap). */
const MIN_POOLED_BYTES = 64 * 1024;
/** Size classes: multiples of this. */
const CLASS_STEP = 64 * 1024;

export class SendBuffers {
  readonly #idle = new Map<number, Uint8Array<ArrayBuffer>[]>();
  #idleBytes = 0;

  /** `maxIdleBytes`: written buffers kept for reuse at most, all sizes. */
  constructor(readonly maxIdleBytes = 8 * 1024 * 1024) {}

  /** Bytes held idle for reuse (for tests). */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** A copy of `data`, in a reused buffer when it is large. */
  copy(data: Uint8Array): Uint8Array<ArrayBuffer> {
    if (data.byteLength < MIN_POOLED_BYTES) return data.slice();
    const size = Math.ceil(data.byteLength / CLASS_STEP) * CLASS_STEP;
    const reused = this.#idle.get(size)?.pop();
    if (reused !== undefined) this.#idleBytes -= size;
    const view = (reused ?? new Uint8Array(size)).subarray(0, data.byteLength);
    view.set(data);
    return view;
  }

  /**
   * `copy` (a result of {@link copy}) is written and nobody reads it any
   * more: its buffer carries a later frame, or is freed.
   */
  written(copy: Uint8Array<ArrayBuffer>): void {
    const size = copy.buffer.byteLength;
    if (
      size < MIN_POOLED_BYTES || size % CLASS_STEP !== 0 ||
      this.#idleBytes + size > this.maxIdleBytes
    ) {
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
