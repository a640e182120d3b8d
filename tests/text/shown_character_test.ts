import assert from "node:assert/strict";
import { shownCharacter } from "../../src/text/shown_character.ts";
import { invalidUsername, NAME_RULE } from "../../src/protocol/limits.ts";

Deno.test("shownCharacter keeps a letter, digit, punctuation or symbol, and names nothing that draws nothing or changes its neighbours", () => {
  for (const char of ["é", "ö", "\u043E", "😀", "中", "€", "¿"]) {
    assert.equal(shownCharacter(char), char, char);
  }
  for (
    const char of [
      "\u200b",
      "\u202e",
      "\u0301",
      "\x1b",
      "\u00a0",
      "\u2800",
      "\ue000",
    ]
  ) {
    assert.equal(shownCharacter(char), null, JSON.stringify(char));
  }
});

Deno.test("invalidUsername with shownCharacter names the character beside its code point; without it, the code point alone", () => {
  assert.equal(
    invalidUsername("José Luis", shownCharacter),
    `ERROR: Invalid username: ${NAME_RULE}, not 'é' (U+00E9, character 4)`,
  );
  // A look-alike: the code point tells it from the 'o' the rule takes.
  assert.equal(
    invalidUsername("j\u043Ejo", shownCharacter),
    `ERROR: Invalid username: ${NAME_RULE}, not '\u043E' (U+043E, character 2)`,
  );
  assert.equal(
    invalidUsername("a\u200bb", shownCharacter),
    `ERROR: Invalid username: ${NAME_RULE}, not U+200B (character 2)`,
  );
  assert.equal(
    invalidUsername("José Luis"),
    `ERROR: Invalid username: ${NAME_RULE}, not U+00E9 (character 4)`,
  );
});
