// This module is browser compatible.

/**
 * Which received files chat opens by itself: an ALLOW-list of passive kinds
 * (images, audio, video, PDF, plain text), decided by the name's extension
 * AND by the content, which must agree. Everything else is saved and left
 * for the user to open.
 *
 * A deny-list cannot keep up: desktops run code from `.xht`, `.theme`,
 * `.mobileconfig`, `.one`, `.svgz`, an extension-less file whose content says
 * `[Desktop Entry]`, and whatever is registered next year. Both checks are
 * needed because openers decide differently: Windows and macOS go by the
 * extension, `xdg-open` may go by the content (shared-mime-info sniffing),
 * and loaders such as `binfmt_misc` by the first bytes. A name without an
 * extension is never opened: Windows would look it up with PATHEXT.
 *
 * @module
 */

import { finalExtension } from "./naming.ts";

/** Bytes of the file read to check its content. */
export const SNIFF_BYTES = 4096;

export type PassiveKind = "image" | "audio" | "video" | "PDF" | "text";

interface KindRule {
  readonly kind: PassiveKind;
  /** What the content must look like, for the explanation. */
  readonly label: string;
  readonly matches: (head: Uint8Array) => boolean;
}

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

function startsWith(head: Uint8Array, bytes: readonly number[], at = 0) {
  return head.length >= at + bytes.length &&
    bytes.every((byte, i) => head[at + i] === byte);
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const GIF87 = ascii("GIF87a");
const GIF89 = ascii("GIF89a");
const RIFF = ascii("RIFF");
const OGG = ascii("OggS");
const FLAC = ascii("fLaC");
const ID3 = ascii("ID3");
const EBML = [0x1a, 0x45, 0xdf, 0xa3];
const PDF = ascii("%PDF-");
const FTYP = ascii("ftyp");

const riff = (form: string) => (h: Uint8Array) =>
  startsWith(h, RIFF) && startsWith(h, ascii(form), 8);

/** An ISO media file (MP4, M4A, MOV): a `ftyp` box first. */
const isoMedia = (h: Uint8Array) => startsWith(h, FTYP, 4);

/** An MPEG audio frame header: 11 sync bits, a valid layer and bitrate. */
function mpegAudio(h: Uint8Array): boolean {
  if (startsWith(h, ID3)) return true;
  const [a = 0, b = 0, c = 0] = h;
  return a === 0xff && (b & 0xe0) === 0xe0 && (b & 0x06) !== 0 &&
    (c & 0xf0) !== 0xf0;
}

/** A BMP: "BM", then a DIB header of a size some version defines. */
function bmp(h: Uint8Array): boolean {
  return startsWith(h, ascii("BM")) && h.length >= 18 &&
    [12, 40, 52, 56, 64, 108, 124].includes(h[14]!) && h[15] === 0 &&
    h[16] === 0 && h[17] === 0;
}

const IMAGE = (label: string, matches: (h: Uint8Array) => boolean) => ({
  kind: "image" as const,
  label,
  matches,
});

/** Final extension, lower case -> what its content must be. */
export const PASSIVE_RULES: ReadonlyMap<string, KindRule> = new Map<
  string,
  KindRule
>([
  ["png", IMAGE("a PNG image", (h) => startsWith(h, PNG))],
  ["jpg", IMAGE("a JPEG image", (h) => startsWith(h, JPEG))],
  ["jpeg", IMAGE("a JPEG image", (h) => startsWith(h, JPEG))],
  [
    "gif",
    IMAGE("a GIF image", (h) => startsWith(h, GIF87) || startsWith(h, GIF89)),
  ],
  ["webp", IMAGE("a WebP image", riff("WEBP"))],
  ["bmp", IMAGE("a BMP image", bmp)],
  ["mp3", { kind: "audio", label: "MP3 audio", matches: mpegAudio }],
  [
    "ogg",
    { kind: "audio", label: "Ogg audio", matches: (h) => startsWith(h, OGG) },
  ],
  [
    "oga",
    { kind: "audio", label: "Ogg audio", matches: (h) => startsWith(h, OGG) },
  ],
  [
    "opus",
    { kind: "audio", label: "Opus audio", matches: (h) => startsWith(h, OGG) },
  ],
  [
    "flac",
    { kind: "audio", label: "FLAC audio", matches: (h) => startsWith(h, FLAC) },
  ],
  ["wav", { kind: "audio", label: "WAVE audio", matches: riff("WAVE") }],
  ["m4a", { kind: "audio", label: "MPEG-4 audio", matches: isoMedia }],
  ["mp4", { kind: "video", label: "an MPEG-4 video", matches: isoMedia }],
  ["m4v", { kind: "video", label: "an MPEG-4 video", matches: isoMedia }],
  ["mov", { kind: "video", label: "a QuickTime video", matches: isoMedia }],
  [
    "webm",
    {
      kind: "video",
      label: "a WebM video",
      matches: (h) => startsWith(h, EBML),
    },
  ],
  [
    "mkv",
    {
      kind: "video",
      label: "a Matroska video",
      matches: (h) => startsWith(h, EBML),
    },
  ],
  [
    "ogv",
    {
      kind: "video",
      label: "an Ogg video",
      matches: (h) => startsWith(h, OGG),
    },
  ],
  ["avi", { kind: "video", label: "an AVI video", matches: riff("AVI ") }],
  [
    "pdf",
    {
      kind: "PDF",
      label: "a PDF document",
      matches: (h) => startsWith(h, PDF),
    },
  ],
  ["txt", { kind: "text", label: "plain text", matches: isPlainText }],
  ["log", { kind: "text", label: "plain text", matches: isPlainText }],
]);

export type OpenVerdict =
  | { ok: true; kind: PassiveKind }
  | { ok: false; why: string };

/**
 * Whether a saved file may be opened automatically: `name` (as saved) ends in
 * an extension of {@linkcode PASSIVE_RULES} and `head` (its first
 * {@linkcode SNIFF_BYTES} bytes, or all of a shorter file) is that kind of
 * content. Otherwise `why` says what failed, for the user.
 *
 * @example
 * ```ts
 * passiveKind("photo.jpg", new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // { ok: true, kind: "image" }
 * passiveKind("readme", new TextEncoder().encode("hello")).ok; // false: no extension
 * passiveKind("notes.txt", new Uint8Array([0x7f, 0x45, 0x4c, 0x46])).ok; // false: not text
 * ```
 */
export function passiveKind(name: string, head: Uint8Array): OpenVerdict {
  const byName = passiveRuleByName(name);
  if (!byName.ok) return byName;
  const { rule, extension } = byName;
  if (!rule.matches(head)) {
    return {
      ok: false,
      why: `its content is not ${rule.label}, as .${extension} says`,
    };
  }
  return { ok: true, kind: rule.kind };
}

/**
 * Why a file saved as `name` will not be opened whatever its content, or
 * null if its name allows it (the content is checked once it has arrived):
 * for the question asked before a file is accepted.
 *
 * @example
 * ```ts
 * notOpenedByName("photo.jpg.exe"); // ".exe: will be saved, not opened"
 * notOpenedByName("photo.jpg"); // null
 * ```
 */
export function notOpenedByName(name: string): string | null {
  const verdict = passiveRuleByName(name);
  if (verdict.ok) return null;
  const extension = finalExtension(name);
  return `${
    verdict.noExtension || extension === "" ? "no extension" : `.${extension}`
  }: will be saved, not opened`;
}

function passiveRuleByName(
  name: string,
):
  | { ok: true; rule: KindRule; extension: string }
  | { ok: false; why: string; noExtension?: true } {
  // A received name has been made safe already (naming.ts); these are
  // checked again because the verdict must not depend on that.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(name)) {
    return { ok: false, why: "its name has invisible or control characters" };
  }
  if (/[.\s]$/.test(name)) {
    return { ok: false, why: "its name ends with a dot or a space" };
  }
  const base = name.slice(
    Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1,
  );
  if (!base.slice(1).includes(".")) {
    return { ok: false, why: "its name has no extension", noExtension: true };
  }
  const extension = finalExtension(base);
  const rule = PASSIVE_RULES.get(extension);
  if (rule === undefined) {
    return {
      ok: false,
      why:
        `chat opens only images, audio, video, PDF and plain text, and .${extension} is not one of those`,
    };
  }
  return { ok: true, rule, extension };
}

