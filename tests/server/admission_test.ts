import assert from "node:assert/strict";
import {
  AdmissionPolicy,
  type SocketCounts,
  TOO_MANY_NEW,
} from "../../src/server/admission.ts";

const limits = {
  maxConnections: 10,
  maxConnectionsPerAddress: 4,
  handshakesPerSecond: 10,
  handshakeBurst: 3,
};

Deno.test("AdmissionPolicy.accept lets a burst in, then refuses with a reason at the rate, then drops", () => {
  const policy = new AdmissionPolicy(limits);
  const kinds = Array.from({ length: 8 }, () => policy.accept("10.0.0.1", 0));
  assert.deepEqual(kinds.map((a) => a.kind), [
    "in",
    "in",
    "in",
    "refuse",
    "refuse",
    "refuse",
    "drop",
    "drop",
  ]);
  assert.deepEqual(kinds[3], { kind: "refuse", why: TOO_MANY_NEW });
  // Another address is not held back by this one.
  assert.equal(policy.accept("10.0.0.2", 0).kind, "in");
  // A tenth of a second later, one more handshake token.
  assert.equal(policy.accept("10.0.0.1", 100).kind, "in");
});

Deno.test("AdmissionPolicy.accept with a handshake rate of 0 lets everyone in", () => {
  const policy = new AdmissionPolicy({ ...limits, handshakesPerSecond: 0 });
  for (let i = 0; i < 1000; i++) {
    assert.equal(policy.accept("10.0.0.1", 0).kind, "in");
  }
});

Deno.test("AdmissionPolicy.admit refuses when the server or the address is full, counting the asking socket", () => {
  const policy = new AdmissionPolicy(limits);
  const counts = (total: number, fromGroup: number): SocketCounts => ({
    socketCount: total,
    socketsFrom: () => fromGroup,
  });
  assert.equal(policy.admit(counts(10, 4), "a"), null);
  assert.equal(policy.admit(counts(11, 1), "a"), "the server is full");
  assert.equal(
    policy.admit(counts(5, 5), "a"),
    "too many connections from your address",
  );
});

Deno.test("AdmissionPolicy.charge counts handshakes an address took on another node against its rate here", () => {
  const policy = new AdmissionPolicy(limits);
  policy.charge("10.0.0.1", 3, 0);
  assert.notEqual(policy.accept("10.0.0.1", 0).kind, "in");
  assert.equal(policy.accept("10.0.0.2", 0).kind, "in");
});
