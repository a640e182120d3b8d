import assert from "node:assert/strict";
import { addressGroup } from "../../src/server/address_group.ts";

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
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
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
