import assert from "node:assert/strict";
import {
  decodeAddressReport,
  encodeAddressReport,
} from "../../../src/server/cluster/address_report.ts";
import type { AddressReport } from "../../../src/server/address_shares.ts";

const report: AddressReport = {
  node: "n1",
  addresses: [
    { group: "1.2.3.4", connections: 2, handshakes: 1, messages: 7 },
    { group: "2001:db8:1:2::/64", connections: 0, handshakes: 0, messages: 3 },
  ],
};

Deno.test("encodeAddressReport writes the JSON docs/SCALING.md gives, and decodeAddressReport reads it back", () => {
  const bytes = encodeAddressReport(report);
  const json =
    '{"v":1,"node":"n1","a":[["1.2.3.4",2,1,7],["2001:db8:1:2::/64",0,0,3]]}';
  assert.equal(new TextDecoder().decode(bytes), json);
  assert.deepEqual(decodeAddressReport(bytes), report);
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(json), "the example is in the docs");
});

Deno.test("encodeAddressReport leaves out an address a decoder would refuse, not the report", () => {
  const bytes = encodeAddressReport({
    node: "n1",
    addresses: [
      { group: "not an address", connections: 1, handshakes: 0, messages: 0 },
      ...report.addresses,
    ],
  });
  assert.deepEqual(decodeAddressReport(bytes), report);
});

Deno.test("decodeAddressReport refuses bad fields with a TypeError", () => {
  const text = (value: unknown) =>
    new TextEncoder().encode(JSON.stringify(value));
  const bad: [string, Uint8Array][] = [
    ["not JSON", new TextEncoder().encode("{")],
    ["version", text({ v: 2, node: "n1", a: [] })],
    ["node", text({ v: 1, node: "a.b", a: [] })],
    ["list", text({ v: 1, node: "n1", a: {} })],
    ["entry", text({ v: 1, node: "n1", a: [["1.2.3.4", 1, 1]] })],
    ["address", text({ v: 1, node: "n1", a: [["a b", 1, 1, 1]] })],
    ["empty address", text({ v: 1, node: "n1", a: [["", 1, 1, 1]] })],
    ["negative", text({ v: 1, node: "n1", a: [["1.2.3.4", -1, 1, 1]] })],
    ["fraction", text({ v: 1, node: "n1", a: [["1.2.3.4", 1, 0.5, 1]] })],
    [
      "too many",
      text({
        v: 1,
        node: "n1",
        a: Array.from({ length: 4097 }, () => ["1.2.3.4", 1, 1, 1]),
      }),
    ],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeAddressReport(bytes), TypeError, why);
  }
});

Deno.test("decodeAddressReport's error, which a node logs, quotes a version number but never a node's string", () => {
  const text = (value: unknown) =>
    new TextEncoder().encode(JSON.stringify(value));
  assert.throws(
    () => decodeAddressReport(text({ v: 7, node: "n1", a: [] })),
    { name: "TypeError", message: "Address report version 7" },
  );
  try {
    decodeAddressReport(text({ v: "x".repeat(100_000), node: "n1", a: [] }));
    assert.fail("decoded");
  } catch (e) {
    assert.ok(e instanceof TypeError);
    assert.equal(e.message, "Address report has no version number");
  }
});

Deno.test("encodeAddressReport adds the new names an address took as a fifth count, only when it took some; decodeAddressReport reads both", () => {
  const withNames: AddressReport = {
    node: "n1",
    addresses: [
      {
        group: "1.2.3.4",
        connections: 2,
        handshakes: 1,
        messages: 7,
        newNames: 3,
      },
      { group: "5.6.7.8", connections: 1, handshakes: 0, messages: 0 },
    ],
  };
  const bytes = encodeAddressReport(withNames);
  assert.equal(
    new TextDecoder().decode(bytes),
    '{"v":1,"node":"n1","a":[["1.2.3.4",2,1,7,3],["5.6.7.8",1,0,0]]}',
  );
  assert.deepEqual(decodeAddressReport(bytes), withNames);
  assert.throws(
    () =>
      decodeAddressReport(
        new TextEncoder().encode(
          '{"v":1,"node":"n1","a":[["1.2.3.4",2,1,7,-1]]}',
        ),
      ),
    TypeError,
  );
});

