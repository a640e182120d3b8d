/**
 * Identity key files on disk: the I/O edge of identity.ts. Every failure
 * becomes an {@link IdentityFileError} whose message names the file and says
 * what to do.
 */

import { posix, win32 } from "node:path";
import {
  generateIdentity,
  type Identity,
  IdentityKeyError,
  importIdentityPem,
} from "./identity.ts";
import { randomBytes, toHex } from "./bytes.ts";
import { createPrivateDir, PRIVATE_FILE_MODE } from "../fs/private_paths.ts";
import { describeIoError } from "../fs/io_errors.ts";

/** No PEM identity file comes near this; anything larger is the wrong file. */
const MAX_IDENTITY_FILE_BYTES = 64 * 1024;

/** The key is a secret: only its owner may read it, or list the folder it is in. */
const IDENTITY_FILE_MODE = PRIVATE_FILE_MODE;

const APP_DIR = "chat";
const IDENTITY_FILE = "identity.pem";

/** Losing the key loses the names bound to it; every message that could lead there says so. */
const REBIND_WARNING =
  "a new identity is refused for names bound to the old one until an operator releases them";

/** An identity file that cannot be read, used or written. */
export class IdentityFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityFileError";
  }
}

export interface CreateIdentityOptions {
  /** Replace an existing identity instead of refusing. */
  force: boolean;
}

/**
 * The folder for the user's chat configuration: `$XDG_CONFIG_HOME/chat` or
 * `~/.config/chat` on Linux and other Unix systems, `~/Library/Application
 * Support/chat` on macOS, `%APPDATA%\chat` on Windows. The parameters exist
 * for tests.
 *
 * @throws {IdentityFileError} if the environment does not say where home is
 */
export function defaultConfigDir(
  os: typeof Deno.build.os = Deno.build.os,
  getEnv: (name: string) => string | undefined = readEnv,
): string {
  if (os === "windows") {
    const appData = getEnv("APPDATA");
    if (appData !== undefined && win32.isAbsolute(appData)) {
      return win32.join(appData, APP_DIR);
    }
    throw new IdentityFileError(
      "Cannot find your configuration folder: %APPDATA% is not set; " +
        "set it or pass --identity PATH",
    );
  }
  const home = getEnv("HOME");
  const homeDir = home !== undefined && posix.isAbsolute(home) ? home : null;
  if (os === "darwin") {
    if (homeDir !== null) {
      return posix.join(homeDir, "Library", "Application Support", APP_DIR);
    }
  } else {
    // The XDG spec says relative values are invalid and must be ignored.
    const xdg = getEnv("XDG_CONFIG_HOME");
    if (xdg !== undefined && posix.isAbsolute(xdg)) {
      return posix.join(xdg, APP_DIR);
    }
    if (homeDir !== null) return posix.join(homeDir, ".config", APP_DIR);
  }
  throw new IdentityFileError(
    "Cannot find your configuration folder: $HOME is not set; " +
      "set it or pass --identity PATH",
  );
}

/** `<config folder>/identity.pem`. */
export function defaultIdentityPath(): string {
  const dir = defaultConfigDir();
  return (Deno.build.os === "windows" ? win32 : posix).join(dir, IDENTITY_FILE);
}

/**
 * Loads the identity at `path`, or creates one there if there is no file yet
 * (with its parent folders, mode 0700, and the file mode 0600).
 *
 * An existing file is never replaced, even if it is unusable: the names bound
 * to the key in it are worth more than a working start. If another process
 * creates the file at the same moment, both end up using the same key.
 *
 * @throws {IdentityFileError} if the file exists but cannot be read or used,
 * or cannot be created
 */
export async function loadOrCreateIdentity(
  path: string,
): Promise<{ identity: Identity; created: boolean }> {
  const existing = await readIdentityText(path);
  if (existing !== null) {
    return {
      identity: await importIdentityFile(path, existing),
      created: false,
    };
  }
  const generated = await generateIdentity();
  makeParentDir(path);
  if (await publishNew(path, generated.privatePem)) {
    return {
      identity: await importIdentityFile(path, generated.privatePem),
      created: true,
    };
  }
  // Lost the race: somebody else's key is there now, and it is the one to use.
  const winner = await readIdentityText(path);
  if (winner === null) {
    throw new IdentityFileError(
      `Cannot create identity '${path}': something is at that path but cannot be read (a broken link, or another program removed it meanwhile); check the path and try again`,
    );
  }
  return { identity: await importIdentityFile(path, winner), created: false };
}

