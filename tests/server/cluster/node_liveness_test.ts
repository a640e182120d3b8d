import assert from "node:assert/strict";
import { NodeLiveness } from "../../../src/server/cluster/node_liveness.ts";

Deno.test("NodeLiveness.expire gives the nodes not heard from within the TTL, once", () => {
  const nodes = new NodeLiveness();
  nodes.heard("dead", 1000);
  nodes.heard("live", 1000);
  nodes.heard("live", 2500);
  nodes.heard("live", 2000); // late news changes nothing
  assert.deepEqual(nodes.expire(2500, 1500), []);
  assert.deepEqual(nodes.expire(2501, 1500), ["dead"]);
  assert.deepEqual(nodes.expire(2501, 1500), []);
  assert.deepEqual(nodes.expire(4001, 1500), ["live"]);
});

Deno.test("NodeLiveness.known gives a node seen only through its users one TTL, and does not renew a heard one", () => {
  const nodes = new NodeLiveness();
  nodes.known("new", 5000);
  nodes.heard("old", 1000);
  nodes.known("old", 5000);
  assert.deepEqual(nodes.expire(6000, 1500), ["old"]);
  assert.deepEqual(nodes.expire(6501, 1500), ["new"]);
});

Deno.test("NodeLiveness.gone forgets a node that stopped cleanly", () => {
  const nodes = new NodeLiveness();
  nodes.heard("n1", 1000);
  nodes.gone("n1", 1200);
  assert.deepEqual(nodes.expire(10_000, 1500), []);
});

Deno.test("NodeLiveness.isStale: news written before a node's goodbye is stale, news written after it (a restart) is not", () => {
  const nodes = new NodeLiveness();
  nodes.heard("n1", 1000);
  nodes.gone("n1", 1200);
  // A user entry written at 1100 that came after the goodbye, from the
  // other bucket: ignored, so the node is not taken for alive again.
  assert.equal(nodes.isStale("n1", 1100), true);
  assert.equal(nodes.isStale("n1", 1200), true);
  // A later goodbye heard first does not move back.
  nodes.gone("n1", 1150);
  assert.equal(nodes.isStale("n1", 1199), true);
  // Written after the goodbye: the node is back.
  assert.equal(nodes.isStale("n1", 1201), false);
  nodes.heard("n1", 5000);
  assert.deepEqual(nodes.expire(6000, 1500), []);
  assert.deepEqual(nodes.expire(6501, 1500), ["n1"]);
  // A node that never said goodbye has no stale news.
  assert.equal(nodes.isStale("n2", 0), false);
});

Deno.test("NodeLiveness.renewAll gives every known node a TTL from now, never less than it had", () => {
  const nodes = new NodeLiveness();
  nodes.heard("a", 1000);
  nodes.heard("b", 9000);
  nodes.renewAll(5000);
  assert.deepEqual(nodes.expire(6501, 1500), ["a"]);
  assert.deepEqual(nodes.expire(10_000, 1500), []);
});
