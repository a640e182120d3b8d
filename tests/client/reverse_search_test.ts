import assert from "node:assert/strict";
import {
  eraseInSearch,
  findBackward,
  searchLine,
  searchOlder,
  searchPrompt,
  startSearch,
  typeInSearch,
} from "../../src/client/reverse_search.ts";

const history = ["/msg jojo hi", "hello all", "/msg jojo lunch?", "bye"];

Deno.test("findBackward finds the newest line before an index containing the query", () => {
  assert.equal(findBackward(history, "jojo", history.length), 2);
  assert.equal(findBackward(history, "jojo", 2), 0);
  assert.equal(findBackward(history, "nothing", 4), null);
});

Deno.test("reverse search narrows as keys are typed, goes older with Ctrl-R, fails visibly", () => {
  let s = startSearch();
  assert.equal(searchPrompt(s), "(reverse-i-search)'': ");
  s = typeInSearch(history, s, "j");
  assert.equal(s.match, 2);
  s = typeInSearch(history, s, "ojo");
  assert.equal(searchLine(history, s, "typed"), "/msg jojo lunch?");
  s = searchOlder(history, s);
  assert.equal(searchLine(history, s, "typed"), "/msg jojo hi");
  s = searchOlder(history, s);
  assert.equal(s.failed, true);
  assert.equal(s.match, 0, "the last match stays shown");
  assert.equal(searchPrompt(s), "(failed reverse-i-search)'jojo': ");
  s = typeInSearch(history, startSearch(), "zz");
  assert.equal(searchLine(history, s, "typed"), "typed");
  s = eraseInSearch(history, s);
  assert.equal(s.query, "z");
  s = eraseInSearch(history, s);
  assert.deepEqual(s, startSearch());
});
