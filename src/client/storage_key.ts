/**
 * The storage key that seals the client's end-to-end files at rest
 * (crypto/at_rest.ts; docs/PROTOCOL.md 11.9): 32 random bytes, base64, in
 * `<config folder>/storage_key`, mode 0600, made on first use.
 */

import { join } from "node:path";
import { fromBase64, randomBytes, toBase64 } from "../crypto/bytes.ts";
import { STORAGE_KEY_BYTES } from "../crypto/at_rest.ts";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";

/** `<config folder>/storage_key`. */
export function defaultStorageKeyPath(): string {
  return join(defaultConfigDir(), "storage_key");
}

/**
 * The key in `path`, or a new one saved there.
 *
 * @throws {Error} with a message for the user if the file is not a key or
 *   cannot be read or written
 */
export async function loadOrCreateStorageKey(
  path: string,
): Promise<Uint8Array<ArrayBuffer>> {
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new Error(
        `Cannot read the storage key '${path}': ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
  if (text !== null) {
    let key: Uint8Array<ArrayBuffer> | null = null;
    try {
      key = fromBase64(text.trim());
    } catch {
      key = null;
    }
    if (key === null || key.length !== STORAGE_KEY_BYTES) {
      throw new Error(
        `The storage key '${path}' is damaged: without it the end-to-end sessions and archive cannot be read; move it away to start afresh`,
      );
    }
    return key;
  }
  const key = randomBytes(STORAGE_KEY_BYTES);
  // Written beside it and linked in, which fails if the file is there: two
  // chat connect started at once from one config folder (one OS account,
  // two names) both find none, and the later must not replace the key the
  // other already sealed its files under; it takes that one instead.
  const fresh = `${path}.${toBase64(randomBytes(6)).replaceAll("/", "_")}.new`;
  try {
    await writePrivateFileAtomically(fresh, toBase64(key) + "\n");
    try {
      await Deno.link(fresh, path);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        return await loadOrCreateStorageKey(path);
      }
      // A file system without hard links: renamed in, as before.
      await Deno.rename(fresh, path);
    } finally {
      await Deno.remove(fresh).catch(() => {});
    }
  } catch (error) {
    throw new Error(
      `Cannot save the storage key '${path}': ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  return key;
}
