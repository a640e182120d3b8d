/**
 * New names and groups created by peers the server tells apart by their
 * whole IPv6 address (address_group.ts: on-link, in its own /64): one
 * student can take as many of those addresses as they like, so what is kept
 * for good is counted by the /64.
 */

import assert from "node:assert/strict";
import { core, Peer } from "../_helpers/core_peer.ts";
import { DEFAULT_ACCOUNT_BUDGETS } from "../../src/server/account_budgets.ts";
import { addressGroup, lastingGroup } from "../../src/server/address_group.ts";

Deno.test("lastingGroup counts an on-link IPv6 peer with its /64, and leaves other groups alone", () => {
  const server = "fd00:1:2:3::10";
  assert.equal(
    lastingGroup(addressGroup("fd00:1:2:3::100", server)),
    "fd00:1:2:3::/64",
  );
  assert.equal(
    lastingGroup(addressGroup("fe80::1%eth0")),
    "fe80:0:0:0::/64%eth0",
  );
  assert.equal(lastingGroup("2001:db8:1:2::/64"), "2001:db8:1:2::/64");
  assert.equal(lastingGroup("192.168.1.20"), "192.168.1.20");
  assert.equal(lastingGroup("not an address"), "not an address");
});

Deno.test("sign-in holds one /64's peers told apart by whole address to its new-name burst together", async () => {
  // In-memory peers are this machine's, which is free of these limits
  // unless told otherwise.
  const { core: server } = await core({
    connectionLimits: { limitNewNamesFromLoopback: true },
  });
  const burst = server.limits.newNameBurstPerAddress;
  const peers: Peer[] = [];
  try {
    const results: string[] = [];
    // Each from its own address of the server's /64, as `ip -6 addr add`
    // gives one student.
    for (let i = 0; i < burst + 5; i++) {
      const group = addressGroup(
        `fd00:1:2:3::${(0x100 + i).toString(16)}`,
        "fd00:1:2:3::10",
      );
      const peer = await Peer.connect(server, group);
      peers.push(peer);
      const reply = await peer.register(`onlink${i}`);
      results.push(reply.t === "error" ? reply.code : reply.t);
    }
    assert.equal(results.filter((t) => t === "welcome").length, burst);
    assert.deepEqual(results.slice(burst), new Array(5).fill("limit"));
  } finally {
    for (const peer of peers) peer.channel.close();
    await server.stop();
  }
});

Deno.test("create holds one /64's peers told apart by whole address to its group-creation budget together", async () => {
  const { core: server } = await core({
    connectionLimits: { limitNewNamesFromLoopback: true },
  });
  const budget = DEFAULT_ACCOUNT_BUDGETS.groupsCreatedPerHourPerAddress;
  const peers: Peer[] = [];
  try {
    const results: string[] = [];
    for (let i = 0; i < budget + 3; i++) {
      const group = addressGroup(
        `fd00:1:2:3::${(0x200 + i).toString(16)}`,
        "fd00:1:2:3::10",
      );
      const peer = await Peer.connect(server, group);
      peers.push(peer);
      assert.equal((await peer.register(`maker${i}`)).t, "welcome");
      const reply = await peer.request({ t: "create", group: `team${i}` });
      results.push(reply.t === "error" ? reply.code : reply.t);
    }
    assert.deepEqual(results, [
      ...new Array(budget).fill("ok"),
      ...new Array(3).fill("limit"),
    ]);
  } finally {
    for (const peer of peers) peer.channel.close();
    await server.stop();
  }
});
