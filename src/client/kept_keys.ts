// This module is browser compatible.

/**
 * Keys a client keeps for messages it has not read yet (skipped message
 * keys of its ratchet sessions and of the group chains it received), held
 * to one count for all of them together: each session or chain keeps up to
 * 2000, which any peer fills with a few messages, and accounts are free.
 *
 * @module
 */

/**
 * Deletes entries from `maps` until they hold at most `max` together: the
 * maps holding the most are each lowered to the same number (the highest
 * that fits), their oldest entries (first in insertion order) going first,
 * so that a few maps holding many lose them and a map holding a few keeps
 * them. A map listed twice counts once.
 */
export function keepAtMost(
  maps: Iterable<Map<unknown, unknown>>,
  max: number,
): void {
  const held = new Set<Map<unknown, unknown>>();
  let total = 0;
  for (const map of maps) {
    if (map.size === 0 || held.has(map)) continue;
    held.add(map);
    total += map.size;
  }
  if (total <= max) return;
  const low = levelFor([...held].map((map) => map.size), max);
  for (const map of held) {
    let excess = map.size - low;
    for (const key of map.keys()) {
      if (excess-- <= 0) break;
      map.delete(key);
    }
  }
}

/**
 * Removes entries from the front (the oldest) of `lists` until they hold at
 * most `max` together, as {@link keepAtMost} does for maps: the longest are
 * each cut to the same length. A list listed twice counts once.
 */
export function keepAtMostIn(
  lists: Iterable<unknown[]>,
  max: number,
): void {
  const held = new Set<unknown[]>();
  let total = 0;
  for (const list of lists) {
    if (list.length === 0 || held.has(list)) continue;
    held.add(list);
    total += list.length;
  }
  if (total <= max) return;
  const low = levelFor([...held].map((list) => list.length), max);
  for (const list of held) {
    if (list.length > low) list.splice(0, list.length - low);
  }
}

/** The highest level such that `sizes`, each cut to it, sum to `max` or less. */
function levelFor(sizes: number[], max: number): number {
  const kept = (level: number) => {
    let sum = 0;
    for (const size of sizes) sum += Math.min(size, level);
    return sum;
  };
  let low = 0;
  let high = 0;
  for (const size of sizes) high = Math.max(high, size);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (kept(mid) <= max) low = mid;
    else high = mid - 1;
  }
  return low;
}
