import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { WritePath } from "../../src/server/write_path.ts";

Deno.test("WritePath.commit returns the work's result with its writes committed", () => {
  const store = memoryStore();
  const logs: string[] = [];
  const writes = new WritePath(store, (line) => logs.push(line));
  const result = writes.commit(() => {
    store.ensureUser("Sophia", "sophia", 1);
    return "done";
  }, () => "failed");
  assert.equal(result, "done");
  assert.equal(store.getUser("sophia")?.name, "Sophia");
  assert.deepEqual(logs, []);
  store.close();
});

Deno.test("WritePath.commit undoes a failed unit whole, logs it and answers with the fallback", () => {
  const store = memoryStore();
  const logs: string[] = [];
  const writes = new WritePath(store, (line) => logs.push(line));
  const boom = new Error("disk on fire");
  let seen: unknown;
  const result = writes.commit(() => {
    store.ensureUser("sophia", "sophia", 1);
    store.createGroup("team", "team", "sophia", 1);
    throw boom;
  }, (error) => {
    seen = error;
    return "fallback";
  });
  assert.equal(result, "fallback");
  assert.equal(seen, boom);
  assert.equal(store.getUser("sophia"), undefined);
  assert.equal(store.getGroup("team"), undefined);
  assert.deepEqual(logs, ["store failed: disk on fire"]);
  // The store takes the next unit as if nothing happened.
  assert.equal(
    writes.commit(() => store.ensureUser("jojo", "jojo", 2).name, () => null),
    "jojo",
  );
  store.close();
});

Deno.test("WritePath.commit inside a unit undoes only its own writes when it fails", () => {
  const store = memoryStore();
  const writes = new WritePath(store, () => {});
  writes.commit(() => {
    store.ensureUser("sophia", "sophia", 1);
    writes.commit(() => {
      store.ensureUser("jojo", "jojo", 1);
      throw new Error("inner");
    }, () => undefined);
  }, () => assert.fail("the outer unit must commit"));
  assert.equal(store.getUser("sophia")?.name, "sophia");
  assert.equal(store.getUser("jojo"), undefined);
  store.close();
});

Deno.test("WritePath.commit lets a fallback that throws fail the caller", () => {
  const store = memoryStore();
  store.close();
  const writes = new WritePath(store, () => {});
  assert.throws(
    () =>
      writes.commit(() => store.ensureUser("a", "a", 1), (error) => {
        throw error;
      }),
  );
});
