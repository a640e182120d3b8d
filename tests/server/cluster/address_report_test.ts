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
