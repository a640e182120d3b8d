// This module is browser compatible.

/**
 * The client's end-to-end records kept in a storage port (text_slot.ts):
 * the keyring (keyring_codec.ts) and the sessions, archive and verifications
 * (e2e_state.ts), each sealed at rest under the storage key
 * (crypto/at_rest.ts; docs/PROTOCOL.md 11.9). Shared by the terminal (files:
 * keyring_file.ts, e2e_state_file.ts) and the web page (IndexedDB:
 * web/e2e_store.ts); this module does no I/O of its own.
 *
 * @module
 */

import {
  isSealed,
  openAtRest,
  sealAtRest,
  type StorageKey,
} from "../crypto/at_rest.ts";
import type { Identity } from "../crypto/identity.ts";
import { createKeyring, type Keyring } from "./e2e_keys.ts";
import {
  decodeE2eState,
  type E2eState,
  emptyE2eState,
  encodeE2eState,
  shrinkE2eState,
} from "./e2e_state.ts";
import { decodeKeyring, encodeKeyring } from "./keyring_codec.ts";
import { oneAtATime } from "./one_at_a_time.ts";
import type { TextSlot } from "./text_slot.ts";

/**
 * The largest sealed state kept: the largest state file the terminal
 * reads (e2e_state_file.ts), and the largest record the web page writes
 * (web/e2e_store.ts), both made to fit by `saveE2eStateTo`. Above the most
 * the state holds by construction: every part a peer can grow is capped
 * (e2e_state.ts, group_sessions.ts, e2e_sessions.ts): sessions with at most 1000 peers
 * (MAX_PEER_SESSIONS, about 3.7 MB), 10,000 skipped keys in all, 20,000
 * first-message EKs, 10,000 group chains received (MAX_RECEIVED_CHAINS_IN_ALL,
 * about 3.2 MB) with 10,000 skipped keys, the archives (4,000,000 and
 * 2,000,000 characters, up to six bytes each in JSON, and 5000 messages each),
 * 8 MiB of messages held for /trust and 1000 changed keys waiting for it
 * (e2e_sessions.ts MAX_KEY_CHANGES), and our own chains of 128 groups
 * (group_sessions.ts MAX_OWN_CHAINS, about 2.3 MB). All at once that is
 * about 62 MB of JSON, 83 MB sealed (base64: 4/3), measured by
 * tests/client/e2e_state_test.ts; 64 MiB, the limit before, was below it.
 */
export const MAX_E2E_STATE_BYTES = 96 * 1024 * 1024;

/** The sealed keyring's label (crypto/at_rest.ts). Stable. */
const KEYRING_LABEL = "e2e_keys";
/** The sealed state's label (crypto/at_rest.ts). Stable. */
const STATE_LABEL = "e2e_state";

/**
 * The keyring in `slot` for `identity`; a new one (saved) if there is none
 * or it is another identity's. A keyring kept before it was sealed at rest
 * is read as it is (and sealed at the next save).
 *
 * @throws {Error} with a message for the user if it is unreadable or
 *   corrupt, or a new one cannot be saved
 */
export async function loadKeyringFrom(
  slot: TextSlot,
  identity: Identity,
  storageKey: StorageKey | null = null,
): Promise<Keyring> {
  const text = await slot.read();
  if (text !== null) {
    let keyring: Keyring | null;
    try {
      keyring = await decodeKeyring(
        storageKey !== null && isSealed(text)
          ? new TextDecoder().decode(
            await openAtRest(storageKey, KEYRING_LABEL, text),
          )
          : text,
        identity,
      );
    } catch (error) {
      throw new Error(
        `Cannot read end-to-end keys ${slot.where}: ${
          describe(error)
        }; move it away to start new keys`,
      );
    }
    if (keyring !== null) return keyring;
  }
  const keyring = await createKeyring(identity);
  await saveKeyringTo(slot, keyring, storageKey);
  return keyring;
}

/**
 * `save`, one call at a time, in the order they were made. The keyring and
 * the state are saved from more than one place at once (publishing prekeys
 * beside opening a first message; group and 1:1 sessions): two writes of the
 * same record in flight could land out of order, and the older text win.
 * Each call encodes what it is given when its turn comes, so the last write
 * is of the newest state. A failed save fails its own call only.
 */
