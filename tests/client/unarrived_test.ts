import assert from "node:assert/strict";
import {
  cameLateLine,
  unarrivedLine,
  UnarrivedMessages,
} from "../../src/client/unarrived.ts";

/** Resolves with the lines said, once `count` were. */
function sayings(count: number) {
  const said: string[] = [];
  const { promise, resolve } = Promise.withResolvers<string[]>();
  const say = (_source: unknown, _count: number, line: string) => {
    said.push(line);
    if (said.length === count) resolve(said);
  };
  return { said, done: promise, say };
}

Deno.test("UnarrivedMessages says one line per gap for the messages that did not come in time", async () => {
  const { done, say } = sayings(2);
  const gaps = new UnarrivedMessages({ say, graceMs: 0 });
  gaps.skipped({ from: "alice", group: null }, ["a 1", "a 2", "a 3"]);
  // One came in time: not counted.
  assert.equal(gaps.arrived("a 2"), false);
  gaps.skipped({ from: "carol", group: "team" }, ["c 7"]);
  assert.deepEqual(await done, [
    "2 messages from alice have not arrived (the server may have held them back)",
    "1 message from carol in team has not arrived (the server may have held it back)",
  ]);
  // Come after the line: late.
  assert.equal(gaps.arrived("a 3"), true);
  assert.equal(gaps.arrived("a 3"), false);
  gaps.close();
});

Deno.test("UnarrivedMessages says nothing of a gap filled in time, nor after close", () => {
  const said: string[] = [];
  const gaps = new UnarrivedMessages({
    say: (_source, _count, line) => said.push(line),
  });
  gaps.skipped({ from: "alice", group: null }, ["a 1"]);
  gaps.skipped({ from: "alice", group: null }, ["a 1"]); // seen before
  assert.equal(gaps.arrived("a 1"), false);
  gaps.skipped({ from: "bob", group: null }, ["b 1"]);
  // Its timer is cleared: the test's leak check would fail otherwise.
  gaps.close();
  assert.deepEqual(said, []);
});

Deno.test("unarrivedLine and cameLateLine never say a message was withheld", () => {
  for (const group of [null, "team"]) {
    for (const count of [1, 2]) {
      assert.doesNotMatch(
        unarrivedLine({ from: "alice", group }, count),
        /withheld/,
      );
    }
    assert.doesNotMatch(cameLateLine({ from: "alice", group }), /withheld/);
  }
});