/**
 * Creates a new identity at `path` for `chat keygen --identity`, with parent
 * folders (mode 0700) and the file mode 0600. Without `force` an existing
 * file is never touched; with it the file is replaced atomically, so an
 * interrupted write never leaves a truncated key.
 *
 * @throws {IdentityFileError} if the file exists (without `force`) or cannot be written
 */
export async function createIdentityFile(
  path: string,
  options: CreateIdentityOptions,
): Promise<Identity> {
  const generated = await generateIdentity();
  makeParentDir(path);
  if (options.force) {
    const temporary = temporaryPath(path);
    try {
      await Deno.writeTextFile(temporary, generated.privatePem, {
        mode: IDENTITY_FILE_MODE,
        createNew: true,
      });
      await Deno.rename(temporary, path);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw writeError(path, error);
    }
  } else if (!await publishNew(path, generated.privatePem)) {
    throw new IdentityFileError(
      `Refusing to overwrite existing identity '${path}' (use --force; ${REBIND_WARNING})`,
    );
  }
  return await importIdentityFile(path, generated.privatePem);
}

/**
 * Writes a complete file at `path` only if nothing is there, and says whether
 * it did. The key is written to a temporary file and hard-linked into place:
 * linking fails if the name exists, and a reader racing us never sees a
 * half-written key. Where hard links are not supported, an exclusive create
 * keeps the no-overwrite guarantee.
 */
async function publishNew(path: string, text: string): Promise<boolean> {
  const temporary = temporaryPath(path);
  try {
    await Deno.writeTextFile(temporary, text, {
      mode: IDENTITY_FILE_MODE,
      createNew: true,
    });
  } catch (error) {
    throw writeError(path, error);
  }
  try {
    await Deno.link(temporary, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    try {
      await Deno.writeTextFile(path, text, {
        mode: IDENTITY_FILE_MODE,
        createNew: true,
      });
      return true;
    } catch (fallbackError) {
      if (fallbackError instanceof Deno.errors.AlreadyExists) return false;
      throw writeError(path, fallbackError);
    }
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
}

/** The file's text, or null if there is no file. */
async function readIdentityText(path: string): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new IdentityFileError(
        `Cannot read identity '${path}': not a file; move it away or pass another path with --identity`,
      );
    }
    if (info.size > MAX_IDENTITY_FILE_BYTES) {
      throw new IdentityFileError(
        `Cannot read identity '${path}': ${info.size} bytes is too large for an identity key; ` +
          "check the path given to --identity",
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof IdentityFileError) throw error;
    if (error instanceof Deno.errors.NotFound) return null;
    throw new IdentityFileError(
      `Cannot read identity '${path}': ${describeIoError(error, "read")}`,
      { cause: error },
    );
  }
}

async function importIdentityFile(
  path: string,
  pem: string,
): Promise<Identity> {
  try {
    return await importIdentityPem(pem);
  } catch (error) {
    const reason = error instanceof IdentityKeyError
      ? lowerFirstWord(error.message)
      : String(error);
    throw new IdentityFileError(
      `Cannot use identity '${path}': ${reason}. Restore the file from a backup, ` +
        `or move it away to create a new identity (${REBIND_WARNING})`,
      { cause: error },
    );
  }
}

function makeParentDir(path: string): void {
  const parent = (Deno.build.os === "windows" ? win32 : posix).dirname(path);
  try {
    // Exactly 0700 if created here, whatever the umask.
    createPrivateDir(parent);
  } catch (error) {
    throw new IdentityFileError(
      `Cannot create folder '${parent}' for identity '${path}': ${
        describeIoError(error, "write")
      }`,
      { cause: error },
    );
  }
}

function temporaryPath(path: string): string {
  return `${path}.${toHex(randomBytes(6))}.tmp`;
}

function writeError(path: string, error: unknown): IdentityFileError {
  return new IdentityFileError(
    `Cannot write identity '${path}': ${describeIoError(error, "write")}`,
    { cause: error },
  );
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    throw new IdentityFileError(
      `Cannot find your configuration folder: ${
        error instanceof Deno.errors.NotCapable
          ? "chat was not given access to the environment (--allow-env)"
          : describeIoError(error, "read")
      }; pass --identity PATH`,
      { cause: error },
    );
  }
}

/** "Not a key" -> "not a key", but "Ed25519 key" and "OpenSSH keys" stay as they are. */
function lowerFirstWord(message: string): string {
  return /^[A-Z][a-z]*\b/.test(message)
    ? message[0]!.toLowerCase() + message.slice(1)
    : message;
}
