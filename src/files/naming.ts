// This module is browser compatible.

/**
 * File names from other people, made safe to create on any desktop system.
 *
 * A received name is untrusted: it may try to climb out of the downloads
 * folder (`../../.bashrc`, croc's CVE-2023-43616), hide what it is with bidi
 * overrides or invisible characters, carry escape sequences to the terminal
 * that shows it (CVE-2023-43619), or name a Windows device. What comes out of
 * {@linkcode safeFileName} is a single plain name that is none of those.
 *
 * @module
 */

import { stripControls } from "../text/sanitize.ts";

/** What a name that sanitises to nothing is saved as. */
export const DEFAULT_FILE_NAME = "received-file";

/**
 * Longest name in UTF-8 bytes. Common filesystems allow 255; the margin leaves
 * room for ` (1000)` and `.part` without ever crossing that limit.
 */
export const MAX_NAME_BYTES = 200;

/** An extension longer than this is not kept whole when a name is shortened. */
const MAX_KEPT_EXTENSION_BYTES = 32;

/** Characters Windows refuses in names; `/` and `\` are split on before. */
const WINDOWS_INVALID = /[<>:"|?*]/g;

/**
 * Names Windows maps to devices, with any extension (`NUL.txt` is the null
 * device too) and regardless of case; superscript digits count as digits.
 */
const WINDOWS_RESERVED =
  /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

/** Compression suffixes kept together with `.tar` by {@linkcode numberedName}. */
const TAR_COMPOUND = /\.tar\.(?:gz|bz2|xz|zst|lz|lzma|lz4|br|z)$/i;

/**
 * Return a bare file name that is safe to create in the downloads folder.
 *
 * Keeps only the last component of any path (`/` and `\` both separate,
 * a drive prefix such as `C:` is dropped); removes control characters, bidi
 * controls and invisible characters; replaces characters Windows forbids with
 * `_`; strips leading dots and dashes (no hidden files, nothing that looks
 * like an option) and trailing dots and spaces (which Windows drops);
 * prefixes Windows device names with `_`; and shortens the name to
 * {@linkcode MAX_NAME_BYTES} UTF-8 bytes, keeping its extension. A name left
 * empty gets `fallback()`, by default {@linkcode DEFAULT_FILE_NAME}.
 *
 * @example
 * ```ts
 * safeFileName("../../.bashrc"); // "bashrc"
 * safeFileName("C:\\Windows\\NUL.txt"); // "_NUL.txt"
 * safeFileName("\x1b[31mred.txt"); // "[31mred.txt"
 * ```
 */
export function safeFileName(
  untrusted: string,
  fallback: () => string = () => DEFAULT_FILE_NAME,
): string {
  const name = clean(untrusted);
  if (name !== "") return name;
  // The fallback is cleaned too, so a careless one cannot reopen the hole.
  return clean(fallback()) || DEFAULT_FILE_NAME;
}

/**
 * Return `name` with ` (n)` before its extension, for picking a name that is
 * not taken yet; `n` = 0 returns `name` unchanged. `.tar.gz` and similar stay
 * together.
 *
 * @example
 * ```ts
 * numberedName("example.txt", 1); // "example (1).txt"
 * numberedName("archive.tar.gz", 2); // "archive (2).tar.gz"
 * numberedName("noext", 1); // "noext (1)"
 * ```
 */
export function numberedName(name: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`Cannot number a file name with ${n}`);
  }
  if (n === 0) return name;
  const [stem, extension] = splitExtension(name);
  return `${stem} (${n})${extension}`;
}

/**
 * Return the lower-case final extension of `name` without the dot, or `''`,
 * the way a desktop decides how to open the file: only the last one counts
 * (`photo.jpg.exe` is `exe`), trailing dots and spaces are ignored as Windows
 * ignores them, and a leading dot counts (`.desktop` matches `*.desktop`).
 */