Deno.test('encodeAddressReport puts the hourly budgets an address\'s accounts took in "b", as docs/SCALING.md gives; decodeAddressReport reads them back, and a report without them as before', () => {
  const withBudgets: AddressReport = {
    node: "n1",
    addresses: [
      {
        group: "1.2.3.4",
        connections: 2,
        handshakes: 0,
        messages: 5,
        budgets: { created: 1, joined: 2, prekeys: [["bob", 1]] },
      },
      {
        group: "5.6.7.8",
        connections: 0,
        handshakes: 0,
        messages: 0,
        budgets: { created: 0, joined: 0, prekeys: [["amy", 2], ["bob", 1]] },
      },
    ],
  };
  const bytes = encodeAddressReport(withBudgets);
  const json = '{"v":1,"node":"n1","a":[["1.2.3.4",2,0,5],["5.6.7.8",0,0,0]],' +
    '"b":[["1.2.3.4",1,2,[["bob",1]]],["5.6.7.8",0,0,[["amy",2],["bob",1]]]]}';
  assert.equal(new TextDecoder().decode(bytes), json);
  assert.deepEqual(decodeAddressReport(bytes), withBudgets);
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(json), "the example is in the docs");
  // An address in "b" alone still counts (a node trims "a" to its busiest).
  const alone = new TextEncoder().encode(
    '{"v":1,"node":"n1","a":[],"b":[["1.2.3.4",1,0,[]]]}',
  );
  assert.deepEqual(decodeAddressReport(alone).addresses, [{
    group: "1.2.3.4",
    connections: 0,
    handshakes: 0,
    messages: 0,
    budgets: { created: 1, joined: 0, prekeys: [] },
  }]);
});

Deno.test("decodeAddressReport refuses bad budgets with a TypeError", () => {
  const text = (b: unknown) =>
    new TextEncoder().encode(JSON.stringify({ v: 1, node: "n1", a: [], b }));
  const bad: [string, Uint8Array][] = [
    ["list", text({})],
    ["entry", text([["1.2.3.4", 1, 1]])],
    ["address", text([["a b", 1, 1, []]])],
    ["twice", text([["1.2.3.4", 1, 0, []], ["1.2.3.4", 1, 0, []]])],
    ["negative", text([["1.2.3.4", -1, 0, []]])],
    ["prekeys", text([["1.2.3.4", 0, 0, {}]])],
    ["owner", text([["1.2.3.4", 0, 0, [["Bob", 1]]]])],
    ["owner name", text([["1.2.3.4", 0, 0, [["b b", 1]]]])],
    ["owner count", text([["1.2.3.4", 0, 0, [["bob", 0.5]]]])],
    ["owner pair", text([["1.2.3.4", 0, 0, [["bob"]]]])],
    [
      "too many owners",
      text([[
        "1.2.3.4",
        0,
        0,
        Array.from({ length: 4097 }, (_, i) => [`u${i}`, 1]),
      ]]),
    ],
  ];
  for (const [why, bytes] of bad) {
    assert.throws(() => decodeAddressReport(bytes), TypeError, why);
  }
});

Deno.test('encodeAddressReport puts the sign-ins an address made in "s", as docs/SCALING.md gives, only when it made some; decodeAddressReport reads them back, even of an address only there, and refuses a bad list', () => {
  const withSignIns: AddressReport = {
    node: "n1",
    addresses: [
      {
        group: "1.2.3.4",
        connections: 2,
        handshakes: 1,
        messages: 7,
        signIns: 4,
      },
      { group: "5.6.7.8", connections: 1, handshakes: 0, messages: 0 },
    ],
  };
  const bytes = encodeAddressReport(withSignIns);
  const json =
    '{"v":1,"node":"n1","a":[["1.2.3.4",2,1,7],["5.6.7.8",1,0,0]],"s":[["1.2.3.4",4]]}';
  assert.equal(new TextDecoder().decode(bytes), json);
  const docs = Deno.readTextFileSync(
    new URL("../../../docs/SCALING.md", import.meta.url),
  );
  assert.ok(docs.includes(json), "the example is in the docs");
  assert.deepEqual(decodeAddressReport(bytes), withSignIns);
  const text = (value: string) => new TextEncoder().encode(value);
  assert.deepEqual(
    decodeAddressReport(
      text('{"v":1,"node":"n1","a":[],"s":[["9.9.9.9",2]]}'),
    ),
    {
      node: "n1",
      addresses: [{
        group: "9.9.9.9",
        connections: 0,
        handshakes: 0,
        messages: 0,
        signIns: 2,
      }],
    },
  );
  for (
    const bad of [
      '{"v":1,"node":"n1","a":[],"s":{}}',
      '{"v":1,"node":"n1","a":[],"s":[["1.2.3.4"]]}',
      '{"v":1,"node":"n1","a":[],"s":[["1.2.3.4",-1]]}',
      '{"v":1,"node":"n1","a":[],"s":[["1.2.3.4",1],["1.2.3.4",1]]}',
      '{"v":1,"node":"n1","a":[],"s":[["",1]]}',
    ]
  ) {
    assert.throws(() => decodeAddressReport(text(bad)), TypeError, bad);
  }
});
