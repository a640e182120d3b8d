/**
 * The end-to-end state (e2e_state.ts) on disk: `<config
 * folder>/e2e_state_<identity fingerprint>` (base64url), sealed at rest
 * under the storage key (crypto/at_rest.ts, label "e2e_state"), mode 0600,
 * written atomically and synced to the disk after every change, before what
 * changed it is shown or sent.
 */

import { join } from "node:path";
import { openAtRest, sealAtRest } from "../crypto/at_rest.ts";
import { defaultConfigDir } from "../crypto/identity_files.ts";
import type { Identity } from "../crypto/identity.ts";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";
import {
  decodeE2eState,
  type E2eState,
  emptyE2eState,
  encodeE2eState,
} from "./e2e_state.ts";

const LABEL = "e2e_state";
/**
 * The largest state file read. Sessions and the archive (capped by count and
 * size, e2e_state.ts) stay far below it.
 */
export const MAX_E2E_STATE_BYTES = 64 * 1024 * 1024;

/** `<config folder>/e2e_state_<fingerprint>` for an identity. */
export function defaultE2eStatePath(identity: Identity): string {
  const id = identity.fingerprint.replace(/^SHA256:/, "").replaceAll("/", "_")
    .replaceAll("+", "-");
  return join(defaultConfigDir(), `e2e_state_${id}`);
}

/**
 * The state in `path`, or an empty one if there is no file.
 *
 * @throws {Error} with a message for the user if the file cannot be read or
 *   does not open with `storageKey`
 */
export async function loadE2eState(
  path: string,
  storageKey: Uint8Array,
): Promise<E2eState> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_E2E_STATE_BYTES) {
      throw new Error("not a small file");
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return emptyE2eState();
    throw new Error(
      `Cannot read the end-to-end sessions '${path}': ${describe(error)}`,
    );
  }
  try {
    return decodeE2eState(
      new TextDecoder().decode(await openAtRest(storageKey, LABEL, text)),
    );
  } catch (error) {
    throw new Error(
      `Cannot read the end-to-end sessions '${path}': ${
        describe(error)
      }; move it away to start new sessions`,
    );
  }
}

/** Seals and writes the state to `path` (0600, atomically). */
export async function saveE2eState(
  path: string,
  storageKey: Uint8Array,
  state: E2eState,
): Promise<void> {
  const sealed = await sealAtRest(
    storageKey,
    LABEL,
    new TextEncoder().encode(encodeE2eState(state)),
  );
  try {
    // Durable: it is saved before a message key is used, and a state
    // rolled back by a power cut would use that key again (AES-GCM with the
    // same key and nonce for another text).
    await writePrivateFileAtomically(path, sealed, { durable: true });
  } catch (error) {
    throw new Error(
      `Cannot save the end-to-end sessions '${path}': ${describe(error)}`,
      { cause: error },
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
