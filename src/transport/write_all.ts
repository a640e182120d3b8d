// This module is browser compatible.

/**
 * Writing all of a buffer to a Deno writer (a connection, a file), whose
 * `write` may take only part of it.
 *
 * @module
 */

/** What writeAll writes to: `Deno.Conn`, `Deno.FsFile` and the like. */
export interface PartWriter {
  /** Writes some of `bytes` (at least one byte), and says how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Writes every byte of `bytes` to `to`, a part at a time as it takes them. */
export async function writeAll(
  to: PartWriter,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await to.write(bytes.subarray(written));
  }
}
