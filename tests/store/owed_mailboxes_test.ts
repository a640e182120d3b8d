import assert from "node:assert/strict";
import {
  MAX_SENDERS_FOLLOWED,
  OwedMailboxes,
  waitingRecipients,
} from "../../src/store/owed_mailboxes.ts";

Deno.test("OwedMailboxes counts what waits for each user, by the cost of each message added and taken away", () => {
  const owed = new OwedMailboxes();
  owed.add("a", 100, "s");
  owed.add("a", 300, "t");
  owed.add("b", 50, "s");
  assert.deepEqual(owed.of("a"), { count: 2, bytes: 400 });
  owed.remove("a", 300, "t");
  assert.deepEqual(owed.of("a"), { count: 1, bytes: 100 });
  owed.remove("a", 100, "s");
  assert.deepEqual(owed.of("a"), { count: 0, bytes: 0 }, "gone at zero");
  owed.remove("b", 50, "s");
  assert.deepEqual(owed.of("b"), { count: 0, bytes: 0 });
  owed.remove("nobody", 10, "s");
  assert.deepEqual(owed.of("nobody"), { count: 0, bytes: 0 });
});

Deno.test("OwedMailboxes.heaviestSender names who sent the user the most bytes of what waits, as messages come and go", () => {
  const owed = new OwedMailboxes();
  assert.equal(owed.heaviestSender("bob"), undefined);
  owed.add("bob", 500, "alice");
  owed.add("bob", 500, "alice");
  owed.add("bob", 400, "mallory");
  assert.equal(owed.heaviestSender("bob"), "alice");
  owed.addFrom("bob", "mallory", 3, 1200);
  assert.equal(owed.heaviestSender("bob"), "mallory");
  assert.deepEqual(owed.of("bob"), { count: 6, bytes: 2600 });
  for (let i = 0; i < 4; i++) owed.remove("bob", 400, "mallory");
  assert.equal(owed.heaviestSender("bob"), "alice", "mallory's are gone");
  owed.clear("bob");
  assert.equal(owed.heaviestSender("bob"), undefined);
  assert.deepEqual(owed.of("bob"), { count: 0, bytes: 0 });
});

Deno.test("OwedMailboxes follows a few senders per user from their first message, and asks for the store to be read again once one not followed may have sent more", () => {
  const owed = new OwedMailboxes();
  owed.add("bob", 100, "alice");
  for (let i = 0; i < 4 * MAX_SENDERS_FOLLOWED; i++) {
    owed.add("bob", 1000, "mallory");
    owed.add("bob", 900, `sock${i}`);
  }
  assert.equal(owed.heaviestSender("bob"), "mallory");
  assert.deepEqual(owed.of("bob"), {
    count: 1 + 8 * MAX_SENDERS_FOLLOWED,
    bytes: 100 + 4 * MAX_SENDERS_FOLLOWED * 1900,
  });
  for (let i = 0; i < 4 * MAX_SENDERS_FOLLOWED; i++) {
    owed.remove("bob", 1000, "mallory");
  }
  // The socks not followed sent more than any one followed may have.
  assert.equal(owed.heaviestSender("bob"), undefined);
  // Read again, the heaviest first: the rest is bounded by the heaviest.
  owed.clear("bob");
  owed.addFrom("bob", "sock0", 2, 1800);
  for (let i = 1; i < MAX_SENDERS_FOLLOWED; i++) {
    owed.addFrom("bob", `sock${i}`, 1, 900);
  }
  owed.addFrom("bob", null, 20, 18_000, 900);
  assert.equal(owed.heaviestSender("bob"), "sock0");
  assert.equal(owed.of("bob").count, 2 + (MAX_SENDERS_FOLLOWED - 1) + 20);
});

Deno.test("OwedMailboxes does not lose a flood sent in turns from two accounts once eight others are followed", () => {
  // Each new sender took the place of the lightest: mallory and mallory2
  // pushed each other out at every message, and a friend was the heaviest.
  const owed = new OwedMailboxes();
  for (let i = 0; i < MAX_SENDERS_FOLLOWED; i++) {
    owed.add("bob", 500, `friend${i}`);
    owed.add("bob", 500, `friend${i}`);
  }
  for (let i = 0; i < 100; i++) {
    owed.add("bob", 500, i % 2 === 0 ? "mallory" : "mallory2");
  }
  assert.equal(owed.heaviestSender("bob"), undefined, "read the store again");
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
    owed.addFrom(key, "s", 1, bytes);
  }
  assert.deepEqual(
    owed.fullest(0.5, 10).map((u) => u.userKey),
    ["x", "w", "y"],
  );
  assert.deepEqual(owed.fullest(0.5, 1).map((u) => u.userKey), ["x"]);
  owed.clear("x");
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
