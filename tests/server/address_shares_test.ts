import assert from "node:assert/strict";
import {
  AddressShares,
  CountedBuckets,
  MAX_REPORTED_ADDRESSES,
  MAX_REPORTED_OWNERS,
  MAX_REPORTING_NODES,
  REPORT_STALE_MS,
} from "../../src/server/address_shares.ts";
import { ackWeight, MessageRate } from "../../src/server/message_rate.ts";

Deno.test("AddressShares.report says each address's connections and the tokens taken since the last report, then says nothing once there is nothing left to clear", () => {
  const shares = new AddressShares();
  assert.equal(shares.report(new Map()), null);
  shares.tookHandshake("1.2.3.4");
  shares.tookMessage("1.2.3.4");
  shares.tookMessage("1.2.3.4");
  shares.tookMessage("5.6.7.8");
  assert.deepEqual(shares.report(new Map([["1.2.3.4", 3]])), [
    { group: "1.2.3.4", connections: 3, handshakes: 1, messages: 2 },
    { group: "5.6.7.8", connections: 0, handshakes: 0, messages: 1 },
  ]);
  // The tokens were reported once; the connections are still there.
  assert.deepEqual(shares.report(new Map([["1.2.3.4", 3]])), [
    { group: "1.2.3.4", connections: 3, handshakes: 0, messages: 0 },
  ]);
  // All gone: one empty report clears the others' view, then silence.
  assert.deepEqual(shares.report(new Map()), []);
  assert.equal(shares.report(new Map()), null);
});

Deno.test("AddressShares.report keeps the busiest addresses when there are too many", () => {
  const shares = new AddressShares();
  const connections = new Map<string, number>();
  for (let i = 0; i < MAX_REPORTED_ADDRESSES + 10; i++) {
    connections.set(`10.0.${i >> 8}.${i & 255}`, 1);
  }
  connections.set("9.9.9.9", 50);
  const report = shares.report(connections)!;
  assert.equal(report.length, MAX_REPORTED_ADDRESSES);
  assert.deepEqual(report[0], {
    group: "9.9.9.9",
    connections: 50,
    handshakes: 0,
    messages: 0,
  });
});

Deno.test("AddressShares counts an address's connections on other nodes by their last fresh report, and returns what they took to charge", () => {
  const shares = new AddressShares();
  const charged = shares.receive({
    node: "n1",
    addresses: [
      { group: "1.2.3.4", connections: 2, handshakes: 3, messages: 0 },
      { group: "5.6.7.8", connections: 1, handshakes: 0, messages: 0 },
    ],
  }, 1000);
  assert.deepEqual(charged, [
    { group: "1.2.3.4", connections: 2, handshakes: 3, messages: 0 },
  ]);
  shares.receive({
    node: "n2",
    addresses: [{
      group: "1.2.3.4",
      connections: 4,
      handshakes: 0,
      messages: 0,
    }],
  }, 1500);
  assert.equal(shares.connectionsElsewhere("1.2.3.4", 2000), 6);
  assert.equal(shares.connectionsElsewhere("9.9.9.9", 2000), 0);
  // A newer report replaces its node's last one.
  shares.receive({ node: "n1", addresses: [] }, 2000);
  assert.equal(shares.connectionsElsewhere("1.2.3.4", 2000), 4);
  // A node gone, or silent past the staleness, counts no more.
  shares.nodeGone("n2");
  assert.equal(shares.connectionsElsewhere("1.2.3.4", 2000), 0);
  shares.receive({
    node: "n3",
    addresses: [{
      group: "1.2.3.4",
      connections: 1,
      handshakes: 0,
      messages: 0,
    }],
  }, 3000);
  assert.equal(shares.connectionsElsewhere("1.2.3.4", 3000), 1);
  assert.equal(
    shares.connectionsElsewhere("1.2.3.4", 3001 + REPORT_STALE_MS),
    0,
  );
});

Deno.test("AddressShares keeps at most MAX_REPORTING_NODES nodes' reports with no admission to sweep them: the stale go first, then the oldest", () => {
  const shares = new AddressShares();
  const one = (connections: number) => [{
    group: "1.2.3.4",
    connections,
    handshakes: 0,
    messages: 0,
  }];
  const node = (i: number) => i.toString(16).padStart(32, "0");
  // A node restarted in a loop (a new id each time), or anyone on NATS:
  // ten thousand ids within one second, every one with a connection.
  for (let i = 0; i < 10_000; i++) {
    shares.receive({ node: node(i), addresses: one(1) }, 1000);
    assert.ok(shares.reportingNodes <= MAX_REPORTING_NODES);
  }
  assert.equal(shares.reportingNodes, MAX_REPORTING_NODES);
  // The newest are kept: what counts now is at most the cap's worth.
  assert.equal(
    shares.connectionsElsewhere("1.2.3.4", 1000),
    MAX_REPORTING_NODES,
  );
  // Once those went stale, a live node's report takes the place of all of
  // them, not of only the oldest.
  const later = 1001 + REPORT_STALE_MS;
  shares.receive({ node: "live", addresses: one(5) }, later);
  assert.equal(shares.reportingNodes, 1);
  assert.equal(shares.connectionsElsewhere("1.2.3.4", later), 5);
  // A node that reports again keeps one place.
  shares.receive({ node: "live", addresses: one(2) }, later + 1);
  assert.equal(shares.reportingNodes, 1);
  assert.equal(shares.connectionsElsewhere("1.2.3.4", later + 1), 2);
});

