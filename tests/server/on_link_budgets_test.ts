/**
 * New names, groups created and joined, and one-time keys taken by peers
 * the server tells apart by their whole IPv6 address (address_group.ts:
 * on-link, in its own /64): one student can take as many of those
 * addresses as they like, so what is kept (or used up) for good is counted
 * by the /64.
 */

import assert from "node:assert/strict";
import { core, Peer } from "../_helpers/core_peer.ts";
import { DEFAULT_ACCOUNT_BUDGETS } from "../../src/server/account_budgets.ts";
import { addressGroup, lastingGroup } from "../../src/server/address_group.ts";
import { ChatClient } from "../../src/client/chat_client.ts";
import { fetchBundle } from "../../src/client/e2e_keys.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { e2ePeer } from "../_helpers/e2e_peer.ts";
import { DEFAULT_CONNECTION_LIMITS } from "../../src/server/config.ts";

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

/**
 * A reverse proxy on loopback in front of a server on `[::1]:serverPort`,
 * as nginx is: each connection's request gets `X-Forwarded-For` naming
 * the next of `clients`, then bytes pass both ways. Behind `--trusted-proxy
 * ::1`, a client `::a:N` is in the /64 of the address the proxy reached
 * (::1): an on-link peer, told apart by its whole address.
 */
function forwardingProxy(
  serverPort: number,
  clients: Iterator<string>,
): AsyncDisposable & { url: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const relays: Promise<unknown>[] = [];
  const relay = async (conn: Deno.Conn) => {
    open.add(conn);
    let head = new Uint8Array(0);
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const chunk = new Uint8Array(16 * 1024);
      const n = await conn.read(chunk);
      if (n === null) return;
      head = new Uint8Array([...head, ...chunk.subarray(0, n)]);
      text = new TextDecoder().decode(head);
    }
    const line = text.indexOf("\r\n");
    const upstream = await Deno.connect({ hostname: "::1", port: serverPort });
    open.add(upstream);
    const client = clients.next().value;
    await upstream.write(
      new TextEncoder().encode(
        `${text.slice(0, line)}\r\nX-Forwarded-For: ${client}${
          text.slice(line)
        }`,
      ),
    );
    await Promise.all([
      conn.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(conn.writable).catch(() => {}),
    ]);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      relays.push(relay(conn).catch(() => {}));
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `ws://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Closed by its pipe.
        }
      }
      await Promise.all(relays);
    },
  };
}

/** `::a:100`, `::a:101`, ...: one student's addresses, one per connection. */
function* studentAddresses(): Generator<string> {
  for (let i = 0x100;; i++) yield `::a:${i.toString(16)}`;
}

Deno.test("a served /64's peers told apart by whole address join groups and take one user's one-time keys on one budget together", async () => {
  const joins = 3;
  const keysOfOne = 2;
  await using server = await startTestServer({
    hostname: "::1",
    trustedProxies: ["::1"],
    limits: {
      groupsJoinedPerHourPerAddress: joins,
      oneTimeKeysPerHourPerOwnerPerAddress: keysOfOne,
    },
  });
  // bob on the server's own machine (not held to these budgets).
  const bob = await e2ePeer(
    { ...server, url: `ws://[::1]:${server.port}` },
    "bob",
  );
  await using proxy = forwardingProxy(server.port, studentAddresses());
  const students: ChatClient[] = [];
  try {
    assert.equal(
      (await bob.client.request({ t: "create", group: "team" })).t,
      "ok",
    );
    const joined: string[] = [];
    const keys: number[] = [];
    for (let i = 0; i < joins + 3; i++) {
      const student = await ChatClient.connect(proxy.url, {
        pinnedSpki: server.spki,
      });
      students.push(student);
      const welcome = await student.register(`s${i}`, await testIdentity());
      assert.equal(welcome.t, "welcome", JSON.stringify(welcome));
      const reply = await student.request({ t: "join", group: "team" });
      joined.push(reply.t === "error" ? reply.code : reply.t);
      keys.push((await fetchBundle(student, "bob")).bundle.oneTime.length);
    }
    assert.deepEqual(joined, [
      ...new Array(joins).fill("ok"),
      ...new Array(3).fill("limit"),
    ]);
    assert.deepEqual(keys, [
      ...new Array(keysOfOne).fill(1),
      ...new Array(joins + 3 - keysOfOne).fill(0),
    ]);
  } finally {
    for (const student of students) await student.quit();
    await bob.client.quit();
  }
});

Deno.test("a served /64's peers told apart by whole address sign in on one budget together: each sign-in is a line on everyone's screen", async () => {
  await using server = await startTestServer({
    hostname: "::1",
    trustedProxies: ["::1"],
  });
  const burst = DEFAULT_CONNECTION_LIMITS.signInBurstPerAddress;
  await using proxy = forwardingProxy(server.port, studentAddresses());
  // Five names of one student, each signing in and out from a new address.
  const identities = await Promise.all(
    Array.from({ length: 5 }, () => testIdentity()),
  );
  const results: string[] = [];
  for (let i = 0; i < burst + 3; i++) {
    const student = await ChatClient.connect(proxy.url, {
      pinnedSpki: server.spki,
    });
    const reply = await student.register(`s${i % 5}`, identities[i % 5]);
    results.push(reply.t === "error" ? reply.code : reply.t);
    await student.quit();
  }
  assert.deepEqual(results, [
    ...new Array(burst).fill("welcome"),
    ...new Array(3).fill("limit"),
  ]);
});

Deno.test("a served /64's peer back with a new address of it after its session ended comes back free, as one back with the same address does", async () => {
  // A laptop that rejoins the LAN takes a new temporary address of its /64
  // (RFC 8981): its name comes back from that.
  await using server = await startTestServer({
    hostname: "::1",
    trustedProxies: ["::1"],
    connectionLimits: {
      // No token comes back during the test.
      signInsPerMinutePerAddress: 1,
      signInBurstPerAddress: 2,
      // The sessions last a moment here, not half a minute.
      comebackSettledMs: 0,
    },
  });
  await using proxy = forwardingProxy(server.port, studentAddresses());
  const identities = new Map<
    string,
    Awaited<ReturnType<typeof testIdentity>>
  >();
  const signIn = async (name: string) => {
    const student = await ChatClient.connect(proxy.url, {
      pinnedSpki: server.spki,
    });
    let identity = identities.get(name);
    if (identity === undefined) {
      identities.set(name, identity = await testIdentity());
    }
    const reply = await student.register(name, identity);
    await student.quit();
    return reply.t === "error" ? reply.code : reply.t;
  };
  // The /64's sign-ins spent, each from its own address.
  assert.deepEqual([await signIn("ada"), await signIn("bo")], [
    "welcome",
    "welcome",
  ]);
  // Back, each from a new address: comebacks. A name never signed in pays
  // the sign-ins, which are spent.
  assert.deepEqual(
    [await signIn("ada"), await signIn("bo"), await signIn("cy")],
    ["welcome", "welcome", "limit"],
  );
});
