// This module is browser compatible.

/**
 * Name keys by skeleton (protocol/name_skeleton.ts), so that the names that
 * look like a new one are found without reading every name the server knows:
 * one map lookup per sign-in with a new name, not one pass over all users.
 */

import { nameKey } from "../protocol/limits.ts";
import { nameSkeleton } from "../protocol/name_skeleton.ts";

export class SkeletonIndex {
  readonly #keys = new Map<string, Set<string>>();

  /** Adds a name (by its name key; adding it twice is harmless). */
  add(name: string): void {
    const skeleton = nameSkeleton(name);
    let keys = this.#keys.get(skeleton);
    if (keys === undefined) this.#keys.set(skeleton, keys = new Set());
    keys.add(nameKey(name));
  }

  /** Removes a name (by its name key); absent names are ignored. */
  delete(name: string): void {
    const skeleton = nameSkeleton(name);
    const keys = this.#keys.get(skeleton);
    if (keys === undefined) return;
    keys.delete(nameKey(name));
    if (keys.size === 0) this.#keys.delete(skeleton);
  }

  /** The name keys that look like `name`, `name`'s own key left out. */
  keysLike(name: string): string[] {
    const own = nameKey(name);
    const keys = this.#keys.get(nameSkeleton(name));
    return keys === undefined ? [] : [...keys].filter((key) => key !== own);
  }
}