export function savesInOrder<T>(
  save: (value: T) => Promise<void>,
): (value: T) => Promise<void> {
  const inTurn = oneAtATime();
  return (value) => inTurn(() => save(value));
}

/** Keeps the keyring in `slot`, sealed under `storageKey` when there is one. */
export async function saveKeyringTo(
  slot: TextSlot,
  keyring: Keyring,
  storageKey: StorageKey | null = null,
): Promise<void> {
  const text = encodeKeyring(keyring);
  try {
    await slot.write(
      storageKey === null ? text : await sealAtRest(
        storageKey,
        KEYRING_LABEL,
        new TextEncoder().encode(text),
      ),
    );
  } catch (error) {
    throw new Error(
      `Cannot save end-to-end keys ${slot.where}: ${describe(error)}`,
      { cause: error },
    );
  }
}

/**
 * The state in `slot`, or an empty one if there is none.
 *
 * @throws {Error} with a message for the user if it cannot be read or does
 *   not open with `storageKey`
 */
export async function loadE2eStateFrom(
  slot: TextSlot,
  storageKey: StorageKey,
): Promise<E2eState> {
  const text = await slot.read();
  if (text === null) return emptyE2eState();
  try {
    return decodeE2eState(
      new TextDecoder().decode(
        await openAtRest(storageKey, STATE_LABEL, text),
      ),
    );
  } catch (error) {
    throw new Error(
      `Cannot read the end-to-end sessions ${slot.where}: ${
        describe(error)
      }; move it away to start new sessions`,
    );
  }
}

/**
 * The most a slot's state may take sealed, and where to say that it was
 * made smaller to fit.
 */
export interface StateBound {
  /** Bytes (the sealed text is ASCII): what the slot reads back. */
  maxBytes: number;
  /** Shows the user a line ("WARNING: ..."). */
  warn: (line: string) => void;
}

/**
 * Seals the state and keeps it in `slot`. With `bound`, a state that would
 * pass it (and so not be read back at the next start: every session lost)
 * is first made smaller in place (e2e_state.ts `shrinkE2eState`) until it
 * fits, the user told once what went.
 *
 * @throws {Error} with a message for the user if it cannot be written, or
 *   still does not fit once nothing is left to drop (the slot then keeps
 *   its old text)
 */
export async function saveE2eStateTo(
  slot: TextSlot,
  storageKey: StorageKey,
  state: E2eState,
  bound?: StateBound,
): Promise<void> {
  let sealed = await sealState(storageKey, state);
  if (bound !== undefined && sealed.length > bound.maxBytes) {
    const dropped = { archived: 0, skipped: 0 };
    while (sealed.length > bound.maxBytes) {
      const step = shrinkE2eState(state);
      if (step === null) {
        throw new Error(
          `Cannot save the end-to-end sessions ${slot.where}: they would take ${sealed.length} bytes, over the ${bound.maxBytes} read back, even without archived messages and keys of skipped ones; the file was left as it was, and what changed since is lost at exit`,
        );
      }
      dropped.archived += step.archived;
      dropped.skipped += step.skipped;
      sealed = await sealState(storageKey, state);
    }
    bound.warn(
      `WARNING: The end-to-end sessions ${slot.where} grew past the ${bound.maxBytes} bytes read back; to keep them readable, dropped ${
        [
          dropped.archived > 0
            ? `the ${dropped.archived} oldest archived messages (/history no longer shows them)`
            : "",
          dropped.skipped > 0
            ? `${dropped.skipped} keys of skipped messages (those messages can no longer be opened)`
            : "",
        ].filter((part) => part !== "").join(" and ")
      }`,
    );
  }
  try {
    await slot.write(sealed);
  } catch (error) {
    throw new Error(
      `Cannot save the end-to-end sessions ${slot.where}: ${describe(error)}`,
      { cause: error },
    );
  }
}

function sealState(storageKey: StorageKey, state: E2eState): Promise<string> {
  return sealAtRest(
    storageKey,
    STATE_LABEL,
    new TextEncoder().encode(encodeE2eState(state)),
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
