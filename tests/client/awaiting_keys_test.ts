import assert from "node:assert/strict";
import {
  AwaitingKeys,
  UnopenedHistory,
} from "../../src/client/awaiting_keys.ts";

Deno.test("AwaitingKeys says a burst in one line: how many, from whom, where the keys are, what to do", () => {
  const awaiting = new AwaitingKeys();
  assert.equal(awaiting.add("termy"), true);
  assert.equal(awaiting.add("amy"), false);
  assert.equal(awaiting.add("termy"), false);
  assert.equal(
    awaiting.line({ kind: "other_tab" }),
    "3 end-to-end messages from termy and amy wait for your end-to-end keys, which another tab of this browser has: the server keeps them, and they come there, or here once that tab is closed and this one reloaded",
  );
});

Deno.test("AwaitingKeys says a later burst as how many more, from whom, and how many in all", () => {
  const awaiting = new AwaitingKeys();
  awaiting.add("carol");
  assert.equal(
    awaiting.line({ kind: "other_process", pid: 42 }),
    "1 end-to-end message from carol waits for your end-to-end keys, which the chat connect signed in as you (pid 42) has: the server keeps it for it, and it comes here at your next sign-in once it has ended",
  );
  assert.equal(awaiting.add("bob"), true);
  assert.equal(awaiting.add("bob"), false);
  assert.equal(
    awaiting.line({ kind: "other_process", pid: 42 }),
    "2 more end-to-end messages from bob wait for your end-to-end keys (3 in all)",
  );
  assert.equal(awaiting.add("carol"), true);
  assert.equal(
    awaiting.line({ kind: "other_process", pid: 42 }),
    "1 more end-to-end message from carol waits for your end-to-end keys (4 in all)",
  );
});

Deno.test("AwaitingKeys tells a browser that could not open its keys to reload", () => {
  const awaiting = new AwaitingKeys();
  awaiting.add("termy");
  awaiting.add("termy");
  assert.equal(
    awaiting.line({ kind: "unopened" }),
    "2 end-to-end messages from termy wait for your end-to-end keys, which this browser could not open (see the warning after you joined): the server keeps them, and they come once you sign in with them (reload to try again)",
  );
});

Deno.test("AwaitingKeys names three senders at most, and leaves out a pid it does not know", () => {
  const awaiting = new AwaitingKeys();
  for (const name of ["a", "b", "c", "d", "e"]) awaiting.add(name);
  assert.match(
    awaiting.line({ kind: "other_process", pid: null }),
    /^5 end-to-end messages from a, b, c and 2 others wait for your end-to-end keys, which the chat connect signed in as you has:/,
  );
  for (const name of ["a", "b", "c", "d"]) awaiting.add(name);
  assert.match(
    awaiting.line({ kind: "other_process", pid: null }),
    /^4 more end-to-end messages from a, b, c and 1 other wait/,
  );
});

Deno.test("UnopenedHistory says a history answer's end-to-end messages in one line, where the keys are, and nothing about the server keeping them", () => {
  const unopened = new UnopenedHistory();
  assert.equal(unopened.add("termy"), true);
  assert.equal(unopened.add("amy"), false);
  assert.equal(
    unopened.line({ kind: "other_tab" }),
    "2 end-to-end messages from termy and amy in the history could not be opened without your end-to-end keys, which another tab of this browser has",
  );
  // The next answer is a burst of its own, not "more".
  assert.equal(unopened.add("termy"), true);
  assert.equal(
    unopened.line({ kind: "other_process", pid: 42 }),
    "1 end-to-end message from termy in the history could not be opened without your end-to-end keys, which the chat connect signed in as you (pid 42) has",
  );
  unopened.add("termy");
  assert.equal(
    unopened.line({ kind: "unopened" }),
    "1 end-to-end message from termy in the history could not be opened without your end-to-end keys, which this browser could not open (see the warning after you joined; reload to try again)",
  );
});
