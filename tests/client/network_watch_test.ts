import assert from "node:assert/strict";
import {
  type InterfaceAddress,
  networkSignature,
  watchNetwork,
} from "../../src/client/network_watch.ts";

const wifi: InterfaceAddress = { name: "wlan0", address: "192.168.1.23" };
const loopback: InterfaceAddress = { name: "lo", address: "127.0.0.1" };

Deno.test("networkSignature ignores loopback addresses and the order interfaces are listed in", () => {
  const v6: InterfaceAddress = { name: "wlan0", address: "fe80::1" };
  assert.equal(
    networkSignature([loopback, wifi, v6]),
    networkSignature([v6, wifi, { name: "lo", address: "::1" }]),
  );
  assert.notEqual(
    networkSignature([wifi]),
    networkSignature([{ name: "wlan0", address: "10.0.0.7" }]),
  );
});

Deno.test("watchNetwork calls back once per change of address, not while nothing changes", async () => {
  let current: InterfaceAddress[] = [loopback, wifi];
  let reads = 0;
  let changes = 0;
  let changed = () => {};
  const stop = watchNetwork(
    () => {
      changes++;
      changed();
    },
    () => {
      reads++;
      return current;
    },
    5,
  );
  try {
    // Several polls with the same addresses: no call.
    while (reads < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(changes, 0);
    const called = new Promise<void>((resolve) => changed = resolve);
    current = [loopback, { name: "wlan0", address: "10.0.0.7" }];
    await called;
    assert.equal(changes, 1);
  } finally {
    stop();
  }
});

Deno.test("watchNetwork does nothing when the interfaces cannot be read", () => {
  let reads = 0;
  const stop = watchNetwork(() => assert.fail("no change to report"), () => {
    reads++;
    return null;
  });
  stop();
  assert.equal(reads, 1);
});
