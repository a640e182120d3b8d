import assert from "node:assert/strict";
import { RecentClientIds } from "../../src/store/recent_client_ids.ts";
import {
  SENT_IDS_KEPT,
  SENT_IDS_PER_SENDER,
  SENT_IDS_SENDERS_SURE,
} from "../../src/store/sent_ids.ts";

const at = (id: number) => ({ id, seq: id });

Deno.test("RecentClientIds finds a sender's client id, keeps the first position and tells senders apart", () => {
  const ids = new RecentClientIds(10);
  assert.equal(ids.add("ann", "a1", at(1)), true);
  assert.equal(ids.add("ann", "a1", at(2)), false);
  assert.deepEqual(ids.get("ann", "a1"), at(1));
  assert.equal(ids.get("bob", "a1"), undefined);
  // The key cannot be confused by where one part ends and the next begins.
  ids.add("1b", "a", at(3));
  assert.equal(ids.get("b", "a1"), undefined);
  assert.deepEqual(ids.get("1b", "a"), at(3));
});

Deno.test("RecentClientIds forgets the oldest beyond its capacity only when settled, and says which", () => {
  const ids = new RecentClientIds(3);
  for (let id = 1; id <= 5; id++) ids.add("ann", `c${id}`, at(id));
  // Not settled: a transaction may still be undone, nothing is forgotten.
  assert.equal(ids.size, 5);
  assert.deepEqual(ids.get("ann", "c1"), at(1));
  ids.settle();
  assert.equal(ids.size, 3);
  assert.equal(ids.get("ann", "c1"), undefined);
  assert.equal(ids.get("ann", "c2"), undefined);
  assert.deepEqual(ids.get("ann", "c3"), at(3));
  assert.equal(ids.hasForgotten, true);
  assert.deepEqual(ids.takeForgotten(), [1, 2]);
  assert.equal(ids.hasForgotten, false);
  assert.deepEqual(ids.takeForgotten(), []);
});

Deno.test("RecentClientIds undoes what was added after a mark, as a rolled-back savepoint, and keeps the rest", () => {
  const ids = new RecentClientIds(10);
  ids.add("ann", "kept", at(1));
  const outer = ids.mark();
  ids.add("ann", "outer", at(2));
  const inner = ids.mark();
  ids.add("ann", "inner", at(3));
  // A retry of an id known before the mark adds nothing to undo.
  ids.add("ann", "kept", at(4));
  ids.undoTo(inner);
  assert.equal(ids.get("ann", "inner"), undefined);
  assert.deepEqual(ids.get("ann", "outer"), at(2));
  assert.deepEqual(ids.get("ann", "kept"), at(1));
  ids.undoTo(outer);
  assert.equal(ids.get("ann", "outer"), undefined);
  assert.deepEqual(ids.get("ann", "kept"), at(1));
  // Settled ids are committed: a later undo cannot reach them.
  ids.add("ann", "later", at(5));
  ids.settle();
  ids.undoTo(ids.mark());
  ids.undoTo(0);
  assert.deepEqual(ids.get("ann", "later"), at(5));
});

Deno.test("RecentClientIds refuses to keep none", () => {
  assert.throws(() => new RecentClientIds(0), RangeError);
  assert.throws(() => new RecentClientIds(1.5), RangeError);
});

Deno.test("RecentClientIds keeps each sender's newest, in order, through many forgotten ones, and undoes after that", () => {
  const ids = new RecentClientIds(10);
  for (let id = 1; id <= 3000; id++) {
    ids.add(`user${id % 3}`, `c${id}`, at(id));
    ids.settle();
  }
  assert.equal(ids.size, 10);
  assert.equal(ids.takeForgotten().length, 2990);
  // Three senders in turn: 3 or 4 each, their newest.
  for (let user = 0; user < 3; user++) {
    const kept = [];
    for (let id = 2971; id <= 3000; id++) {
      if (id % 3 !== user) continue;
      const found = ids.get(`user${user}`, `c${id}`);
      if (found !== undefined) kept.push(id);
      assert.equal(found === undefined, kept.length === 0, `id ${id}`);
    }
    assert.ok(kept.length === 3 || kept.length === 4, `user${user}`);
  }
  const mark = ids.mark();
  ids.add("user0", "c3001", at(3001));
  ids.add("user1", "c3002", at(3002));
  ids.undoTo(mark);
  assert.equal(ids.size, 10);
  assert.equal(ids.get("user0", "c3001"), undefined);
  assert.equal(ids.hasForgotten, false);
  ids.add("user2", "c3003", at(3003));
  ids.settle();
  assert.equal(ids.takeForgotten().length, 1);
  assert.equal(ids.size, 10);
  assert.deepEqual(ids.get("user2", "c3003"), at(3003));
});

