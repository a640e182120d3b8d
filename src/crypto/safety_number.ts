// This module is browser compatible.

/**
 * Safety numbers (issue 17 item 5; docs/PROTOCOL.md 11.8): 60 digits that two
 * users compare, out loud or side by side, to know that the identity keys
 * their clients use for each other are the right ones. Computed as Signal
 * does (libsignal's `NumericFingerprintGenerator`, version 0, 5200
 * iterations), with our raw Ed25519 identity key as the public key and the
 * user's name key (lower case) as the stable identifier:
 *
 *     hash_0     = u16be 0 || key || UTF-8(name key)
 *     hash_i+1   = SHA-512(hash_i || key)                 (5200 times)
 *     half       = for each of the first six 5-byte chunks of the last hash:
 *                  u40be(chunk) mod 100000, as 5 digits    (30 digits)
 *     number     = the two halves, the smaller (as text) first
 *
 * Both sides get the same 60 digits; a different key on either side changes
 * its half.
 */

import { concatBytes, utf8Encode } from "./bytes.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** libsignal's fingerprint version and iteration count. */
export const SAFETY_NUMBER_VERSION = 0;
export const SAFETY_NUMBER_ITERATIONS = 5200;

// ---- End of protocol constants. ----

/** The 30 digits of one user: their identity key under their name key. */
export async function safetyNumberHalf(
  identityKey: Uint8Array,
  nameKey: string,
  iterations = SAFETY_NUMBER_ITERATIONS,
): Promise<string> {
  let hash: Uint8Array<ArrayBuffer> = concatBytes(
    Uint8Array.of(SAFETY_NUMBER_VERSION >> 8, SAFETY_NUMBER_VERSION & 0xff),
    identityKey,
    utf8Encode(nameKey),
  );
  for (let i = 0; i < iterations; i++) {
    hash = new Uint8Array(
      await crypto.subtle.digest("SHA-512", concatBytes(hash, identityKey)),
    );
  }
  let digits = "";
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    // 40 bits fit in a double exactly.
    for (let i = 0; i < 5; i++) value = value * 256 + hash[chunk * 5 + i]!;
    digits += String(value % 100000).padStart(5, "0");
  }
  return digits;
}

/**
 * The 60-digit safety number of two users, the same whichever side computes
 * it, in 12 groups of 5 separated by spaces.
 */
export async function safetyNumber(
  a: { identityKey: Uint8Array; nameKey: string },
  b: { identityKey: Uint8Array; nameKey: string },
): Promise<string> {
  const halves = [
    await safetyNumberHalf(a.identityKey, a.nameKey),
    await safetyNumberHalf(b.identityKey, b.nameKey),
  ].sort();
  return formatSafetyNumber(halves.join(""));
}

/** 60 digits in groups of 5. */
export function formatSafetyNumber(digits: string): string {
  return digits.match(/\d{1,5}/g)?.join(" ") ?? "";
}

/**
 * The 60 digits of a pasted safety number (spaces and other separators
 * ignored), or null if it does not hold exactly 60 digits.
 */
export function parseSafetyNumber(text: string): string | null {
  const digits = text.replace(/[\s\-.,:]/g, "");
  return /^\d{60}$/.test(digits) ? digits : null;
}
