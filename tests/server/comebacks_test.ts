import assert from "node:assert/strict";
import { COMEBACK_WINDOW_MS, Comebacks } from "../../src/server/comebacks.ts";

/** Takes a comeback for each name that may have one; the names that did. */
function comeBack(
  comebacks: Comebacks,
  group: string,
  names: readonly string[],
  now: number,
): string[] {
  return names.filter((name) => {
    if (!comebacks.may(group, name, now)) return false;
    comebacks.take(group, name, now);
    return true;
  });
}

Deno.test("Comebacks lets each name of an address come back once per window", () => {
  const comebacks = new Comebacks(64);
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 0), ["sophia"]);
  // A name signed in and out in a loop pays the sign-in rate after that.
  assert.deepEqual(comeBack(comebacks, "a", ["sophia"], 1000), []);
  // Another address's sophia is another person.
  assert.deepEqual(comeBack(comebacks, "b", ["sophia"], 1000), ["sophia"]);
  assert.deepEqual(
    comeBack(comebacks, "a", ["sophia"], COMEBACK_WINDOW_MS),
    ["sophia"],
  );
});

Deno.test("Comebacks lets as many names of an address back at once as it may hold connections, then a window's worth", () => {
  const comebacks = new Comebacks(3);
  const names = ["a1", "a2", "a3", "a4", "a5"];
  assert.deepEqual(comeBack(comebacks, "a", names, 0), ["a1", "a2", "a3"]);
  // A third of the window gives one back.
  assert.deepEqual(
    comeBack(comebacks, "a", names, COMEBACK_WINDOW_MS / 3),
    ["a4"],
  );
});

Deno.test("Comebacks with no connection limit per address lets none back free", () => {
  assert.deepEqual(comeBack(new Comebacks(0), "a", ["sophia"], 0), []);
});
