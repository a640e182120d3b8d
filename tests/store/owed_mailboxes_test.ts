import assert from "node:assert/strict";
import {
  OwedMailboxes,
  waitingRecipients,
} from "../../src/store/owed_mailboxes.ts";

Deno.test("OwedMailboxes counts what waits for each user, by the cost of each message added and taken away", () => {
  const owed = new OwedMailboxes();
  owed.add("a", 100);
  owed.add("a", 300);
  owed.add("b", 50);
  assert.deepEqual(owed.of("a"), { count: 2, bytes: 400 });
  owed.remove("a", 300);
  assert.deepEqual(owed.of("a"), { count: 1, bytes: 100 });
  owed.remove("a", 100);
  assert.deepEqual(owed.of("a"), { count: 0, bytes: 0 }, "gone at zero");
  owed.remove("b", 50);
  assert.deepEqual(owed.of("b"), { count: 0, bytes: 0 });
  owed.remove("nobody", 10);
  assert.deepEqual(owed.of("nobody"), { count: 0, bytes: 0 });
});

Deno.test("OwedMailboxes.fullest names the users owed at least a share of the most, most first, up to a limit", () => {
  const owed = new OwedMailboxes();
  assert.deepEqual(owed.fullest(0.5, 10), []);
  for (
    const [key, bytes] of [["x", 1000], ["y", 600], ["z", 499], [
      "w",
      1000,
    ]] as const
  ) {
    owed.set(key, 1, bytes);
  }
  assert.deepEqual(
    owed.fullest(0.5, 10).map((u) => u.userKey),
    ["x", "w", "y"],
  );
  assert.deepEqual(owed.fullest(0.5, 1).map((u) => u.userKey), ["x"]);
  owed.set("x", 0, 0);
  assert.deepEqual(owed.of("x"), { count: 0, bytes: 0 });
  owed.reset();
  assert.deepEqual(owed.fullest(0.5, 10), []);
});

Deno.test("waitingRecipients: a recipient waits unless delivered, and one listed twice waits only if neither entry is delivered", () => {
  const waits = waitingRecipients([
    { userKey: "a", delivered: false },
    { userKey: "b", delivered: true },
    { userKey: "c", delivered: false },
    { userKey: "c", delivered: true },
    { userKey: "d", delivered: true },
    { userKey: "d", delivered: false },
    { userKey: "e", delivered: false },
    { userKey: "e", delivered: false },
  ]);
  assert.deepEqual(
    [...waits],
    [["a", true], ["b", false], ["c", false], ["d", false], ["e", true]],
  );
  assert.equal(waitingRecipients([]).size, 0);
});
