// This module is browser compatible.

import { MAX_BATCH_BYTES } from "./limits.ts";
import { packBatches } from "./batch_framing.ts";

/**
 * packBatches with a memory of its last few lists: in a busy room every
 * recipient's flush packs the same encoded messages in the same order, and
 * packing them once instead of once per recipient saves a copy of every byte
 * of every delivery. The batches it returns may be shared: never write to
 * or free them. Only lists that pack into one batch are remembered, and only
 * until the current turn's microtasks have run (the flushes of one routed
 * frame run there, one after another), so an idle server keeps none.
 */
export class SharedBatchPacker {
  readonly #recent: {
    messages: readonly Uint8Array[];
    /** Null until a second flush asks for the list ({@link packed}). */
    batches: readonly Uint8Array[] | null;
  }[] = [];
  readonly #forget = () => {
    this.#recent.length = 0;
  };

  constructor(readonly remember = 4, readonly limit = MAX_BATCH_BYTES) {}

  pack(messages: readonly Uint8Array[]): readonly Uint8Array[] {
    // One message is its own batch: nothing to pack, nothing to remember.
    if (messages.length < 2) return packBatches(messages, this.limit);
    const known = this.#find(messages);
    if (known?.batches != null) return known.batches;
    const batches = packBatches(messages, this.limit);
    if (batches.length > 1) return batches;
    if (known !== undefined) known.batches = batches;
    // The list is copied: a caller may reuse its array.
    else this.#remember(messages.slice(), batches);
    return batches;
  }

  /**
   * The batch of `messages` (two or more that fit in one batch) if a flush
   * in this turn asked for the same list before, packed once for all that
   * ask; else null, and the caller packs them itself (into its own frame:
   * `packInto`), and the list is remembered. So a list only one recipient
   * gets (in a room of senders, each gets everyone's messages but its own)
   * is never packed twice. `messages` is kept, not copied: the caller must
   * not change the array afterwards.
   */
  packed(messages: readonly Uint8Array[]): Uint8Array | null {
    const known = this.#find(messages);
    if (known === undefined) {
      this.#remember(messages, null);
      return null;
    }
    known.batches ??= packBatches(messages, this.limit);
    return known.batches.length === 1 ? known.batches[0]! : null;
  }

  #find(messages: readonly Uint8Array[]) {
    for (const entry of this.#recent) {
      if (sameMessages(entry.messages, messages)) return entry;
    }
    return undefined;
  }

  #remember(
    messages: readonly Uint8Array[],
    batches: readonly Uint8Array[] | null,
  ): void {
    if (this.#recent.length === 0) queueMicrotask(this.#forget);
    this.#recent.unshift({ messages, batches });
    if (this.#recent.length > this.remember) this.#recent.pop();
  }
}

function sameMessages(
  a: readonly Uint8Array[],
  b: readonly Uint8Array[],
): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
