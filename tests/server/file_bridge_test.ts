import assert from "node:assert/strict";
import { FileBridge } from "../../src/server/file_bridge.ts";

Deno.test("FileBridge finds a bridged transfer by the sender node's id and by the recipient's, for that recipient only", () => {
  const bridge = new FileBridge();
  const one = bridge.open("n1", 7, 3, 40);
  bridge.open("n1", 7, 4, 41);
  bridge.open("n2", 7, 3, 42);
  assert.equal(bridge.size, 3);
  assert.equal(bridge.fromRemote("n1", 7, 3), one);
  assert.equal(bridge.fromLocal(40, 3), one);
  // Another connection cannot answer about it.
  assert.equal(bridge.fromLocal(40, 4), undefined);
  assert.equal(bridge.fromRemote("n2", 7, 3)?.local, 42);
  bridge.close(one);
  assert.equal(bridge.fromLocal(40, 3), undefined);
  assert.equal(bridge.fromRemote("n1", 7, 3), undefined);
});

Deno.test("FileBridge drops what a connection, or a node, had", () => {
  const bridge = new FileBridge();
  bridge.open("n1", 1, 3, 10);
  bridge.open("n1", 2, 4, 11);
  bridge.open("n2", 3, 3, 12);
  assert.deepEqual(bridge.dropConnection(3).map((b) => b.local), [10, 12]);
  assert.deepEqual(bridge.dropNode("n1").map((b) => b.local), [11]);
  assert.equal(bridge.size, 0);
});
