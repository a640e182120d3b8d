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
  let high = 0;
  for (const map of maps) {
    if (map.size === 0 || held.has(map)) continue;
    held.add(map);
    total += map.size;
    high = Math.max(high, map.size);
  }
  if (total <= max) return;
  const kept = (level: number) => {
    let sum = 0;
    for (const map of held) sum += Math.min(map.size, level);
    return sum;
  };
  let low = 0;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (kept(mid) <= max) low = mid;
    else high = mid - 1;
  }
  for (const map of held) {
    let excess = map.size - low;
    for (const key of map.keys()) {
      if (excess-- <= 0) break;
      map.delete(key);
    }
  }
}
