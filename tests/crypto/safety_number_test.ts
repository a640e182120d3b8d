import assert from "node:assert/strict";
import {
  formatSafetyNumber,
  parseSafetyNumber,
  safetyNumber,
} from "../../src/crypto/safety_number.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";
import VECTORS from "./e2e_vectors.json" with { type: "json" };

const ALICE = await seededIdentity(0x0a);
const BOB = await seededIdentity(0x0b);
const alice = { identityKey: ALICE.publicRaw, nameKey: "alice" };
const bob = { identityKey: BOB.publicRaw, nameKey: "bob" };

Deno.test("safetyNumber reproduces the independent vector, the same from either side", async () => {
  const expected = formatSafetyNumber(VECTORS.safetyNumber);
  assert.equal(await safetyNumber(alice, bob), expected);
  assert.equal(await safetyNumber(bob, alice), expected);
  assert.match(expected, /^(\d{5} ){11}\d{5}$/);
});

Deno.test("safetyNumber changes when either key or name changes", async () => {
  const base = await safetyNumber(alice, bob);
  const other = await seededIdentity(0x0c);
  assert.notEqual(
    await safetyNumber(alice, { ...bob, identityKey: other.publicRaw }),
    base,
  );
  assert.notEqual(
    await safetyNumber({ ...alice, identityKey: other.publicRaw }, bob),
    base,
  );
  assert.notEqual(
    await safetyNumber(alice, { ...bob, nameKey: "bobby" }),
    base,
  );
});

Deno.test("parseSafetyNumber takes 60 digits in any grouping and refuses anything else", () => {
  const digits = VECTORS.safetyNumber;
  assert.equal(parseSafetyNumber(formatSafetyNumber(digits)), digits);
  assert.equal(parseSafetyNumber(digits), digits);
  assert.equal(parseSafetyNumber(digits.slice(1)), null);
  assert.equal(parseSafetyNumber(digits + "1"), null);
  assert.equal(parseSafetyNumber(digits.slice(1) + "x"), null);
});