export function finalExtension(name: string): string {
  const base = name.replace(/[\s.]+$/, "");
  const component = base.slice(
    Math.max(base.lastIndexOf("/"), base.lastIndexOf("\\")) + 1,
  );
  const dot = component.lastIndexOf(".");
  return dot === -1 ? "" : component.slice(dot + 1).toLowerCase();
}

/** The safe name, or `''` when nothing usable is left. */
function clean(untrusted: string): string {
  // Strip first: an invisible character must not keep a component alive or
  // split one, and NFC after stripping sees the characters that remain.
  const text = stripControls(untrusted).replaceAll("\u200d", "").normalize(
    "NFC",
  );
  const components = text.split(/[/\\]/).filter((part) => part.trim() !== "");
  let name = components.at(-1) ?? "";
  name = name.replace(/^[a-z]:/i, "");
  name = name.replace(WINDOWS_INVALID, "_");
  name = trimEnds(name);
  name = limitBytes(name, MAX_NAME_BYTES);
  // After shortening, which drops the spaces a cut leaves at the end of the
  // stem: `CON   …x.txt` is no device name as sent, but `CON.txt` once cut.
  // Shortened again: the `_` may take the last byte.
  if (isWindowsReserved(name)) name = limitBytes("_" + name, MAX_NAME_BYTES);
  return name === "." || name === ".." ? "" : name;
}

/**
 * Drop leading whitespace, dots and dashes and trailing whitespace and dots.
 * Leading dots would hide the file, a leading dash makes it look like an
 * option to any tool it is passed to, and Windows silently drops trailing
 * dots and spaces, so `evil.exe.` would become `evil.exe` there.
 */
function trimEnds(name: string): string {
  return name.replace(/^[\s.-]+/, "").replace(/[\s.]+$/, "");
}

function isWindowsReserved(name: string): boolean {
  // Windows ignores everything from the first dot, and spaces before it.
  const stem = name.split(".", 1)[0]?.replace(/ +$/, "") ?? "";
  return WINDOWS_RESERVED.test(stem);
}

/** Split into stem and extension (with its dot); the extension may be `''`. */
function splitExtension(name: string): [string, string] {
  const tar = TAR_COMPOUND.exec(name);
  if (tar !== null && tar.index > 0) {
    return [name.slice(0, tar.index), name.slice(tar.index)];
  }
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return [name, ""];
  const extension = name.slice(dot);
  // `Mr. Smith` has no extension; real ones are short and have no spaces.
  if (/\s/.test(extension) || extension.length > 17) return [name, ""];
  return [name.slice(0, dot), extension];
}

/** Shorten `name` to `maxBytes` of UTF-8, keeping a reasonable extension. */
function limitBytes(name: string, maxBytes: number): string {
  if (utf8Length(name) <= maxBytes) return name;
  let [stem, extension] = splitExtension(name);
  if (utf8Length(extension) > MAX_KEPT_EXTENSION_BYTES) {
    [stem, extension] = [name, ""];
  }
  const short = cutToBytes(stem, maxBytes - utf8Length(extension));
  // The cut may leave the stem ending in a space or dot; Windows would drop
  // them, so drop them here and keep the name predictable.
  return trimEnds(short) + extension;
}

/**
 * The longest prefix of `text` within `maxBytes` of UTF-8 that ends on a
 * grapheme boundary, so no accent is split from its letter and no surrogate
 * pair is cut. A single grapheme larger than the budget (a stack of combining
 * marks) is cut between code points instead.
 */
function cutToBytes(text: string, maxBytes: number): string {
  let end = 0;
  let bytes = 0;
  const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  for (const { segment } of segmenter.segment(text)) {
    const size = utf8Length(segment);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += segment.length;
  }
  if (end > 0) return text.slice(0, end);
  for (const char of text) {
    const size = utf8Length(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/** UTF-8 length of well-formed text (lone surrogates were replaced before). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}
