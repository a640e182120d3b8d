import assert from "node:assert/strict";
import {
  cameLateLine,
  MAX_UNARRIVED,
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

Deno.test("UnarrivedMessages says the gaps of one sender seen within the grace in one line, another sender's apart", async () => {
  const { said, done, say } = sayings(2);
  const gaps = new UnarrivedMessages({ say, graceMs: 200 });
  // A host that drops every other message: one gap per message that came.
  for (let i = 0; i < 50; i++) {
    gaps.skipped({ from: "alice", group: null }, [`a ${2 * i}`]);
  }
  gaps.skipped({ from: "alice", group: "team" }, ["t 1", "t 2"]);
  assert.deepEqual(await done, [
    "50 messages from alice have not arrived (the server may have held them back)",
    "2 messages from alice in team have not arrived (the server may have held them back)",
  ]);
  // Each is still one said: it comes late.
  assert.equal(gaps.arrived("a 98"), true);
  // A gap seen after the window was said is a line of its own.
  const next = Promise.withResolvers<void>();
  const more = new UnarrivedMessages({
    say: (_source, _count, line) => {
      said.push(line);
      next.resolve();
    },
    graceMs: 0,
  });
  more.skipped({ from: "alice", group: null }, ["b 1"]);
  await next.promise;
  assert.equal(said.at(-1), unarrivedLine({ from: "alice", group: null }, 1));
  gaps.close();
  more.close();
});

Deno.test("UnarrivedMessages counts no message that came and did not open, before or after its gap is seen", async () => {
  const { done, say } = sayings(1);
  const gaps = new UnarrivedMessages({ say, graceMs: 0 });
  gaps.unopened("a 1");
  gaps.skipped({ from: "alice", group: null }, ["a 1", "a 2", "a 3"]);
  gaps.unopened("a 3");
  assert.deepEqual(await done, [
    "1 message from alice has not arrived (the server may have held it back)",
  ]);
  // Not come late: said as not opened, not as not arrived.
  assert.equal(gaps.arrived("a 3"), false);
  gaps.close();
});

Deno.test("UnarrivedMessages still says a gap whose messages were forgotten at the cap before it was due", async () => {
  const said: string[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  const gaps = new UnarrivedMessages({
    say: (source, _count, line) => {
      said.push(line);
      if (source.from === "mallory") resolve();
    },
    graceMs: 0,
  });
  // A host drops one of alice's, then has another sender (one it made)
  // skip enough to push her gap's key out before her line is due.
  gaps.skipped({ from: "alice", group: null }, ["a 1"]);
  gaps.skipped(
    { from: "mallory", group: null },
    Array.from({ length: MAX_UNARRIVED }, (_, i) => `m ${i}`),
  );
  await promise;
  assert.deepEqual(said, [
    unarrivedLine({ from: "alice", group: null }, 1),
    unarrivedLine({ from: "mallory", group: null }, MAX_UNARRIVED),
  ]);
  // Forgotten: its copy, were it to come, is not known to be late.
  assert.equal(gaps.arrived("a 1"), false);
  gaps.close();
});
