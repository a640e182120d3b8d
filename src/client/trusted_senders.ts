/**
 * The senders a user always accepts files from ([a]lways at the prompt),
 * per server and by identity-key fingerprint, never by name: a name can
 * change hands (an operator may release it), a key cannot.
 *
 * The file is `<config folder>/trusted_senders`, one sender per line:
 *
 *     # comment
 *     192.168.1.20:8767 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU sophia
 *
 * The name after the fingerprint is a reminder for whoever reads the file;
 * it decides nothing. Lines that cannot be understood are skipped on reading
 * and kept on writing. Written atomically (temporary file, then rename) with
 * mode 0600 whatever the umask, in a 0700 folder.
 */

import { dirname, join } from "node:path";
import { randomBytes, toHex } from "../crypto/bytes.ts";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { FINGERPRINT_PATTERN, normalizeHostKey } from "./known_hosts.ts";

const FILE_NAME = "trusted_senders";
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** No list of senders comes near this; anything larger is the wrong file. */
const MAX_BYTES = 4 * 1024 * 1024;

const HEADER =
  "# Senders chat accepts files from without asking: <server host:port> <identity key fingerprint> <name when added>.\n" +
  "# Delete a line to be asked again.\n";

/** `<config folder>/trusted_senders`. */
export function defaultTrustedSendersPath(): string {
  return join(defaultConfigDir(), FILE_NAME);
}

/** The fingerprints listed for `hostKey` in the file's text. */
export function parseTrustedSenders(
  text: string,
  hostKey: string,
): Set<string> {
  const found = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const entry = parseLine(line);
    if (entry !== null && entry.host === hostKey) found.add(entry.fingerprint);
  }
  return found;
}

/** `text` with the sender added for `hostKey` (unchanged if already there). */
export function addTrustedSender(
  text: string,
  hostKey: string,
  fingerprint: string,
  name: string,
): string {
  if (!FINGERPRINT_PATTERN.test(fingerprint)) {
    throw new TypeError(`Not a key fingerprint: '${fingerprint}'`);
  }
  if (parseTrustedSenders(text, hostKey).has(fingerprint)) return text;
  const lines = text === "" ? [HEADER.trimEnd()] : text.replace(/\n+$/, "")
    .split("\n");
  // The name is only a reminder; keep it one printable word.
  const label = name.replace(/[^A-Za-z0-9_.-]/g, "?").slice(0, 64);
  lines.push(`${hostKey} ${fingerprint} ${label}`);
  return lines.join("\n") + "\n";
}

export class TrustedSenders {
  /** Where the list is kept; null: in memory for this session only. */
  readonly path: string | null;
  readonly hostKey: string;
  #fingerprints: Set<string>;

  private constructor(
    path: string | null,
    hostKey: string,
    found: Set<string>,
  ) {
    this.path = path;
    this.hostKey = hostKey;
    this.#fingerprints = found;
  }

  /**
   * The senders trusted on the server `hostPort`, from `path` (a missing
   * file is an empty list).
   *
   * @throws {TypeError} if `hostPort` is not a server address
   * @throws {Error} if the file exists but cannot be read
   */
  static async load(path: string, hostPort: string): Promise<TrustedSenders> {
    const host = normalizeHostKey(hostPort);
    if (host === null) {
      throw new TypeError(`Not a server address: '${hostPort}'`);
    }
    return new TrustedSenders(
      path,
      host,
      parseTrustedSenders(await readText(path) ?? "", host),
    );
  }

  /**
   * A list kept in memory only, for a client with no config folder (no
   * `$HOME`); [a]lways then lasts for the session.
   */
  static inMemory(hostPort: string): TrustedSenders {
    const host = normalizeHostKey(hostPort);
    if (host === null) {
      throw new TypeError(`Not a server address: '${hostPort}'`);
    }
    return new TrustedSenders(null, host, new Set());
  }

  has(fingerprint: string): boolean {
    return this.#fingerprints.has(fingerprint);
  }

  /**
   * Trusts `fingerprint` from now on and saves the file (re-read first, so
   * what another client added meanwhile stays).
   *
   * @throws {Error} with a message for the user if the file cannot be
   *   written; the sender stays trusted for this session
   */
  async add(fingerprint: string, name: string): Promise<void> {
    this.#fingerprints.add(fingerprint);
    if (this.path === null) return;
    const current = await readText(this.path) ?? "";
    await writePrivateAtomically(
      this.path,
      addTrustedSender(current, this.hostKey, fingerprint, name),
    );
  }
}

function parseLine(line: string): { host: string; fingerprint: string } | null {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return null;
  const [hostField, fingerprint] = trimmed.split(/\s+/);
  if (hostField === undefined || fingerprint === undefined) return null;
  if (!FINGERPRINT_PATTERN.test(fingerprint)) return null;
  const host = normalizeHostKey(hostField);
  return host === null ? null : { host, fingerprint };
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

/** Replaces `path` with `text`, mode 0600 whatever the umask. */
async function writePrivateAtomically(
  path: string,
  text: string,
): Promise<void> {
  const parent = dirname(path);
  const temporary = `${path}.${toHex(randomBytes(6))}.tmp`;
  try {
    await Deno.mkdir(parent, { recursive: true, mode: DIR_MODE });
    await Deno.writeTextFile(temporary, text, {
      mode: FILE_MODE,
      createNew: true,
    });
    // The mode given at creation is masked by the umask; this is not.
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, FILE_MODE);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new Error(
      `Cannot save trusted senders '${path}': ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
