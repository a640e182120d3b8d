// This module is browser compatible.

/**
 * A name's entry in the cluster's names bucket (`chat_names`, key `<hex
 * name key>`, names.ts): the identity key the name is bound to and, for a
 * name bound again after a release, where that key's hold on it begins
 * (docs/PROTOCOL.md 5.9, "A released name on several nodes"). Persisted in
 * a running cluster: a version never changes meaning.
 *
 * - Version 1, every binding of a name that was never released (and every
 *   binding made before version 2): the fingerprint as text.
 * - Version 2, a binding made where a release deleted the entry:
 *   `{"v":2,"fingerprint":"SHA256:...","after":N,"since":T}`.
 */

import { FINGERPRINT_PATTERN } from "../../crypto/keys.ts";
import type { KeyCut } from "../../store/store.ts";

/** What an entry says. */
export interface NameBinding {
  readonly fingerprint: string;
  /** Version 2: where this key's hold on the name begins. */
  readonly cut?: KeyCut;
}

/** The most characters an entry's fingerprint may have (SHA256: and 43). */
const MAX_FINGERPRINT_CHARS = 100;

/**
 * The most characters a version 2 entry may have: its longest is about 130
 * (two safe integers); nothing longer is parsed, each sign-in reads it.
 */
export const MAX_ENTRY_CHARS = 512;

/** The entry for `binding`: version 2 with a cut, else version 1. */
export function encodeNameBinding(binding: NameBinding): string {
  if (binding.cut === undefined) return binding.fingerprint;
  return JSON.stringify({
    v: 2,
    fingerprint: binding.fingerprint,
    after: binding.cut.after,
    since: binding.cut.since,
  });
}

/**
 * What the entry `text` says; throws a TypeError when it is neither
 * version (a newer one included: its cut cannot be read, so the name is
 * not handed out on it).
 */
export function parseNameBinding(text: string): NameBinding {
  if (!text.startsWith("{")) {
    // Version 1: a fingerprint never starts with "{".
    checkFingerprint(text);
    return { fingerprint: text };
  }
  if (text.length > MAX_ENTRY_CHARS) {
    throw new TypeError("Name binding is too long");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError("Name binding is not JSON");
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Name binding is not an object");
  }
  const { v, fingerprint, after, since } = value as Record<string, unknown>;
  if (v !== 2) {
    throw new TypeError(`Name binding of unknown version ${String(v)}`);
  }
  // Version 2 is written only by this version, from a proven key: its
  // fingerprint has the one form (version 1 keeps older ones as they are).
  if (
    typeof fingerprint !== "string" || !FINGERPRINT_PATTERN.test(fingerprint)
  ) {
    throw new TypeError("Name binding has a bad fingerprint");
  }
  if (!isCount(after) || !isCount(since)) {
    throw new TypeError("Name binding has a bad cut");
  }
  return { fingerprint, cut: { fingerprint, after, since } };
}

function checkFingerprint(fingerprint: string): void {
  if (
    fingerprint.length === 0 || fingerprint.length > MAX_FINGERPRINT_CHARS
  ) {
    throw new TypeError("Name binding has a bad fingerprint");
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0;
}