Deno.test("CountedBuckets tells of each token taken, and of none refused or unlimited", () => {
  const took: string[] = [];
  const buckets = new CountedBuckets(1, 2, (key) => took.push(key));
  assert.ok(buckets.take("a", 0));
  assert.ok(buckets.take("a", 0));
  assert.ok(!buckets.take("a", 0));
  assert.deepEqual(took, ["a", "a"]);
  const unlimited = new CountedBuckets(0, 0, (key) => took.push(key));
  assert.ok(unlimited.take("b", 0));
  assert.deepEqual(took, ["a", "a"]);
});

Deno.test("AddressShares reports the new names an address took here, and returns another node's to charge", () => {
  const shares = new AddressShares();
  shares.tookNewName("1.2.3.4");
  shares.tookNewName("1.2.3.4");
  assert.deepEqual(shares.report(new Map()), [
    {
      group: "1.2.3.4",
      connections: 0,
      handshakes: 0,
      messages: 0,
      newNames: 2,
    },
  ]);
  const charged = shares.receive({
    node: "n1",
    addresses: [
      { group: "5.6.7.8", connections: 0, handshakes: 0, messages: 0 },
      {
        group: "1.2.3.4",
        connections: 0,
        handshakes: 0,
        messages: 0,
        newNames: 4,
      },
    ],
  }, 1000);
  assert.deepEqual(charged.map((one) => [one.group, one.newNames]), [
    ["1.2.3.4", 4],
  ]);
});

Deno.test("In a cluster, an ack of many cursors takes its weight from the address's bucket and reports it to the other nodes, not one token", () => {
  // As AddressLimits wires them on a cluster's node.
  const shares = new AddressShares();
  const shared = new CountedBuckets(
    60,
    120,
    (group, tokens) => shares.tookMessage(group, tokens),
  );
  const limits = {
    messagesPerSecond: 20,
    messageBurst: 40,
    historyPerSecond: 1,
    historyBurst: 5,
    historyFreePerConnection: 1,
    floodStrikes: 50,
  };
  const heavy = new MessageRate(limits, shared, "10.0.0.1", 0);
  // 256 cursors: 17 tokens.
  assert.equal(heavy.judge("ack", 0, false, ackWeight(256)), "pass");
  assert.equal(heavy.judge("say", 0), "pass");
  assert.deepEqual(
    shares.report(new Map()),
    [{ group: "10.0.0.1", connections: 0, handshakes: 0, messages: 18 }],
  );
  // 120 - 18 left to the address: a neighbour's 103rd message is refused.
  const neighbour = new MessageRate(
    { ...limits, messageBurst: 200 },
    shared,
    "10.0.0.1",
    0,
  );
  const verdicts = Array.from(
    { length: 103 },
    () => neighbour.judge("say", 0),
  );
  assert.deepEqual(verdicts.slice(0, 102), Array(102).fill("pass"));
  assert.equal(verdicts[102], "slow_down");
});

Deno.test("AddressShares.report says the hourly budgets an address's accounts took since the last report, and receive returns them to charge", () => {
  const shares = new AddressShares();
  shares.tookGroupCreate("1.2.3.4");
  shares.tookGroupJoin("1.2.3.4");
  shares.tookGroupJoin("1.2.3.4");
  shares.tookPrekey("1.2.3.4", "bob");
  shares.tookPrekey("1.2.3.4", "bob");
  shares.tookPrekey("1.2.3.4", "amy");
  const report = shares.report(new Map([["5.6.7.8", 1]]));
  assert.deepEqual(report, [
    { group: "5.6.7.8", connections: 1, handshakes: 0, messages: 0 },
    {
      group: "1.2.3.4",
      connections: 0,
      handshakes: 0,
      messages: 0,
      budgets: { created: 1, joined: 2, prekeys: [["bob", 2], ["amy", 1]] },
    },
  ]);
  assert.deepEqual(
    new AddressShares().receive({ node: "n1", addresses: report! }, 0),
    [report![1]],
  );
  // Said once.
  assert.deepEqual(shares.report(new Map([["5.6.7.8", 1]])), [
    { group: "5.6.7.8", connections: 1, handshakes: 0, messages: 0 },
  ]);
});

Deno.test("AddressShares.report says at most MAX_REPORTED_OWNERS owners' prekeys, all addresses together", () => {
  const shares = new AddressShares();
  for (let i = 0; i < MAX_REPORTED_OWNERS; i++) {
    shares.tookPrekey("1.2.3.4", `u${i}`);
  }
  shares.tookPrekey("5.6.7.8", "bob");
  shares.tookGroupCreate("5.6.7.8");
  const report = shares.report(new Map())!;
  assert.equal(report[0]!.budgets!.prekeys.length, MAX_REPORTED_OWNERS);
  assert.deepEqual(report[1]!.budgets, { created: 1, joined: 0, prekeys: [] });
});
