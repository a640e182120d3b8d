import assert from "node:assert/strict";
import { AwaitingKeys } from "../../src/client/awaiting_keys.ts";

Deno.test("AwaitingKeys says a burst in one line: how many, where the keys are, what to do", () => {
  const awaiting = new AwaitingKeys();
  assert.equal(awaiting.add("private"), true);
  assert.equal(awaiting.add("private"), false);
  assert.equal(awaiting.add("group"), false);
  assert.equal(
    awaiting.line({ kind: "other_tab" }),
    "2 private messages and 1 group message wait for your end-to-end keys, which another tab of this browser has: the server keeps them, and they come there, or here once that tab is closed and this one reloaded",
  );
});

Deno.test("AwaitingKeys says a later burst as how many more, and how many in all", () => {
  const awaiting = new AwaitingKeys();
  awaiting.add("group");
  assert.equal(
    awaiting.line({ kind: "other_process", pid: 42 }),
    "1 group message waits for your end-to-end keys, which the chat connect signed in as you (pid 42) has: the server keeps it for it, and it comes here at your next sign-in once it has ended",
  );
  assert.equal(awaiting.add("private"), true);
  assert.equal(awaiting.add("private"), false);
  assert.equal(
    awaiting.line({ kind: "other_process", pid: 42 }),
    "2 more private messages wait for your end-to-end keys (3 in all)",
  );
  assert.equal(awaiting.add("group"), true);
  assert.equal(
    awaiting.line({ kind: "unopened" }),
    "1 more group message waits for your end-to-end keys (4 in all)",
  );
});

Deno.test("AwaitingKeys tells a browser that could not open its keys to reload", () => {
  const awaiting = new AwaitingKeys();
  awaiting.add("private");
  awaiting.add("private");
  assert.equal(
    awaiting.line({ kind: "unopened" }),
    "2 private messages wait for your end-to-end keys, which this browser could not open (see the warning after you joined): the server keeps them, and they come once you sign in with them (reload to try again)",
  );
});

Deno.test("AwaitingKeys leaves the pid out when it is not known", () => {
  const awaiting = new AwaitingKeys();
  awaiting.add("private");
  assert.match(
    awaiting.line({ kind: "other_process", pid: null }),
    /which the chat connect signed in as you has:/,
  );
});
