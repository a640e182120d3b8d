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
  nodes.gone("n1");
  assert.deepEqual(nodes.expire(10_000, 1500), []);
});

Deno.test("NodeLiveness.renewAll gives every known node a TTL from now, never less than it had", () => {
  const nodes = new NodeLiveness();
  nodes.heard("a", 1000);
  nodes.heard("b", 9000);
  nodes.renewAll(5000);
  assert.deepEqual(nodes.expire(6501, 1500), ["a"]);
  assert.deepEqual(nodes.expire(10_000, 1500), []);
});
