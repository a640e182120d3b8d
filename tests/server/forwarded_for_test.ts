import assert from "node:assert/strict";
import { ipLiteral } from "../../src/server/address_group.ts";
import {
  forwardedClient,
  forwardedProto,
  TrustedProxies,
} from "../../src/server/forwarded_for.ts";

Deno.test("ipLiteral gives one form per IP address and null for anything else", () => {
  const same: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"],
    ["2001:DB8::7", "2001:db8:0:0:0:0:0:7"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::ffff:7f00:1", "127.0.0.1"],
  ];
  for (const [text, form] of same) assert.equal(ipLiteral(text), form, text);
  for (
    const text of [
      "",
      "localhost",
      "unknown",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.4:80",
      "[::1]",
      "[::1]:80",
      "fe80::1%eth0",
      "1::2::3",
      " 1.2.3.4",
      "1.2.3.4/32",
    ]
  ) {
    assert.equal(ipLiteral(text), null, JSON.stringify(text));
  }
});

Deno.test("TrustedProxies knows a proxy by any spelling of its address, and refuses what is not one", () => {
  const proxies = new TrustedProxies(["127.0.0.1", "::1"]);
  assert.equal(proxies.size, 2);
  assert.ok(proxies.has("127.0.0.1"));
  // How a socket on a dual-stack listener names an IPv4 peer.
  assert.ok(proxies.has("::ffff:127.0.0.1"));
  assert.ok(proxies.has("0:0:0:0:0:0:0:1"));
  assert.ok(!proxies.has("127.0.0.2"));
  assert.ok(!proxies.has("192.168.1.20"));
  assert.ok(!proxies.has(""));
  assert.throws(
    () => new TrustedProxies(["localhost"]),
    /'localhost' is not an IP address/,
  );
});

Deno.test("forwardedClient takes the right-most X-Forwarded-For entry that is not a trusted proxy", () => {
  const proxies = new TrustedProxies(["127.0.0.1", "10.0.0.2"]);
  const cases: [string | string[], string][] = [
    ["192.168.1.23", "192.168.1.23"],
    [" 192.168.1.23 ", "192.168.1.23"],
    // What the client wrote itself comes first; nginx appends its peer.
    ["6.6.6.6, 192.168.1.23", "192.168.1.23"],
    // A proxy behind another: their own entries are skipped.
    ["192.168.1.23, 10.0.0.2", "192.168.1.23"],
    ["6.6.6.6,192.168.1.23,10.0.0.2,127.0.0.1", "192.168.1.23"],
    // Garbage left of the client's entry is never read.
    ["not an address, [::1]:80, 192.168.1.23", "192.168.1.23"],
    ["2001:db8::23", "2001:db8::23"],
    // Several headers, as a list.
    [["6.6.6.6", "192.168.1.23"], "192.168.1.23"],
    // Only proxies: the left-most is the client (as nginx reads it).
    ["10.0.0.2, 127.0.0.1", "10.0.0.2"],
  ];
  for (const [header, client] of cases) {
    assert.deepEqual(
      forwardedClient(header, proxies),
      { kind: "client", address: client },
      JSON.stringify(header),
    );
  }
  assert.deepEqual(forwardedClient(undefined, proxies), { kind: "none" });
});

Deno.test("forwardedClient refuses an X-Forwarded-For whose client entry is not an IP address, quoting it safely", () => {
  const proxies = new TrustedProxies(["127.0.0.1"]);
  const cases: [string, RegExp][] = [
    ["unknown", /names 'unknown' where the client's address should be/],
    ["192.168.1.23:4567", /'192\.168\.1\.23:4567'.*not an IP address/],
    ["[2001:db8::1]", /'\[2001:db8::1\]'/],
    ["1.2.3.4, example.org, 127.0.0.1", /'example\.org'/],
    ["", /an empty entry/],
    ["1.2.3.4,", /an empty entry/],
    ["1.2.3.4, , 127.0.0.1", /an empty entry/],
    ["\u00e9vil\u0007", /names '\?vil\?'/],
    ["x".repeat(500), /names 'x{64}\.\.\.'/],
  ];
  for (const [header, why] of cases) {
    const forwarded = forwardedClient(header, proxies);
    assert.equal(forwarded.kind, "invalid", JSON.stringify(header));
    if (forwarded.kind !== "invalid") continue;
    assert.match(forwarded.why, why, JSON.stringify(header));
  }
});

Deno.test("forwardedProto reads one https or http in any case, and nothing when there is no header", () => {
  assert.deepEqual(forwardedProto(undefined), { kind: "none" });
  for (const header of ["https", "HTTPS", " Https ", ["https"]]) {
    assert.deepEqual(forwardedProto(header), { kind: "proto", secure: true });
  }
  for (const header of ["http", "HTTP", ["http"]]) {
    assert.deepEqual(forwardedProto(header), { kind: "proto", secure: false });
  }
});

Deno.test("forwardedProto refuses anything but exactly one https or http, quoting it safely", () => {
  const cases: [string | string[], RegExp][] = [
    ["", /^X-Forwarded-Proto is empty where https or http should be$/],
    ["https, http", /^X-Forwarded-Proto names 'https, http' where https/],
    [["https", "https"], /names 'https,https'/],
    ["wss", /names 'wss'/],
    ["https;", /names 'https;'/],
    ["\u00e9vil\u0007", /names '\?vil\?'/],
    ["x".repeat(500), /names 'x{64}\.\.\.'/],
  ];
  for (const [header, why] of cases) {
    const proto = forwardedProto(header);
    assert.equal(proto.kind, "invalid", JSON.stringify(header));
    if (proto.kind !== "invalid") continue;
    assert.match(proto.why, why, JSON.stringify(header));
  }
});
