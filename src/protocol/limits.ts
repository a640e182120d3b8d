// This module is browser compatible.

/** Protocol constants shared by both ends. Changing one is a protocol change. */

export const PROTOCOL_VERSION = 1;

/** Default TCP port, as in the seed. */
export const DEFAULT_PORT = 8767;

/** Largest sealed frame accepted on the wire, header and tag included. */
export const MAX_FRAME_BYTES = 1024 * 1024 + 64;

/** Largest plaintext a sealed frame may carry (a batch of messages). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** Largest JSON header of a single message. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Largest handshake message (text frame); the RSA-4096 public key dominates. */
export const MAX_HANDSHAKE_BYTES = 8 * 1024;

/** Message text length limit, in characters (UTF-16 code units after decoding). */
export const MAX_TEXT_CHARS = 4000;

/** Message text limit in bytes: 4 UTF-8 bytes per character at most. */
export const MAX_TEXT_BYTES = MAX_TEXT_CHARS * 4;

/** A handshake must finish within this many milliseconds. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** User and group names: 1 to 32 of ASCII letters, digits, `_`, `-`, `.`. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
export const NAME_RULE =
  "names are 1-32 characters of ASCII letters, digits, '_', '-' and '.'";

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** The key names are compared by: unique ignoring case. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}
