// This module is browser compatible.

/** Protocol constants shared by both ends. Changing one is a protocol change. */

export const PROTOCOL_VERSION = 1;

/** Default TCP port, as in the seed. */
export const DEFAULT_PORT = 8767;

/** Largest sealed frame accepted on the wire, header and tag included. */
export const MAX_FRAME_BYTES = 1024 * 1024 + 64;

/** Largest plaintext a sealed frame may carry (a batch of messages). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** Largest JSON header of a single message (lists of users and groups live there). */
export const MAX_HEADER_BYTES = 256 * 1024;

/** `/list` and `/showgroups` name at most this many; the rest are counted in `more`. */
export const MAX_LIST_ITEMS = 2000;

/** `/showgroupmembers` shows at most this many groups, each with at most this many names. */
export const MAX_GROUPS_SHOWN = 20;
export const MAX_MEMBERS_SHOWN = 200;

/** Largest handshake message (text frame); the RSA-4096 public key dominates. */
export const MAX_HANDSHAKE_BYTES = 8 * 1024;

/**
 * A recipient's reason for not taking a file, as the server passes it on
 * (docs/PROTOCOL.md 5.6, `file_ready`): cut to this many characters (UTF-16
 * code units), so that `file_ready` for a group of 1000 stays well under the
 * header limit.
 */
export const MAX_DECLINED_REASON_CHARS = 100;

/** The longest `/away` reason, in characters (UTF-16 code units). */
export const MAX_AWAY_CHARS = 200;

/** Message text length limit, in characters (UTF-16 code units after decoding). */
export const MAX_TEXT_CHARS = 4000;

/** Message text limit in bytes: 4 UTF-8 bytes per character at most. */
export const MAX_TEXT_BYTES = MAX_TEXT_CHARS * 4;

/**
 * Why a message over the limits is refused: one text whether the server
 * refuses it or a client stops it before sending, so a script that matches
 * it sees one wording.
 */
export const MESSAGE_TOO_LONG =
  `Message is too long (the limit is ${MAX_TEXT_CHARS} characters, or ${MAX_TEXT_BYTES} bytes of UTF-8)`;

/**
 * The largest end-to-end private message (`e2e_msg` body, docs/PROTOCOL.md
 * 11.7): the longest text, its content byte, and the envelope's overhead
 * (227 bytes at most) with room to spare.
 */
export const MAX_E2E_MESSAGE_BYTES = MAX_TEXT_BYTES + 1024;

/** A handshake must finish within this many milliseconds. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** User and group names: 1 to 32 of ASCII letters, digits, `_`, `-`, `.`. */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
/** The longest name NAME_PATTERN takes (a form field's limit). */
export const MAX_NAME_LENGTH = 32;
export const NAME_RULE =
  "names are 1-32 characters of ASCII letters, digits, '_', '-' and '.'";

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

// Echoing a name the client sent back into a reply is safe only for short
// printable ASCII: anything else could carry terminal escapes or flood the
// reply. Returns the name quoted, or null when it must not be shown.
const MAX_ECHO_CHARS = 64;
export function echoName(name: string): string | null {
  return name.length <= MAX_ECHO_CHARS && /^[\x20-\x7e]*$/.test(name)
    ? `'${name}'`
    : null;
}

/**
 * What a user name that breaks NAME_RULE is refused with: the server's
 * `invalid_name` reply, which chat connect also says itself for a bad
 * `--user` before it connects. An empty one is said in plain words.
 */
export function invalidUsername(
  name: string,
  showCharacter?: ShowCharacter,
): string {
  if (name === "") return "ERROR: Username cannot be empty";
  const shown = echoName(name);
  if (shown !== null) return `ERROR: Invalid username ${shown}: ${NAME_RULE}`;
  const wrong = firstOutsideRule(name, showCharacter);
  return wrong === null
    ? `ERROR: Invalid username: ${NAME_RULE}`
    : `ERROR: Invalid username: ${NAME_RULE}, not ${wrong}`;
}

