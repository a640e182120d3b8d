import assert from "node:assert/strict";
import { addressGroup, isLoopback } from "../../src/server/address_group.ts";

Deno.test("addressGroup keeps an IPv4 address whole", () => {
  assert.equal(addressGroup("192.168.1.20"), "192.168.1.20");
  assert.equal(addressGroup("127.0.0.2"), "127.0.0.2");
});

Deno.test("addressGroup groups IPv6 addresses by their /64", () => {
  const cases: [string, string][] = [
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::1", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["[2001:db8:1:2::7]", "2001:db8:1:2::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    ["1:2:3:4::", "1:2:3:4::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
  ];
  for (const [address, group] of cases) {
    assert.equal(addressGroup(address), group, address);
  }
  // Two hosts of one /64 share a group; the next /64 is another.
  assert.equal(
    addressGroup("2001:db8:1:2:aaaa::1"),
    addressGroup("2001:db8:1:2:bbbb::2"),
  );
  assert.notEqual(
    addressGroup("2001:db8:1:2::1"),
    addressGroup("2001:db8:1:3::1"),
  );
});

Deno.test("addressGroup counts an IPv4-mapped IPv6 address as its IPv4 address", () => {
  assert.equal(addressGroup("::ffff:192.168.1.20"), "192.168.1.20");
  assert.equal(addressGroup("::FFFF:c0a8:0114"), "192.168.1.20");
  assert.equal(addressGroup("0:0:0:0:0:ffff:7f00:1"), "127.0.0.1");
  // Not mapped: a prefix bit is set.
  assert.equal(addressGroup("1::ffff:7f00:1"), "1:0:0:0::/64");
});

Deno.test("addressGroup returns what is not an address unchanged", () => {
  for (
    const text of [
      "",
      "localhost",
      "1:2:3",
      "1::2::3",
      "12345::",
      "::1.2.3.256",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
    ]
  ) {
    assert.equal(addressGroup(text), text, text);
  }
});

Deno.test("addressGroup keeps a link-local IPv6 address whole, with its zone", () => {
  assert.equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1%eth0");
  assert.equal(addressGroup("[FE80::a:1]"), "fe80:0:0:0:0:0:a:1");
  assert.equal(addressGroup("febf::1"), "febf:0:0:0:0:0:0:1");
  // Two peers on one link, or one address on two links, are two groups.
  assert.notEqual(addressGroup("fe80::1%eth0"), addressGroup("fe80::2%eth0"));
  assert.notEqual(addressGroup("fe80::1%eth0"), addressGroup("fe80::1%wlan0"));
  // fec0::/10 is not link-local.
  assert.equal(addressGroup("fec0::1"), "fec0:0:0:0::/64");
});

Deno.test("addressGroup keeps whole the addresses of peers in the server's own /64, and groups the others", () => {
  const local = "2001:db8:1:2::10";
  assert.equal(
    addressGroup("2001:db8:1:2:aaaa::1", local),
    "2001:db8:1:2:aaaa:0:0:1",
  );
  assert.notEqual(
    addressGroup("2001:db8:1:2:aaaa::1", local),
    addressGroup("2001:db8:1:2:bbbb::2", local),
  );
  // Another /64 (the way in from elsewhere) is still one group.
  assert.equal(addressGroup("2001:db8:1:3::1", local), "2001:db8:1:3::/64");
  // A ULA LAN is told apart the same way, as is loopback.
  assert.equal(
    addressGroup("fd00:1:2:3::5", "fd00:1:2:3::1"),
    "fd00:1:2:3:0:0:0:5",
  );
  assert.equal(addressGroup("::1", "::1"), "0:0:0:0:0:0:0:1");
  // An IPv4 server address, or none, changes nothing.
  assert.equal(
    addressGroup("2001:db8:1:2::1", "10.0.0.1"),
    "2001:db8:1:2::/64",
  );
  assert.equal(addressGroup("10.0.0.2", "10.0.0.1"), "10.0.0.2");
  assert.equal(addressGroup("::ffff:10.0.0.2", "::ffff:10.0.0.1"), "10.0.0.2");
});

Deno.test("isLoopback: 127.0.0.0/8, ::1 and IPv4-mapped 127.x, nothing else", () => {
  for (
    const address of [
      "127.0.0.1",
      "127.9.8.7",
      "::1",
      "[::1]",
      "::ffff:127.0.0.1",
      "0:0:0:0:0:0:0:1",
    ]
  ) {
    assert.equal(isLoopback(address), true, address);
  }
  for (
    const address of [
      "10.0.0.1",
      "128.0.0.1",
      "::2",
      "::",
      "fe80::1%lo",
      "::ffff:10.0.0.1",
      "",
      "localhost",
      "127.0.0.1:5000",
      "1270.0.0.1",
    ]
  ) {
    assert.equal(isLoopback(address), false, address);
  }
});