/**
 * The line shown for a file saved but not opened, right after the line that
 * says where it was saved (`Saved to ...`): the path is not said twice.
 */
export function explainNotOpened(name: string, why: string): string {
  return `Not opening ${name} automatically: ${why}.`;
}

// What content sniffers (browsers, shared-mime-info) take for markup or a
// launcher even in a ".txt": such a file is not opened.
const NOT_PLAIN_PREFIXES = [
  "<",
  "#!",
  "[desktop entry]",
  "[internetshortcut]",
  "[.shellclassinfo]",
  "{\\rtf",
  "%pdf",
  "%!ps",
];
// The tags `file` (libmagic) and shared-mime-info take for HTML anywhere in
// a file's head: `xdg-open` without a desktop falls back on `file`, which
// would hand such a ".txt" to the browser (found in review).
const NOT_PLAIN_ANYWHERE =
  /<(?:!--|(?:script|html|!doctype|\?xml|svg|iframe|object|embed|body|head|meta|title|style|table|font|a|b|br|p|h[1-6]|form|link|base|frame|frameset|img|input|button|applet|math|div|span)\b)/i;

/**
 * Whether `head` is plain text: UTF-8 (a BOM allowed) without NUL or other
 * control characters except tab, line feed, form feed and carriage return,
 * and nothing a sniffer would take for HTML, XML, RTF, a script or a
 * launcher. The head may end inside a character.
 */
export function isPlainText(head: Uint8Array): boolean {
  let text: string;
  try {
    // `stream` lets the head end in the middle of a character; the decoder
    // is not reused, so what it keeps back is never flushed.
    text = new TextDecoder("utf-8", { fatal: true }).decode(head, {
      stream: true,
    });
  } catch {
    return false;
  }
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const allowed = code === 0x09 || code === 0x0a || code === 0x0c ||
      code === 0x0d;
    if ((code < 0x20 && !allowed) || (code >= 0x7f && code <= 0x9f)) {
      return false;
    }
  }
  const start = text.replace(/^[\s\ufeff]+/, "").slice(0, 32).toLowerCase();
  if (NOT_PLAIN_PREFIXES.some((prefix) => start.startsWith(prefix))) {
    return false;
  }
  return !NOT_PLAIN_ANYWHERE.test(text);
}
