import assert from "node:assert/strict";
import {
  addToHistory,
  formatHistory,
  parseHistory,
  rememberable,
} from "../../src/client/line_history.ts";

Deno.test("rememberable refuses blank, multi-line and secret-looking lines", () => {
  assert.equal(rememberable("/msg jojo hi"), true);
  assert.equal(rememberable("   "), false);
  assert.equal(rememberable("a\nb"), false);
  assert.equal(rememberable("-----BEGIN PRIVATE KEY-----"), false);
  assert.equal(rememberable("my password: hunter2"), false);
  assert.equal(rememberable("token=abc"), false);
  assert.equal(
    rememberable("key ghp_0123456789abcdefghijklmnopqrstuvwxyzABCD"),
    false,
  );
  assert.equal(rememberable("x".repeat(2001)), false);
});

Deno.test("addToHistory moves a repeated line to the end and caps the size", () => {
  assert.deepEqual(addToHistory(["a", "b"], "a"), ["b", "a"]);
  assert.deepEqual(addToHistory(["a", "b", "c"], "d", 3), ["b", "c", "d"]);
  assert.deepEqual(addToHistory(["a"], "password=x"), ["a"]);
});

Deno.test("parseHistory and formatHistory round-trip, keeping the newest cap lines", () => {
  const lines = ["one", "two", "three"];
  assert.deepEqual(parseHistory(formatHistory(lines)), lines);
  assert.deepEqual(parseHistory("a\r\nb\n\nc\n", 2), ["b", "c"]);
  assert.equal(formatHistory([]), "");
});
