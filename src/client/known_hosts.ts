/**
 * The servers a client has seen, and their key fingerprints (trust on first
 * use, as ssh's known_hosts): the first connection to a server remembers its
 * key, and a later connection that presents a different key is refused.
 *
 * The file is `<config folder>/known_hosts`, one server per line:
 *
 *     # comment
 *     192.168.1.20:8767 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 *     [fe80::1]:8767 SHA256:...
 *
 * Hosts are written normalised (lower case, IPv6 in brackets, explicit port)
 * so one server has one spelling. Lines that cannot be understood are skipped
 * on reading and kept as they are on writing: a hand-edited file never stops
 * the client, and the client never destroys what a person wrote.
 *
 * The functions above the class are pure; the class is the I/O edge.
 */

import { join } from "node:path";
import { DEFAULT_PORT } from "../protocol/limits.ts";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import { describeIoError } from "../fs/io_errors.ts";
import { FINGERPRINT_PATTERN } from "../crypto/keys.ts";

// Re-exported for those who knew it here (session.ts, trusted_senders.ts).
export { FINGERPRINT_PATTERN };

/** No list of servers comes near this; anything larger is the wrong file. */
const MAX_KNOWN_HOSTS_BYTES = 4 * 1024 * 1024;

const KNOWN_HOSTS_FILE = "known_hosts";

const HEADER =
  "# Servers chat has connected to: <host:port> <server key fingerprint>.\n" +
  "# chat refuses a server whose key differs from the one here; delete its line\n" +
  "# only once the server's operator confirms the new key.\n";

/** Characters that never belong in a host name (before IDNA). */
const BAD_HOST_CHARS = /[\s/?#@[\]\\:%]/;

/** What {@link KnownHosts.check} found. */
export type HostKeyCheck =
  | { status: "known" }
  | { status: "new" }
  | { status: "changed"; expected: string };

/** The known-hosts file cannot be read or written. */
export class KnownHostsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KnownHostsError";
  }
}

/** `<config folder>/known_hosts`. */
export function defaultKnownHostsPath(): string {
  return join(defaultConfigDir(), KNOWN_HOSTS_FILE);
}

/**
 * The canonical `host:port` of a server address: host in lower case (IDN as
 * punycode, IPv4 and IPv6 in their shortest form), IPv6 in brackets, and the
 * port always written (the default port if none is given). Null if `hostPort`
 * is not an address.
 */
export function normalizeHostKey(hostPort: string): string | null {
  if (typeof hostPort !== "string") return null;
  const text = hostPort.trim();
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::([^:]*))?$/.exec(text);
  if (bracketed !== null) {
    host = `[${bracketed[1]}]`;
    port = bracketed[2];
  } else if ((text.match(/:/g)?.length ?? 0) >= 2) {
    // Two colons or more: a bare IPv6 address, which cannot carry a port.
    host = `[${text}]`;
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    port = colon < 0 ? undefined : text.slice(colon + 1);
    if (host === "" || BAD_HOST_CHARS.test(host)) return null;
  }
  const portNumber = port === undefined ? DEFAULT_PORT : parsePort(port);
  if (portNumber === null) return null;
  let canonical: string;
  try {
    // The WHATWG host parser does the lower-casing, IDNA and IP forms.
    canonical = new URL(`ws://${host}/`).hostname;
  } catch {
    return null;
  }
  if (canonical === "" || /[\s#]/.test(canonical)) return null;
  return `${canonical}:${portNumber}`;
}

/**
 * The known-hosts key of a `ws://` or `wss://` URL, as `parseTarget` makes
 * them: its canonical `host:port` (80 or 443 when the URL leaves it out).
 *
 * @throws {TypeError} if `wsUrl` is not a WebSocket URL with a host
 */
export function hostKeyOf(wsUrl: string): string {
  let url: URL;
  try {
    url = new URL(wsUrl);
  } catch {
    throw new TypeError(`Not a valid URL: '${wsUrl}'`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`Not a ws:// or wss:// URL: '${wsUrl}'`);
  }
  const port = url.port !== ""
    ? url.port
    : url.protocol === "ws:"
    ? "80"
    : "443";
  const key = normalizeHostKey(`${url.hostname}:${port}`);
  if (key === null) throw new TypeError(`No server host in '${wsUrl}'`);
  return key;
}

/**
 * The entries of a known-hosts file: canonical host key -> fingerprints, in
 * file order. Comments, blank lines and lines that are not an address and a
 * fingerprint are skipped. Anything after the fingerprint is a comment.
 */
export function parseKnownHosts(text: string): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const line of splitLines(text)) {
    const entry = parseLine(line);
    if (entry === null) continue;
    const fingerprints = entries.get(entry.host);
    if (fingerprints === undefined) {
      entries.set(entry.host, [entry.fingerprint]);
    } else if (!fingerprints.includes(entry.fingerprint)) {
      fingerprints.push(entry.fingerprint);
    }
  }
  return entries;
}

/**
 * `text` with `hostKey` remembered as having `fingerprint`: its first line is
 * replaced, its other lines dropped, or a line appended. Every other line,
 * including comments and lines that cannot be parsed, stays as it was.
 *
 * @throws {TypeError} if the host key or fingerprint is malformed
 */
export function updateKnownHosts(
  text: string,
  hostKey: string,
  fingerprint: string,
): string {
  const host = requireHostKey(hostKey);
  if (!FINGERPRINT_PATTERN.test(fingerprint)) {
    throw new TypeError(`Not a key fingerprint: '${fingerprint}'`);
  }
  const entry = `${host} ${fingerprint}`;
  const out: string[] = [];
  let replaced = false;
  for (const line of splitLines(text)) {
    if (parseLine(line)?.host !== host) {
      out.push(line);
    } else if (!replaced) {
      out.push(entry);
      replaced = true;
    }
  }
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  if (!replaced) {
    if (out.length === 0) out.push(HEADER.trimEnd());
    out.push(entry);
  }
  return out.join("\n") + "\n";
}