/**
 * The character itself as a terminal may show it, or null to name it by
 * code point alone: given where the text is known to reach a terminal
 * (chat connect's own `--user` check), never in the server's reply.
 */
export type ShowCharacter = (char: string) => string | null;

/**
 * The first character of `name` the rule does not take, as a person can
 * read it in any terminal or log: printable ASCII quoted ('!'), a space,
 * anything else by its code point and place (U+00EB, character 3); null
 * when every character is allowed (the name is only too long). Never the
 * character itself past ASCII: a look-alike (Cyrillic 'о' for 'o') quoted
 * would name a letter the rule takes, and a reply stays printable ASCII
 * whatever was sent (tests/e2e/hostile_test.ts). With `showCharacter`, the
 * character too, beside its code point, which tells a look-alike apart:
 * `'é' (U+00E9, character 4)`.
 */
function firstOutsideRule(
  name: string,
  showCharacter?: ShowCharacter,
): string | null {
  let place = 0;
  for (const char of name) {
    place++;
    if (/^[A-Za-z0-9_.-]$/.test(char)) continue;
    if (char === " ") return "a space";
    if (/^[\x21-\x7e]$/.test(char) && char !== "'") return `'${char}'`;
    const point = char.codePointAt(0)!;
    const code = `U+${point.toString(16).toUpperCase().padStart(4, "0")}`;
    const drawn = showCharacter?.(char) ?? null;
    return drawn === null
      ? `${code} (character ${place})`
      : `'${drawn}' (${code}, character ${place})`;
  }
  return null;
}

/** The key names are compared by: unique ignoring case. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * File chunks: what senders should use, and the most a chunk may carry.
 * 128 KiB: per chunk, the relay's costs (frames parsed, headers sealed,
 * socket writes) are small against its per-byte ones at this size, and in
 * A/B runs with the relay copying nothing per recipient, 256 KiB chunks
 * cost the server the same one to one and ~50 % more CPU to a group of 5
 * (bench/BASELINE.md, "Files"). Any size up to the maximum is valid on the
 * wire, so this can change without breaking older peers.
 */
export const FILE_CHUNK_BYTES = 128 * 1024;
export const MAX_FILE_CHUNK_BYTES = 256 * 1024;
/**
 * A `file_chunk`'s body is its bytes sealed with the file key: this much
 * longer (the AES-GCM tag). Sizes, offsets and acknowledgements count the
 * file's own bytes.
 */
export const FILE_CHUNK_TAG_BYTES = 16;

/**
 * A sender keeps at most this many bytes sent but not yet acknowledged by the
 * slowest recipient, which bounds what the server and receivers hold in memory.
 * It must stay well under the server's inbox limit (8 MiB unread per
 * connection), or a fast sender is cut off as flooding.
 */
export const FILE_WINDOW_BYTES = 4 * 1024 * 1024;

/** Recipients acknowledge at least every this many bytes written to disk. */
export const FILE_ACK_BYTES = 1024 * 1024;

/** Default largest file the server relays (--max-file-size). */
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024;

/** SHA-256 as 64 lower-case hex digits. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** A file offer's `key_id` (docs/PROTOCOL.md 11.10): 16 random bytes in hex. */
export const FILE_KEY_ID_PATTERN = /^[0-9a-f]{32}$/;

/** `/history` shows this many messages unless asked for another number. */
export const DEFAULT_HISTORY = 20;
export const MAX_HISTORY = 500;
/**
 * One `history` reply holds at most this many bytes of bodies: 500 messages
 * of 16,000 bytes would be 8 MB, built and queued at once for one request.
 */
export const MAX_HISTORY_BYTES = 256 * 1024;
/**
 * One `history` request looks at no more than this many of a group's
 * messages: whether the requester may see each is one more lookup, and a
 * newcomer to a group of a million messages made the server read them all
 * (about a second, the whole server waiting) for every request. Past it the
 * reply says where it stopped (`before` on its `ok`), to ask on from there.
 */
export const MAX_HISTORY_SCAN = 10_000;
