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

/**
 * A frame whose own class has no idle buffer takes one of up to this many
 * classes larger (at most 4 times its size, or 128 KiB more) before a new
 * one: frame sizes drift from one turn to the next with the traffic.
 */
const LARGER_CLASSES = 2;

export class SendBuffers {
  readonly #idle = new Map<number, Uint8Array<ArrayBuffer>[]>();
  #idleBytes = 0;
  /** When each class was last asked for or used, in takes. */
  readonly #used = new Map<number, number>();
  #takes = 0;

  /** `maxIdleBytes`: written buffers kept for reuse at most, all sizes. */
  constructor(readonly maxIdleBytes = 8 * 1024 * 1024) {}

  /** Bytes held idle for reuse (for tests). */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /**
   * A copy of `data`, in a reused buffer when one is idle (see
   * {@link take}); with `headroom`, after that many bytes left for the
   * caller to fill (a WebSocket frame's header).
   */
  copy(data: Uint8Array, headroom = 0): Uint8Array<ArrayBuffer> {
    const view = this.take(headroom + data.byteLength);
    view.set(data, headroom);
    return view;
  }

  /**
   * `length` bytes for the caller to fill, in a reused buffer when one of
   * its class or a little larger is idle (what is there is a former frame's,
   * not zeros); given back with {@link written} as a copy is.
   */
  take(length: number): Uint8Array<ArrayBuffer> {
    const wanted = sizeClass(length);
    const now = ++this.#takes;
    this.#used.set(wanted, now);
    let size = wanted;
    for (let larger = 0; larger <= LARGER_CLASSES; larger++) {
      const reused = this.#idle.get(size)?.pop();
      if (reused !== undefined) {
        this.#idleBytes -= size;
        this.#used.set(size, now);
        return reused.subarray(0, length);
      }
      size = sizeClass(size + 1);
    }
    return new Uint8Array(wanted).subarray(0, length);
  }

  /**
   * `copy` (a result of {@link copy} or {@link take}, or a view of its
   * buffer) is written and nobody reads it any more: its buffer carries a
   * later frame, or is freed (a large one at once, see `releaseBuffer`; a
   * small one by the collector).
   */
  written(copy: Uint8Array<ArrayBuffer>): void {
    const size = copy.buffer.byteLength;
    if (!isClass(size) || !this.#roomFor(size)) {
      releaseBuffer(copy.buffer);
      return;
    }
    const list = this.#idle.get(size);
    const whole = new Uint8Array(copy.buffer);
    if (list === undefined) this.#idle.set(size, [whole]);
    else list.push(whole);
    this.#idleBytes += size;
  }

  /**
   * Whether a buffer of `size` bytes fits under the idle cap, after freeing
   * idle buffers of classes used less recently than its own if that makes
   * room (then the oldest first). Without it the pool, once full, kept the
   * sizes of earlier turns and allocated every frame of today's anew: in the
   * 99 x 4 cell a fifth of the frames, 8 MiB a second of new 4-64 KiB
   * buffers, as many freed (issue 21).
   */
  #roomFor(size: number): boolean {
    let over = this.#idleBytes + size - this.maxIdleBytes;
    if (over <= 0) return true;
    const used = (other: number) => this.#used.get(other) ?? 0;
    const mine = used(size);
    const stale = [...this.#idle]
      .filter(([other, list]) => list.length > 0 && used(other) < mine)
      .sort(([a], [b]) => used(a) - used(b));
    let freeable = 0;
    for (const [other, list] of stale) freeable += other * list.length;
    if (freeable < over) return false;
    for (const [other, list] of stale) {
      while (over > 0 && list.length > 0) {
        releaseBuffer(list.pop()!.buffer);
        this.#idleBytes -= other;
        over -= other;
      }
      if (over <= 0) break;
    }
    return true;
  }
}
