/**
 * Key files on disk: the I/O edge of keys.ts. Every failure becomes a
 * {@link KeyFileError} whose message names the file and says what to do.
 */

import { basename, dirname } from "node:path";
import {
  fingerprint,
  holdsPrivateKey,
  type ImportedPrivateKey,
  type ImportedPublicKey,
  importPrivateKeyPem,
  importPublicKeyPem,
  KeyFormatError,
  publicKeyPem,
} from "./keys.ts";
import { equalBytes, randomBytes, toHex } from "./bytes.ts";
import { createPrivateDir, PRIVATE_FILE_MODE } from "../fs/private_paths.ts";
import { describeIoError } from "../fs/io_errors.ts";

/** No PEM key file comes near this; anything larger is the wrong file. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

const PRIVATE_KEY_MODE = PRIVATE_FILE_MODE;
const PUBLIC_KEY_MODE = 0o644;

/** A key file that cannot be read, used or written. */
export class KeyFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyFileError";
  }
}

export interface WriteKeyPairOptions {
  privatePath: string;
  publicPath: string;
  privatePem: string;
  publicPem: string;
  /** Replace existing files instead of refusing. */
  force: boolean;
}

type KeyKind = "private" | "public";

/**
 * Reads and imports a PEM RSA private key.
 *
 * @throws {KeyFileError} if the file cannot be read or is not a usable key
 */
export async function readPrivateKeyFile(
  path: string,
): Promise<ImportedPrivateKey & { fingerprint: string }> {
  const pem = await readKeyText(path, "private");
  try {
    const key = await importPrivateKeyPem(pem);
    return { ...key, fingerprint: await fingerprint(key.publicSpki) };
  } catch (error) {
    throw unusableKey(path, "private", error);
  }
}

/**
 * Reads and imports a PEM RSA public key.
 *
 * @throws {KeyFileError} if the file cannot be read or is not a usable key
 */
export async function readPublicKeyFile(
  path: string,
): Promise<ImportedPublicKey & { fingerprint: string }> {
  const pem = await readKeyText(path, "public");
  try {
    const key = await importPublicKeyPem(pem);
    return { ...key, fingerprint: await fingerprint(key.spki) };
  } catch (error) {
    throw unusableKey(path, "public", error);
  }
}

/**
 * Writes a key pair, creating parent directories. The private key gets mode
 * 0600. Without `force`, existing files are never touched: the check is the
 * exclusive create itself, so a file appearing meanwhile is not clobbered
 * either. With `force`, each file is replaced atomically (write a temporary
 * file, then rename), so an interrupted write never leaves a truncated key.
 *
 * @throws {KeyFileError} if a file exists (without `force`) or cannot be written
 */
export async function writeKeyPair(
  options: WriteKeyPairOptions,
): Promise<void> {
  const { privatePath, publicPath, privatePem, publicPem, force } = options;
  if (!force) {
    // Checked up front too, so an existing public key does not leave a new,
    // unmatched private key behind.
    for (const path of [privatePath, publicPath]) {
      if (await pathExists(path)) throw refuseOverwrite(path);
    }
  }
  makeParentDir(privatePath);
  makeParentDir(publicPath);
  await writeKeyFile(privatePath, privatePem, PRIVATE_KEY_MODE, force);
  try {
    await writeKeyFile(publicPath, publicPem, PUBLIC_KEY_MODE, force);
  } catch (error) {
    if (!force) await Deno.remove(privatePath).catch(() => {});
    throw error;
  }
}

/** What is already where a public key is to be written. */
export type PublicKeyFileState =
  | { kind: "none" }
  /** The same public key, in any PEM form we read. */
  | { kind: "same" }
  /** A private key (the private key's own path, say): never replaced. */
  | { kind: "private" }
  /** Anything else; `holds` says what, as "another key (SHA256:...)". */
  | { kind: "other"; holds: string };

/** What {@link writePublicKeyFile} did. */
export type PublicKeyWrite = "created" | "replaced" | "unchanged";

/**
 * What `path` holds compared with the public key `spki` (canonical SPKI DER).
 *
 * @throws {KeyFileError} if whether `path` exists cannot be checked
 */
export async function inspectPublicKeyFile(
  path: string,
  spki: Uint8Array,
): Promise<PublicKeyFileState> {
  if (!await pathExists(path)) return { kind: "none" };
  let text: string;
  try {
    text = await readKeyText(path, "public");
  } catch {
    // A folder, a huge file, or one we may not read: not this key, anyway.
    return { kind: "other", holds: "no key file we can read" };
  }
  if (holdsPrivateKey(text)) return { kind: "private" };
  try {
    const key = await importPublicKeyPem(text);
    return equalBytes(key.spki, spki) ? { kind: "same" } : {
      kind: "other",
      holds: `another key (${await fingerprint(key.spki)})`,
    };
  } catch {
    return { kind: "other", holds: "no RSA public key" };
  }
}

/**
 * Writes the public key `spki` as PEM at `path` (mode 0644, parent folders
 * made as for a key pair). A file already holding this key is left as it is;
 * any other file is replaced only with `force` (atomically), and a private
 * key never: `--public` pointed at the private key would destroy it.
 *
 * @throws {KeyFileError} if another file is in the way or cannot be written
 */
