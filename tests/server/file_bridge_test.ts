import assert from "node:assert/strict";
import { FileBridge } from "../../src/server/file_bridge.ts";

Deno.test("FileBridge finds a bridged transfer by the sender node's id and by the recipient's, for that recipient only", () => {
  const bridge = new FileBridge();
  const one = bridge.open("n1", 7, 3, 40, 1000);
  bridge.open("n1", 7, 4, 41, 1000);
  bridge.open("n2", 7, 3, 42, 1000);
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
  bridge.open("n1", 1, 3, 10, 1000);
  bridge.open("n1", 2, 4, 11, 1000);
  bridge.open("n2", 3, 3, 12, 1000);
  assert.deepEqual(bridge.dropConnection(3).map((b) => b.local), [10, 12]);
  assert.deepEqual(bridge.dropNode("n1").map((b) => b.local), [11]);
  assert.equal(bridge.size, 0);
});

Deno.test("FileBridge.chunk takes chunks in order from any first offset (a resume) and names the offset expected after a lost one; end checks the last byte came", () => {
  const bridge = new FileBridge();
  const inOrder = { kind: "in_order" };
  const resumed = bridge.open("n1", 7, 3, 40, 1000);
  assert.deepEqual(bridge.chunk(resumed, 200, 300), inOrder);
  assert.deepEqual(bridge.chunk(resumed, 500, 300), inOrder);
  // The chunk at 800 was lost: the end comes before the last byte.
  assert.deepEqual(bridge.end(resumed), { kind: "lost", expected: 800 });
  const gap = bridge.open("n1", 8, 3, 41, 1000);
  assert.deepEqual(bridge.chunk(gap, 0, 300), inOrder);
  assert.deepEqual(bridge.chunk(gap, 600, 300), {
    kind: "lost",
    expected: 300,
  });
  const whole = bridge.open("n1", 9, 3, 42, 600);
  assert.deepEqual(bridge.chunk(whole, 0, 300), inOrder);
  assert.deepEqual(bridge.chunk(whole, 300, 300), inOrder);
  assert.deepEqual(bridge.end(whole), inOrder);
  // Nothing sent (the recipient held it all already): an end is in order.
  assert.deepEqual(bridge.end(bridge.open("n1", 10, 3, 43, 600)), inOrder);
  // Closed: nothing to check.
  bridge.close(gap);
  assert.deepEqual(bridge.chunk(gap, 5, 1), inOrder);
});

Deno.test("FileBridge: a chunk or an end that comes after the end was passed on is after_end (dropped), not a loss: the recipient may hold the whole file already", () => {
  const bridge = new FileBridge();
  const whole = bridge.open("n1", 9, 3, 42, 600);
  bridge.chunk(whole, 0, 600);
  assert.deepEqual(bridge.end(whole), { kind: "in_order" });
  assert.deepEqual(bridge.chunk(whole, 601, 16), { kind: "after_end" });
  assert.deepEqual(bridge.chunk(whole, 0, 600), { kind: "after_end" });
  assert.deepEqual(bridge.end(whole), { kind: "after_end" });
});

Deno.test("FileBridge.chunk: a chunk after the file's last byte was passed on is after_end even before the end comes (nothing can be missing), and the end is still in order", () => {
  const bridge = new FileBridge();
  const whole = bridge.open("n1", 9, 3, 42, 600);
  assert.deepEqual(bridge.chunk(whole, 0, 300), { kind: "in_order" });
  assert.deepEqual(bridge.chunk(whole, 300, 300), { kind: "in_order" });
  assert.deepEqual(bridge.chunk(whole, 617, 16), { kind: "after_end" });
  assert.deepEqual(bridge.end(whole), { kind: "in_order" });
});
