import assert from "node:assert/strict";
import { olderRecordsLine } from "../../../src/server/cluster/node.ts";

// The first node of a new cluster has nothing to record: it said
// "recorded 0 names bound ..." and "recorded 0 groups made ..." at every
// first start, which a newcomer following the README took for a problem.
Deno.test("olderRecordsLine says nothing when no name or group was recorded, or another node did it", () => {
  assert.equal(olderRecordsLine(0, "name"), null);
  assert.equal(olderRecordsLine(0, "group"), null);
  assert.equal(olderRecordsLine(null, "name"), null);
  assert.equal(olderRecordsLine(null, "group"), null);
});

Deno.test("olderRecordsLine counts the names and groups recorded, one or more", () => {
  assert.equal(
    olderRecordsLine(1, "name"),
    "cluster: recorded 1 name bound before look-alikes were checked across nodes",
  );
  assert.equal(
    olderRecordsLine(3, "group"),
    "cluster: recorded 3 groups made before look-alikes were checked across nodes",
  );
});