/**
 * The 1-based numbers of the lines in `text` that name `hostKey`, for telling
 * the user which line to remove.
 */
export function hostLineNumbers(text: string, hostKey: string): number[] {
  const host = normalizeHostKey(hostKey);
  const numbers: number[] = [];
  splitLines(text).forEach((line, index) => {
    if (host !== null && parseLine(line)?.host === host) {
      numbers.push(index + 1);
    }
  });
  return numbers;
}

/**
 * What to tell the user when a server's key is not the one remembered. Both
 * fingerprints are shown so the user can compare them with the operator's,
 * and the lines to remove are named (`lines`, when known).
 */
export function changedKeyMessage(
  hostKey: string,
  expected: string,
  presented: string,
  path: string,
  lines: readonly number[] = [],
): string {
  const where = lines.length === 0
    ? `the line for ${hostKey} from '${path}'`
    : `${lines.length === 1 ? "line" : "lines"} ${lines.join(", ")} ` +
      `(${hostKey}) from '${path}'`;
  return `The key of server ${hostKey} has changed: you trusted ${expected}, ` +
    `it now presents ${presented}. Someone may be intercepting the connection, ` +
    `or the server was given a new key. Refusing to connect; if the server's ` +
    `operator confirms the new fingerprint, remove ${where} ` +
    `or pass the server's public key with --pub FILE`;
}

/** The known-hosts file, loaded once and updated on {@link remember}. */
export class KnownHosts {
  /** The file this list is read from and written to. */
  readonly path: string;
  #entries: Map<string, string[]>;
  /** The file as last read or written, for {@link lineNumbers}. */
  #text: string;

  private constructor(path: string, text: string) {
    this.path = path;
    this.#text = text;
    this.#entries = parseKnownHosts(text);
  }

  /**
   * Reads the file at `path`; a missing file is an empty list.
   *
   * @throws {KnownHostsError} if the file exists but cannot be read
   */
  static async load(path: string): Promise<KnownHosts> {
    const text = await readKnownHostsText(path);
    return new KnownHosts(path, text ?? "");
  }

  /** The 1-based lines of the file that name the server (see {@link hostLineNumbers}). */
  lineNumbers(hostPort: string): number[] {
    return hostLineNumbers(this.#text, hostPort);
  }

  /**
   * The fingerprint remembered for a server, or null.
   *
   * @throws {TypeError} if `hostPort` is not a server address
   */
  lookup(hostPort: string): string | null {
    return this.#entries.get(requireHostKey(hostPort))?.[0] ?? null;
  }

  /**
   * Whether `fingerprint` is the key remembered for the server. A hand-edited
   * file may list several keys for one server; any of them is accepted.
   *
   * @throws {TypeError} if `hostPort` is not a server address
   */
  check(hostPort: string, fingerprint: string): HostKeyCheck {
    const known = this.#entries.get(requireHostKey(hostPort));
    if (known === undefined || known.length === 0) return { status: "new" };
    if (known.includes(fingerprint)) return { status: "known" };
    return { status: "changed", expected: known[0]! };
  }

  /**
   * Remembers `fingerprint` as the server's key, replacing any other, and
   * saves the file. The file is re-read first so that servers another client
   * remembered meanwhile are kept, and replaced atomically (temporary file,
   * then rename) so an interrupted write never leaves it truncated.
   *
   * @throws {TypeError} if the address or fingerprint is malformed
   * @throws {KnownHostsError} if the file cannot be read or written; the
   * server is still remembered for the life of this object
   */
  async remember(hostPort: string, fingerprint: string): Promise<void> {
    const host = requireHostKey(hostPort);
    if (!FINGERPRINT_PATTERN.test(fingerprint)) {
      throw new TypeError(`Not a key fingerprint: '${fingerprint}'`);
    }
    this.#entries.set(host, [fingerprint]);
    const current = await readKnownHostsText(this.path);
    const updated = updateKnownHosts(current ?? "", host, fingerprint);
    this.#entries = parseKnownHosts(updated);
    this.#text = updated;
    await writeAtomically(this.path, updated);
  }
}

function requireHostKey(hostPort: string): string {
  const host = normalizeHostKey(hostPort);
  if (host === null) {
    throw new TypeError(`Not a server address: '${hostPort}'`);
  }
  return host;
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function splitLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
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

/** The file's text, or null if there is no file. */
async function readKnownHostsText(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new KnownHostsError(
        `Cannot read known servers '${path}': not a file; move it away`,
      );
    }
    if (info.size > MAX_KNOWN_HOSTS_BYTES) {
      throw new KnownHostsError(
        `Cannot read known servers '${path}': ${info.size} bytes is too large; ` +
          "remove the lines for servers you no longer use",
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof KnownHostsError) throw error;
    if (error instanceof Deno.errors.NotFound) return null;
    throw new KnownHostsError(
      `Cannot read known servers '${path}': ${describeIoError(error, "read")}`,
      { cause: error },
    );
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  // Write through a symbolic link (a dotfiles manager's, say) rather than
  // replacing the link with a plain file.
  const target = await Deno.realPath(path).catch(() => path);
  try {
    await writePrivateFileAtomically(target, text);
  } catch (error) {
    throw new KnownHostsError(
      `Cannot save known servers '${path}': ${describeIoError(error, "write")}`,
      { cause: error },
    );
  }
}