Deno.test("RecentClientIds: a flooding sender cannot push out a quiet sender's newest ids, and the capacity holds", () => {
  const capacity = 1000;
  const ids = new RecentClientIds(capacity);
  // Ann sends 256 lines, then floods; bob and cat send a few lines now and
  // then; dan sends as much as ann until the level caps him too.
  let next = 1;
  const sent = new Map<string, number[]>();
  const send = (from: string) => {
    const id = next++;
    ids.add(from, `c${id}`, at(id));
    ids.settle();
    if (!sent.has(from)) sent.set(from, []);
    sent.get(from)!.push(id);
    assert.ok(ids.size <= capacity, `${ids.size} kept`);
  };
  for (let i = 0; i < 20; i++) send("bob");
  for (let i = 0; i < 5; i++) send("cat");
  for (let i = 0; i < 100_000; i++) {
    send(i % 3 === 0 ? "dan" : "ann");
    if (i % 10_000 === 0) send("bob");
  }
  const kept = (from: string) =>
    sent.get(from)!.filter((id) => ids.get(from, `c${id}`) !== undefined);
  // The quiet ones keep all they sent, all along.
  assert.deepEqual(kept("bob"), sent.get("bob"));
  assert.deepEqual(kept("cat"), sent.get("cat"));
  // The flooders keep their newest, as many each (one apart at a trim, and
  // what came since), with the rest of the capacity.
  for (const from of ["ann", "dan"]) {
    const mine = sent.get(from)!;
    const newest = kept(from);
    assert.deepEqual(newest, mine.slice(mine.length - newest.length), from);
    assert.ok(newest.length >= 256, `${from} keeps ${newest.length}`);
  }
  assert.ok(
    Math.abs(kept("ann").length - kept("dan").length) <=
      capacity - ids.afterTrim + 1,
  );
  assert.ok(ids.size <= capacity && ids.size >= ids.afterTrim - 1);
  assert.equal(ids.senders, 4);
  assert.equal(ids.takeForgotten().length, next - 1 - ids.size);
});

Deno.test("RecentClientIds lowers the senders holding the most to one level, keeping each one's newest, and gives what is left above it to the newest", () => {
  const ids = new RecentClientIds(10);
  assert.equal(ids.afterTrim, 10);
  let next = 1;
  const add = (from: string, count: number) => {
    for (let i = 0; i < count; i++) ids.add(from, `c${next}`, at(next++));
  };
  add("a", 2); // ids 1-2
  add("b", 6); // 3-8
  add("c", 5); // 9-13
  add("d", 1); // 14
  ids.settle();
  // 14 into 10: a and d keep theirs (below the level), b and c are lowered
  // to 3 and 4: c's next id (10) is newer than b's (5), so c keeps one more.
  assert.equal(ids.size, 10);
  assert.deepEqual(ids.takeForgotten().sort((x, y) => x - y), [3, 4, 5, 9]);
  // More senders than room: the newest ids stay, one a sender.
  const tight = new RecentClientIds(3);
  for (let id = 1; id <= 5; id++) tight.add(`s${id}`, "c", at(id));
  tight.settle();
  assert.deepEqual(tight.takeForgotten().sort((x, y) => x - y), [1, 2]);
  assert.equal(tight.senders, 3);
  assert.deepEqual(tight.get("s3", "c"), at(3));
});

Deno.test("RecentClientIds undoes an add of a sender whose older ids were forgotten, and forgets a sender with none left", () => {
  const ids = new RecentClientIds(2);
  ids.add("ann", "a1", at(1));
  ids.add("ann", "a2", at(2));
  ids.add("ann", "a3", at(3));
  ids.settle();
  assert.deepEqual(ids.takeForgotten(), [1]);
  const mark = ids.mark();
  ids.add("bob", "b4", at(4));
  ids.add("ann", "a5", at(5));
  ids.undoTo(mark);
  assert.equal(ids.senders, 1);
  assert.equal(ids.size, 2);
  assert.deepEqual(ids.get("ann", "a3"), at(3));
  assert.equal(ids.get("ann", "a5"), undefined);
  ids.add("ann", "a6", at(6));
  ids.settle();
  assert.deepEqual(ids.takeForgotten(), [2]);
  assert.deepEqual(ids.get("ann", "a6"), at(6));
});

Deno.test("RecentClientIds at the store's capacity: each of SENT_IDS_SENDERS_SURE senders keeps its last SENT_IDS_PER_SENDER, one of them flooding (docs/PROTOCOL.md 5.9)", () => {
  assert.equal(SENT_IDS_SENDERS_SURE, 384);
  const ids = new RecentClientIds(SENT_IDS_KEPT);
  let next = 1;
  const last = new Map<string, number[]>();
  const send = (from: string) => {
    const id = next++;
    ids.add(from, `c${id}`, at(id));
    ids.settle();
    const mine = last.get(from) ?? [];
    mine.push(id);
    if (mine.length > SENT_IDS_PER_SENDER) mine.shift();
    last.set(from, mine);
  };
  // The others each send more than the promise, in turns, and the flood
  // goes on between them.
  for (let round = 0; round < 2 * SENT_IDS_PER_SENDER; round++) {
    for (let user = 1; user < SENT_IDS_SENDERS_SURE; user++) send(`u${user}`);
    for (let i = 0; i < 500; i++) send("flood");
    assert.ok(ids.size <= SENT_IDS_KEPT);
  }
  assert.equal(ids.senders, SENT_IDS_SENDERS_SURE);
  for (const [from, mine] of last) {
    for (const id of mine) {
      assert.deepEqual(ids.get(from, `c${id}`), at(id), `${from} ${id}`);
    }
  }
});
