// This module is browser compatible.

/**
 * The storage port of the client's end-to-end records (the keyring, the
 * sessions and archive, the identity keys seen per name): one text kept
 * under one name. The terminal keeps each in a file (file_slot.ts), the web
 * page in IndexedDB (web/e2e_store.ts); the modules that read and write the
 * records (e2e_store.ts, known_identities.ts) take a slot and do no I/O of
 * their own, so both clients share them.
 *
 * @module
 */

export interface TextSlot {
  /** Names the place in messages for the user: a quoted path, say. */
  readonly where: string;
  /**
   * The text kept, or null when there is none yet.
   *
   * @throws {Error} with a message for the user if it cannot be read
   */
  read(): Promise<string | null>;
  /**
   * Replaces the text, all or nothing (a crash leaves the old text or the
   * new, never a mix).
   *
   * @throws {Error} if it cannot be written
   */
  write(text: string): Promise<void>;
  /**
   * Adds `addition` at the end of the text, which is `whole` then: the text
   * last read, under `exclusively`, with `addition` after it. A line added
   * to a long list costs its own bytes, not the list's. Not all or nothing:
   * a crash may leave part of `addition`, so a caller adds whole lines that
   * a reader skips when cut short. Absent where the text is only ever
   * replaced whole (the caller writes `whole` then).
   *
   * @throws {Error} if it cannot be written, or there is no text yet
   */
  append?(addition: string, whole: string): Promise<void>;
  /**
   * Runs `work` (a read, a decision on what was read, a write) with no
   * other process doing the same to this slot meanwhile: two at once would
   * each decide on the old text, and the later write would drop what the
   * other decided. Absent where one process at a time uses the slot
   * anyway: in memory, or the end-to-end files, whose process holds their
   * lock (e2e_lock.ts).
   *
   * @throws {Error} with a message for the user if the slot cannot be had
   * in time
   */
  exclusively?<T>(work: () => Promise<T>): Promise<T>;
}

/** A slot in memory, for a client with nowhere to keep things, and tests. */
export function memorySlot(where = "memory", text: string | null = null) {
  let kept = text;
  return {
    where,
    read: () => Promise.resolve(kept),
    write: (next: string) => {
      kept = next;
      return Promise.resolve();
    },
  } satisfies TextSlot;
}
