// This module is browser compatible.

/**
 * Received files the page keeps for its user to save: each behind an object
 * URL (the log's "Save" link), which holds the file's bytes for as long as
 * it is not revoked, however long the page stays open. So each is let go
 * when its row leaves the log (log_view.ts keeps its last rows only), when
 * the page goes, and, oldest first, when those kept add up to more than
 * {@link SAVABLE_FILES_BYTES}. No DOM: files_view.ts ties them to rows.
 *
 * @module
 */

import { WEB_MAX_RECEIVING_BYTES } from "./web_files.ts";

/**
 * Bytes of received files kept to save, at most. As much as the page may
 * have coming in at once (WEB_MAX_RECEIVING_BYTES, 512 MiB, web_files.ts):
 * together the page then holds at most twice that in files, and the newest
 * file, even one of the largest a page takes (256 MiB), is always there to
 * save with at least one more before it.
 */
export const SAVABLE_FILES_BYTES = WEB_MAX_RECEIVING_BYTES;

/** What makes and lets go of object URLs: the page's URL, or a test's. */
export interface ObjectUrls {
  createObjectURL(blob: Blob): string;
  revokeObjectURL(url: string): void;
}

interface Kept {
  size: number;
  /** Tells the file's row that it can no longer be saved. */
  dropped: () => void;
}

export class SavableFiles {
  /** By URL, oldest first (a Map keeps the order of insertion). */
  #kept = new Map<string, Kept>();
  #bytes = 0;

  constructor(
    readonly maxBytes = SAVABLE_FILES_BYTES,
    private readonly urls: ObjectUrls = URL,
  ) {}

  /** Bytes of the files kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** How many files are kept now. */
  get count(): number {
    return this.#kept.size;
  }

  /**
   * An object URL for `file`, kept until released. Files kept before it are
   * let go, oldest first, until all fit within `maxBytes` (the newest is
   * kept whatever its size); `dropped` is called when this one is let go so.
   */
  keep(file: Blob, dropped: () => void): string {
    const url = this.urls.createObjectURL(file);
    this.#kept.set(url, { size: file.size, dropped });
    this.#bytes += file.size;
    for (const [oldest, kept] of this.#kept) {
      if (this.#bytes <= this.maxBytes || oldest === url) break;
      this.#forget(oldest);
      kept.dropped();
    }
    return url;
  }

  /** Whether the file at `url` is still kept (not let go). */
  has(url: string): boolean {
    return this.#kept.has(url);
  }

  /** Lets the file at `url` go (its row left the log); unknown URLs are ignored. */
  release(url: string): void {
    this.#forget(url);
  }

  /** Lets every file go (the page is going). */
  releaseAll(): void {
    for (const url of [...this.#kept.keys()]) this.#forget(url);
  }

  #forget(url: string): void {
    const kept = this.#kept.get(url);
    if (kept === undefined) return;
    this.#kept.delete(url);
    this.#bytes -= kept.size;
    this.urls.revokeObjectURL(url);
  }
}
