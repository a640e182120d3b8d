// This module is browser compatible.

/**
 * Buffers for a sender's sealed file chunks, reused once the channel is done
 * with them. A fresh buffer per chunk is allocated, zeroed and freed: 8,192
 * times a GiB, all for bytes the channel copies out (or the socket writes)
 * within a flush or two. A few spares serve the whole transfer instead.
 *
 * A buffer goes back to the pool only through the hand-back it was lent
 * with, which works once: a second call (a caller's mistake) can never put
 * back a buffer lent out again meanwhile, still being written. One handed
 * back to a full pool is freed at once, as the channel would have freed it
 * (see `releaseBuffer`), not left to the garbage collector.
 */

import { releaseBuffer } from "../crypto/bytes.ts";

/** A buffer lent by {@link ChunkBuffers}, and how to give it back. */
export interface LentBuffer {
  readonly bytes: Uint8Array<ArrayBuffer>;
  /**
   * Gives `bytes` back for another chunk: call it only once nothing reads
   * or writes them any more. Later calls do nothing.
   */
  readonly handBack: () => void;
}

export class ChunkBuffers {
  readonly #bytes: number;
  #most: number;
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];

  /** Buffers of `bytes` each; at most `most` spares kept. */
  constructor(bytes: number, most: number) {
    this.#bytes = bytes;
    this.#most = most;
  }

  /** How many buffers wait to be lent again. */
  get spares(): number {
    return this.#spares.length;
  }

  /**
   * Frees the spares now (the transfer is over), and from here on each
   * buffer as it is handed back.
   */
  free(): void {
    this.#most = 0;
    for (const bytes of this.#spares) releaseBuffer(bytes.buffer);
    this.#spares.length = 0;
  }

  /** A spare buffer if one was handed back, else a fresh one. */
  lend(): LentBuffer {
    const bytes = this.#spares.pop() ?? new Uint8Array(this.#bytes);
    let lent = true;
    const handBack = () => {
      if (!lent) return;
      lent = false;
      // Freed (detached) by someone else: nothing left to reuse.
      if (bytes.length !== this.#bytes) return;
      if (this.#spares.length < this.#most) this.#spares.push(bytes);
      else releaseBuffer(bytes.buffer);
    };
    return { bytes, handBack };
  }
}
