// Sign-in records where each new account was made, and a store at its cap
// weighs the accounts of one address as one sender (store/sender_groups.ts):
// 200 names from one address each sending an absent carol 10 KB left her
// friend alice 4 of 100 messages, counted one by one.
import assert from "node:assert/strict";
import { core, Peer } from "../_helpers/core_peer.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

const kib = (tag: string) =>
  new TextEncoder().encode(`${tag} `.padEnd(1000, "x"));

async function send(peer: Peer, to: string, tag: string): Promise<void> {
  const reply = await peer.request({ t: "msg", to }, kib(tag));
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

Deno.test("a server at its cap keeps alice's messages for an absent carol while 200 names from one address flood her", async () => {
  const store = openStore(":memory:", {
    maxBytes: 1024 * 1024,
    capCheckBudgetMs: Infinity,
    capCheckEvery: 1,
  });
  // The message rates off: what the flood costs in time (60 a second per
  // address) is not what is tested here, what the store keeps is.
  const { core: server } = await core({
    store,
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const peers: Peer[] = [];
  const connect = async (name: string, group: string) => {
    const peer = await Peer.connect(server, group);
    peers.push(peer);
    assert.equal((await peer.register(name)).t, "welcome");
    return peer;
  };
  try {
    const carol = await connect("carol", "10.0.0.2");
    carol.channel.close();
    await carol.done;
    const alice = await connect("alice", "10.0.0.10");
    for (let i = 0; i < 100; i++) await send(alice, "carol", `a${i}`);
    for (let s = 0; s < 200; s++) {
      const sybil = await connect(`sybil${s}`, "10.0.0.66");
      for (let i = 0; i < 10; i++) await send(sybil, "carol", `s${i}`);
      sybil.channel.close();
    }
    const waiting = store.pendingFor("carol", 1_000_000);
    const fromAlice = waiting.filter((m) => m.fromKey === "alice").length;
    void (`alice kept ${fromAlice}/100 of ${waiting.length} waiting; dropped ${
      store.takeDropped("carol")
    }`);
    assert.ok(waiting.length < 2100, "the store never reached its cap");
    assert.equal(fromAlice, 100, "alice lost messages to the sybils");
  } finally {
    for (const peer of peers) peer.channel.close();
    await Promise.all(peers.map((peer) => peer.done));
    await server.stop();
  }
});
