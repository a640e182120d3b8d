import assert from "node:assert/strict";
import { keepAtMost, keepAtMostIn } from "../../src/client/kept_keys.ts";

/** A map of `n` entries, keyed 0 to n - 1 in that order. */
function filled(n: number): Map<number, string> {
  return new Map(Array.from({ length: n }, (_, i) => [i, `key ${i}`]));
}

Deno.test("keepAtMost lowers the maps holding the most to one level, their oldest entries first, and leaves small ones whole", () => {
  const small = filled(3);
  const large = filled(500);
  const larger = filled(900);
  keepAtMost([small, large, larger, large], 203);
  assert.equal(small.size, 3);
  assert.equal(large.size, 100);
  assert.equal(larger.size, 100);
  // The newest are kept.
  assert.deepEqual([...large.keys()].slice(0, 2), [400, 401]);
  assert.ok(larger.has(899) && !larger.has(799));
});

Deno.test("keepAtMost changes nothing within the limit, and keeps at most the limit past it", () => {
  const maps = [filled(10), filled(20)];
  keepAtMost(maps, 30);
  assert.deepEqual(maps.map((m) => m.size), [10, 20]);
  keepAtMost(maps, 7);
  assert.ok(maps[0]!.size + maps[1]!.size <= 7);
  assert.deepEqual(maps.map((m) => m.size), [3, 3]);
});

Deno.test("keepAtMostIn cuts the longest lists to the same length, their oldest (first) entries first", () => {
  const few = [1, 2];
  const many = Array.from({ length: 10 }, (_, i) => i);
  const more = Array.from({ length: 12 }, (_, i) => i);
  keepAtMostIn([few, many, more, many], 10);
  assert.deepEqual(few, [1, 2]);
  assert.deepEqual(many, [6, 7, 8, 9]);
  assert.deepEqual(more, [8, 9, 10, 11]);
});