export async function writePublicKeyFile(
  path: string,
  spki: Uint8Array,
  options: { force: boolean },
): Promise<PublicKeyWrite> {
  const existing = await inspectPublicKeyFile(path, spki);
  switch (existing.kind) {
    case "same":
      return "unchanged";
    case "private":
      throw new KeyFileError(
        `Refusing to overwrite '${path}': it holds a private key (give the public key another path with --public)`,
      );
    case "other":
      if (!options.force) {
        throw new KeyFileError(
          `Refusing to overwrite '${path}': it holds ${existing.holds} (use --force to replace it)`,
        );
      }
      await writeKeyFile(path, publicKeyPem(spki), PUBLIC_KEY_MODE, true);
      return "replaced";
    case "none":
      makeParentDir(path);
      // Exclusive create: a file appearing meanwhile is not clobbered.
      await writeKeyFile(path, publicKeyPem(spki), PUBLIC_KEY_MODE, false);
      return "created";
    default: {
      const unreachable: never = existing;
      return unreachable;
    }
  }
}

/** Whether either file of a key pair exists. */
export async function keyPairExists(
  privatePath: string,
  publicPath: string,
): Promise<boolean> {
  return await pathExists(privatePath) || await pathExists(publicPath);
}

/**
 * Which of `privatePath` and `publicPath` are there already, in a
 * sentence (`what`), and how many (`them` or `it` in what follows); null
 * when neither is.
 */
export async function existingKeyFiles(
  privatePath: string,
  publicPath: string,
): Promise<{ what: string; them: "them" | "it" } | null> {
  const hasPrivate = await pathExists(privatePath);
  const hasPublic = await pathExists(publicPath);
  if (hasPrivate && hasPublic) {
    return {
      what:
        `${privatePath} and ${publicPath} already exist (chat serve uses them as they are)`,
      them: "them",
    };
  }
  if (hasPrivate) {
    return {
      what:
        `${privatePath} already exists (chat keygen --public-from ${privatePath} writes its public key)`,
      them: "it",
    };
  }
  if (hasPublic) return { what: `${publicPath} already exists`, them: "it" };
  return null;
}

/**
 * Why `chat keygen` will not write `privatePath` and `publicPath` without
 * --force, naming the ones there and what to do; null when neither is.
 */
export async function keyPairRefusal(
  privatePath: string,
  publicPath: string,
): Promise<string | null> {
  const existing = await existingKeyFiles(privatePath, publicPath);
  return existing === null ? null : keepingKeysRefusal(existing);
}

/** keyPairRefusal's words for `existing` (existingKeyFiles). */
export function keepingKeysRefusal(
  existing: { what: string; them: "them" | "it" },
): string {
  return `${existing.what}; use --force to replace ${existing.them}`;
}

/**
 * What `chat keygen` says on a terminal before it asks whether to make new
 * keys where `existing` are: what a yes replaces, and what that costs (the
 * server's public key is the one everyone connects with).
 */
export function replacingKeysNote(
  existing: { what: string; them: "them" | "it" },
  publicPath: string,
): string {
  return `${existing.what}. New keys replace ${existing.them}: everyone connecting then needs the new ${
    basename(publicPath)
  }.`;
}

async function readKeyText(path: string, kind: KeyKind): Promise<string> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new KeyFileError(`Cannot read ${kind} key '${path}': not a file`);
    }
    if (info.size > MAX_KEY_FILE_BYTES) {
      throw new KeyFileError(
        `Cannot read ${kind} key '${path}': ${info.size} bytes is too large for a key file`,
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(
      `Cannot read ${kind} key '${path}': ${describeIoError(error, "read")}${
        error instanceof Deno.errors.NotFound ? notFoundHint(kind, path) : ""
      }`,
      { cause: error },
    );
  }
}

function notFoundHint(kind: KeyKind, path: string): string {
  // The path itself: a bare 'chat keygen' makes keys/private.pem, which is
  // not the key a 'chat serve --key /srv/chat/server.pem' looks for.
  const word = /^[\w./:@%+=,-]+$/.test(path) ? path : `"${path}"`;
  return kind === "private"
    ? `. Run 'chat keygen --private ${word}' to create one`
    : ". Get the server's public key file and pass its path with --pub";
}

function unusableKey(
  path: string,
  kind: KeyKind,
  error: unknown,
): KeyFileError {
  const reason = error instanceof KeyFormatError
    ? lowerFirstWord(error.message)
    : String(error);
  return new KeyFileError(`Cannot use ${kind} key '${path}': ${reason}`, {
    cause: error,
  });
}

/** "Not a key" -> "not a key", but "OpenSSH keys" and "RSA key" stay as they are. */
function lowerFirstWord(message: string): string {
  return /^[A-Z][a-z]*\b/.test(message)
    ? message[0]!.toLowerCase() + message.slice(1)
    : message;
}

async function writeKeyFile(
  path: string,
  text: string,
  mode: number,
  force: boolean,
): Promise<void> {
  if (!force) {
    try {
      await Deno.writeTextFile(path, text, { mode, createNew: true });
    } catch (error) {
      throw writeError(path, error);
    }
    return;
  }
  const temporary = `${path}.${toHex(randomBytes(6))}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode, createNew: true });
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw writeError(path, error);
  }
}

function makeParentDir(path: string): void {
  const parent = dirname(path);
  try {
    // A new key folder is the owner's alone (ssh's ~/.ssh is 0700); the
    // public key is handed out by copying it, not by reading it in place.
    createPrivateDir(parent);
  } catch (error) {
    throw new KeyFileError(
      `Cannot create directory '${parent}': ${describeIoError(error, "write")}`,
      { cause: error },
    );
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new KeyFileError(
      `Cannot check '${path}': ${describeIoError(error, "read")}`,
      { cause: error },
    );
  }
}

function refuseOverwrite(path: string): KeyFileError {
  return new KeyFileError(
    `Refusing to overwrite existing '${path}' (use --force)`,
  );
}

function writeError(path: string, error: unknown): KeyFileError {
  if (error instanceof Deno.errors.AlreadyExists) return refuseOverwrite(path);
  return new KeyFileError(
    `Cannot write '${path}': ${describeIoError(error, "write")}`,
    { cause: error },
  );
}
