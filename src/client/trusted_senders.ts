/**
 * The senders a user always accepts files from (`always` at the prompt),
 * per server key and by identity-key fingerprint, never by name: a name can
 * change hands (an operator may release it), a key cannot. The server is
 * named by its key too, not by its address: a new server at the same address
 * (whose key the user accepted) must not inherit the old one's trusted
 * senders, since the server is what vouches for a sender's key.
 *
 * The file is `<config folder>/trusted_senders`, one sender per line:
 *
 *     # comment
 *     SHA256:<server key> SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU sophia
 *
 * The name after the fingerprint is a reminder for whoever reads the file;
 * it decides nothing. Lines that cannot be understood are skipped on reading
 * and kept on writing; that includes lines of the address-keyed format of
 * unreleased builds (`host:port SHA256:...`), which are ignored, so such a
 * sender is asked about again. Written atomically (temporary file, then
 * rename) with mode 0600 whatever the umask, in a 0700 folder.
 */

import { join } from "node:path";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import { FINGERPRINT_PATTERN } from "./known_hosts.ts";
import { oneAtATime } from "./one_at_a_time.ts";

const FILE_NAME = "trusted_senders";
/** No list of senders comes near this; anything larger is the wrong file. */
const MAX_BYTES = 4 * 1024 * 1024;

const HEADER =
  "# Senders chat accepts files from without asking: <server key fingerprint> <identity key fingerprint> <name when added>.\n" +
  "# Delete a line to be asked again.\n";

/** `<config folder>/trusted_senders`. */
export function defaultTrustedSendersPath(): string {
  return join(defaultConfigDir(), FILE_NAME);
}

/** The sender fingerprints listed for the server key `serverKey` in the file's text. */
export function parseTrustedSenders(
  text: string,
  serverKey: string,
): Set<string> {
  const found = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const entry = parseLine(line);
    if (entry !== null && entry.server === serverKey) {
      found.add(entry.fingerprint);
    }
  }
  return found;
}

/** `text` with the sender added for the server key `serverKey` (unchanged if already there). */
export function addTrustedSender(
  text: string,
  serverKey: string,
  fingerprint: string,
  name: string,
): string {
  for (const key of [serverKey, fingerprint]) {
    if (!FINGERPRINT_PATTERN.test(key)) {
      throw new TypeError(`Not a key fingerprint: '${key}'`);
    }
  }
  if (parseTrustedSenders(text, serverKey).has(fingerprint)) return text;
  const lines = text === "" ? [HEADER.trimEnd()] : text.replace(/\n+$/, "")
    .split("\n");
  // The name is only a reminder; keep it one printable word.
  const label = name.replace(/[^A-Za-z0-9_.-]/g, "?").slice(0, 64);
  lines.push(`${serverKey} ${fingerprint} ${label}`);
  return lines.join("\n") + "\n";
}

export class TrustedSenders {
  /** Where the list is kept; null: in memory for this session only. */
  readonly path: string | null;
  /** Server key fingerprint -> sender key fingerprints. */
  #senders: Map<string, Set<string>>;
  /** Each change re-reads and rewrites the file: one at a time. */
  readonly #inTurn = oneAtATime();

  private constructor(path: string | null, text: string) {
    this.path = path;
    this.#senders = new Map();
    for (const line of text.split(/\r?\n/)) {
      const entry = parseLine(line);
      if (entry !== null) this.#remember(entry.server, entry.fingerprint);
    }
  }

  /**
   * The senders trusted in `path`, for every server key (a missing file is
   * an empty list).
   *
   * @throws {Error} if the file exists but cannot be read
   */
  static async load(path: string): Promise<TrustedSenders> {
    return new TrustedSenders(path, await readText(path) ?? "");
  }

  /**
   * A list kept in memory only, for a client with no config folder (no
   * `$HOME`); `always` then lasts for the session.
   */
  static inMemory(): TrustedSenders {
    return new TrustedSenders(null, "");
  }

  /**
   * Whether `fingerprint` is trusted on the server whose key (the one this
   * session verified) has the fingerprint `serverKey`.
   */
  has(serverKey: string, fingerprint: string): boolean {
    return this.#senders.get(serverKey)?.has(fingerprint) ?? false;
  }

  /**
   * Trusts `fingerprint` on the server with key `serverKey` from now on and
   * saves the file (re-read first, so what another client added meanwhile
   * stays).
   *
   * @throws {TypeError} if either is not a key fingerprint
   * @throws {Error} with a message for the user if the file cannot be
   *   written; the sender stays trusted for this session
   */
  async add(
    serverKey: string,
    fingerprint: string,
    name: string,
  ): Promise<void> {
    // Both must be fingerprints before anything is remembered.
    addTrustedSender("", serverKey, fingerprint, name);
    this.#remember(serverKey, fingerprint);
    const path = this.path;
    if (path === null) return;
    await this.#inTurn(async () => {
      const current = await readText(path) ?? "";
      await writePrivateAtomically(
        path,
        addTrustedSender(current, serverKey, fingerprint, name),
      );
    });
  }

  #remember(serverKey: string, fingerprint: string): void {
    let senders = this.#senders.get(serverKey);
    if (senders === undefined) {
      senders = new Set();
      this.#senders.set(serverKey, senders);
    }
    senders.add(fingerprint);
  }
}

function parseLine(
  line: string,
): { server: string; fingerprint: string } | null {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  const [server, fingerprint] = trimmed.split(/\s+/);
  if (server === undefined || fingerprint === undefined) return null;
  // An address in the first field is the old format: not a server key.
  if (!FINGERPRINT_PATTERN.test(server)) return null;
  if (!FINGERPRINT_PATTERN.test(fingerprint)) return null;
  return { server, fingerprint };
}

async function readText(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_BYTES) {
      throw new Error(
        `Cannot read trusted senders '${path}': not a small text file; move it away`,
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error instanceof Deno.errors.PermissionDenied
      ? new Error(`Cannot read trusted senders '${path}': permission denied`)
      : error;
  }
}

/** Replaces `path` with `text`, mode 0600 in a 0700 folder, whatever the umask. */
async function writePrivateAtomically(
  path: string,
  text: string,
): Promise<void> {
  try {
    await writePrivateFileAtomically(path, text);
  } catch (error) {
    throw new Error(
      `Cannot save trusted senders '${path}': ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
