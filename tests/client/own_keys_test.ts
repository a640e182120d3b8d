import assert from "node:assert/strict";
import {
  notSentWithout,
  type OwnKeys,
  OwnKeysPublisher,
  type Sealed,
} from "../../src/client/own_keys.ts";

const MSG: Sealed = { kind: "msg", to: "jojo" };
const GSAY: Sealed = { kind: "gsay", group: "crew" };
const FILE: Sealed = { kind: "file", target: { to: "jojo" } };

Deno.test("notSentWithout lets everything go once the keys are published", () => {
  for (const sealed of [MSG, GSAY, FILE]) {
    assert.equal(notSentWithout({ kind: "published" }, sealed), null);
  }
});

Deno.test("notSentWithout refuses every kind without published keys, saying what to do", () => {
  const without: OwnKeys[] = [
    { kind: "unpublished", reason: "The server keeps at most 100" },
    { kind: "unopened" },
    { kind: "elsewhere" },
  ];
  for (const keys of without) {
    const texts: (string | null)[] = [MSG, GSAY, FILE].map((sealed) =>
      notSentWithout(keys, sealed)
    );
    assert.deepEqual(
      texts.map((text) => text?.startsWith("ERROR: Not sent: ")),
      [true, true, true],
    );
    assert.match(texts[0]!, /private messages/);
    assert.match(texts[1]!, /group messages/);
    assert.match(texts[2]!, /files/);
  }
  assert.equal(
    notSentWithout({ kind: "unpublished", reason: "the link broke" }, MSG),
    "ERROR: Not sent: your end-to-end keys could not be published (the link broke), and private messages go only once they are, never in the clear. Try again; each try publishes them again",
  );
  assert.equal(
    notSentWithout({ kind: "elsewhere" }, MSG),
    "ERROR: Not sent: private messages go from the tab of this browser that has your end-to-end keys (they come to this one once that tab closes or signs out)",
  );
  assert.equal(
    notSentWithout({ kind: "unopened" }, GSAY),
    "ERROR: Not sent: this browser could not open your end-to-end keys (see the warning after you joined), and group messages never go in the clear from here",
  );
});

/** A publisher whose publishes end when the test says, counted per client. */
function controlled() {
  const calls: { client: object; done: PromiseWithResolvers<void> }[] = [];
  const publisher = new OwnKeysPublisher<object>((client) => {
    const done = Promise.withResolvers<void>();
    calls.push({ client, done });
    return done.promise;
  });
  return { publisher, calls };
}

/** Lets queued reactions run until `calls` has `n` entries (a bounded wait). */
async function untilCalls(calls: unknown[], n: number): Promise<void> {
  for (let turn = 0; turn < 100 && calls.length < n; turn++) {
    await Promise.resolve();
  }
  assert.equal(calls.length, n);
}

Deno.test("OwnKeysPublisher.ready waits for the sign-in's publish, and does not publish again", async () => {
  const { publisher, calls } = controlled();
  const link = {};
  void publisher.start(link);
  let settled: OwnKeys | null = null;
  const ready = publisher.ready(link).then((keys) => (settled = keys));
  // Nothing goes while the publish is under way.
  await untilCalls(calls, 1);
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
  assert.equal(settled, null);
  calls[0]!.done.resolve();
  assert.deepEqual(await ready, { kind: "published" });
  assert.deepEqual(await publisher.ready(link), { kind: "published" });
  assert.equal(calls.length, 1);
});

Deno.test("OwnKeysPublisher.ready publishes again after a failure, once for the sends that waited together", async () => {
  const { publisher, calls } = controlled();
  const link = {};
  const first = publisher.start(link);
  const [a, b] = [publisher.ready(link), publisher.ready(link)];
  await untilCalls(calls, 1);
  calls[0]!.done.reject(
    new Error("ERROR: The server keeps at most 100 one-time keys per user"),
  );
  assert.deepEqual(await first, {
    kind: "unpublished",
    reason: "The server keeps at most 100 one-time keys per user",
  });
  // Both waiting sends share one new attempt.
  await untilCalls(calls, 2);
  calls[1]!.done.resolve();
  assert.deepEqual(await a, { kind: "published" });
  assert.deepEqual(await b, { kind: "published" });
  assert.equal(calls.length, 2);
});

Deno.test("OwnKeysPublisher.ready says why when the new attempt fails too", async () => {
  const { publisher, calls } = controlled();
  const link = {};
  void publisher.start(link);
  await untilCalls(calls, 1);
  calls[0]!.done.reject(new Error("first"));
  const ready = publisher.ready(link);
  await untilCalls(calls, 2);
  calls[1]!.done.reject(new Error("ERROR: Not connected"));
  assert.deepEqual(await ready, {
    kind: "unpublished",
    reason: "Not connected",
  });
});

Deno.test("OwnKeysPublisher.ready publishes on a connection it has not published on", async () => {
  const { publisher, calls } = controlled();
  const [old, next] = [{}, {}];
  void publisher.start(old);
  await untilCalls(calls, 1);
  calls[0]!.done.resolve();
  const ready = publisher.ready(next);
  await untilCalls(calls, 2);
  assert.equal(calls[1]!.client, next);
  calls[1]!.done.resolve();
  assert.deepEqual(await ready, { kind: "published" });
});
