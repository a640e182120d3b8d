/**
 * GroupSessions against a classmate's accounts (docs/PROTOCOL.md 11.11):
 * skipped keys, sender keys for groups the sender is not in, and chains
 * received are bounded, and an honest member's messages still open. Real
 * clients through a real server; slow (thousands of keys), so in the slow
 * task.
 */

import assert from "node:assert/strict";
import {
  encodeSenderKey,
  newSenderChain,
  type OwnChain,
  sealGroupMessage,
  SENDER_KEY_VERSION,
} from "../../src/crypto/sender_key.ts";
import {
  emptyGroupState,
  encodeGroupContent,
  encodeGroupState,
  GroupSessions,
  MAX_GROUP_SKIPPED_KEYS_IN_ALL,
  MAX_RECEIVED_CHAINS_IN_ALL,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import { startTestServer } from "../_helpers/chat.ts";
import {
  join,
  member,
  say,
  settled,
  texts,
} from "../_helpers/group_members.ts";
import { cid as e2eCid } from "../_helpers/e2e_peer.ts";
import type { ChatClient } from "../../src/client/chat_client.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/**
 * `chain` moved on `steps` iterations without sealing anything (11.11:
 * the next chain key is HMAC-SHA-256(CK, 0x02)), as a sender may.
 */
async function skipAhead(chain: OwnChain, steps: number): Promise<OwnChain> {
  let chainKey = chain.chainKey;
  for (let i = 0; i < steps; i++) {
    const key = await crypto.subtle.importKey(
      "raw",
      chainKey as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    chainKey = new Uint8Array(
      await crypto.subtle.sign("HMAC", key, Uint8Array.of(2)),
    );
  }
  return { ...chain, chainKey, iteration: chain.iteration + steps };
}

Deno.test("GroupSessions keeps at most MAX_GROUP_SKIPPED_KEYS_IN_ALL skipped group message keys: a classmate's accounts in a group skipping 2000 each do not grow a member's state without end, and an honest member's late messages still open", async () => {
  await using server = await startTestServer();
  const bob = await member(server, "bob");
  const created = await bob.client.request({ t: "create", group: "class" });
  assert.equal(created.t, "ok", JSON.stringify(created));
  /**
   * A member of the group who gives bob a chain of its own end to end and
   * seals on it by hand (11.11), so as to skip iterations.
   */
  const writer = async (name: string) => {
    const m = await member(server, name);
    await join(m, "class");
    let chain = await newSenderChain();
    const given = await m.e2e.sendSecret(
      m.client,
      "bob",
      `${SENDER_KEY_LABEL_PREFIX}class`,
      encodeSenderKey(chain),
      e2eCid(),
    );
    assert.equal(given.t, "ok", JSON.stringify(given));
    return {
      seal: async (text: string) => {
        const out = await sealGroupMessage(
          chain,
          encodeGroupContent({ from: name, group: "class", text }),
        );
        chain = out.chain;
        return out.message;
      },
      send: async (message: Uint8Array) => {
        const reply = await m.client.request(
          { t: "e2e_gsay", group: "class", cid: e2eCid() },
          message,
        );
        assert.equal(reply.t, "ok", JSON.stringify(reply));
      },
      skip: async (steps: number) => {
        chain = await skipAhead(chain, steps);
      },
      quit: () => m.client.quit(),
    };
  };

  // alice's second and third messages are overtaken by her fourth.
  const alice = await writer("alice");
  await alice.send(await alice.seal("one"));
  const late = [await alice.seal("two"), await alice.seal("three")];
  await alice.send(await alice.seal("four"));
  await settled(bob, 2);

  // A classmate's accounts, each in the group: a message, then one 1000
  // ahead, twice. bob keeps the keys of every iteration between.
  const accounts = Math.ceil(MAX_GROUP_SKIPPED_KEYS_IN_ALL / 2000) + 1;
  for (let k = 0; k < accounts; k++) {
    const mallory = await writer(`mallory${k}`);
    await mallory.send(await mallory.seal("hi"));
    for (const text of ["far", "farther"]) {
      await mallory.skip(1000);
      await mallory.send(await mallory.seal(text));
    }
    await settled(bob, 2 + 3 * (k + 1));
    await mallory.quit();
  }
  let kept = 0;
  for (const chains of bob.state.received.values()) {
    for (const chain of chains) kept += chain.skipped.size;
  }
  assert.ok(
    kept <= MAX_GROUP_SKIPPED_KEYS_IN_ALL,
    `bob keeps ${kept} skipped keys (${
      JSON.stringify(encodeGroupState(bob.state)).length
    } bytes of state) from ${accounts} accounts`,
  );
  // alice held two: hers were not the ones dropped.
  for (const message of late) await alice.send(message);
  const opened = await settled(bob, 2 + 3 * accounts + 2);
  assert.ok(
    opened.every((o) => o.kind === "message"),
    JSON.stringify(texts(opened)),
  );
  assert.deepEqual(texts(opened).slice(-2), [
    "alice@class: two",
    "alice@class: three",
  ]);
  await alice.quit();
  await bob.client.quit();
});

Deno.test("GroupSessions takes a sender key only for a group it is in: a classmate's accounts sending keys for 128 made-up groups each do not grow a member's state, and a member's messages still open", async () => {
  // Rates off: the attack is bounded by the accounts, not by their pace.
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const bob = await member(server, "bob");
  const alice = await member(server, "alice");
  const created = await bob.client.request({ t: "create", group: "class" });
  assert.equal(created.t, "ok", JSON.stringify(created));
  await join(alice, "class");
  await say(alice, "class", "before");
  assert.deepEqual(texts(await settled(bob, 1)), ["alice@class: before"]);

  const accounts = 3;
  const fakeGroups = 128;
  for (let a = 0; a < accounts; a++) {
    const mallory = await member(server, `mallory${a}`);
    // One group of their own, which bob is not in.
    const own = await mallory.client.request({
      t: "create",
      group: `den${a}`,
    });
    assert.equal(own.t, "ok", JSON.stringify(own));
    const labels = [
      ...Array.from({ length: fakeGroups }, (_, g) => `fake${a}x${g}`),
      "class", // bob's group, which they did not join
      `den${a}`,
    ];
    for (const group of labels) {
      const given = await mallory.e2e.sendSecret(
        mallory.client,
        "bob",
        `${SENDER_KEY_LABEL_PREFIX}${group}`,
        encodeSenderKey(await newSenderChain()),
        e2eCid(),
      );
      assert.equal(given.t, "ok", JSON.stringify(given));
    }
    await mallory.client.quit();
  }
  // Each key refused, with why, but the one for bob's group: a member's key
  // is read when its message is, maybe after they left (as one who never
  // joined, it holds no more than one who joined).
  const expected = accounts * (fakeGroups + 1);
  const deadline = Date.now() + WAIT_MS;
  const refused = () => bob.notes.filter((n) => /which is not kept/.test(n));
  while (refused().length < expected) {
    if (Date.now() > deadline) {
      assert.fail(
        `bob refused ${refused().length} of ${expected} keys and keeps ${bob.state.received.size} senders' chains: ${
          [...bob.state.received.keys()].slice(0, 5).join(", ")
        }`,
      );
    }
    await bob.client.request({ t: "ping" });
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(
    refused().some((n) =>
      /mallory0 sent a sender key for fake0x0.*there is no group fake0x0/.test(
        n,
      )
    ),
    refused()[0],
  );
  assert.ok(
    refused().some((n) =>
      /mallory0 sent a sender key for den0.*you are not a member of den0/.test(
        n,
      )
    ),
  );
  assert.deepEqual(
    [...bob.state.received.keys()].map((k) => k.split(" ").slice(1).join(" "))
      .sort(),
    ["class alice", "class mallory0", "class mallory1", "class mallory2"],
  );
  // alice's messages still open.
  await say(alice, "class", "after");
  assert.deepEqual(texts(await settled(bob, 2)), [
    "alice@class: before",
    "alice@class: after",
  ]);
  await alice.client.quit();
  await bob.client.quit();
});

Deno.test("GroupSessions keeps at most MAX_RECEIVED_CHAINS_IN_ALL chains received, the least recently used forgotten first: a member whose messages opened keeps theirs", async () => {
  const state = emptyGroupState();
  const groups = new GroupSessions({
    state,
    save: async () => {},
    sendSecret: () => Promise.reject(new Error("not used")),
    knownKey: () => "SHA256:sender",
    notify: () => {},
    late: () => {},
  });
  // The server cannot be asked: the keys are taken, within the cap.
  const client = {
    serverFingerprint: "SHA256:server",
    name: "bob",
    request: () => Promise.reject(new Error("not connected")),
  } as unknown as ChatClient;
  let chain = await newSenderChain();
  groups.deliverKey(
    client,
    "alice",
    `${SENDER_KEY_LABEL_PREFIX}class`,
    encodeSenderKey(chain),
  );
  const alice = async (text: string, id: number) => {
    const out = await sealGroupMessage(
      chain,
      encodeGroupContent({ from: "alice", group: "class", text }),
    );
    chain = out.chain;
    return await groups.open(client, {
      t: "e2e_group",
      group: "class",
      from: "alice",
      fingerprint: "SHA256:alice",
      ts: id,
      id,
    }, out.message);
  };
  // One sender's key for many (group, sender) pairs: as many accounts'.
  const key = encodeSenderKey(await newSenderChain());
  const flood = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      groups.deliverKey(
        client,
        `m${i}`,
        `${SENDER_KEY_LABEL_PREFIX}class`,
        key,
      );
    }
    // The keys are taken in turn: an open queues behind them.
    await groups.open(client, {
      t: "e2e_group",
      group: "class",
      from: "nobody",
      fingerprint: "SHA256:x",
      ts: 0,
      id: 1,
    }, new Uint8Array(0));
  };
  await flood(0, MAX_RECEIVED_CHAINS_IN_ALL / 2);
  const first = await alice("one", 10);
  assert.equal(first.kind === "message" && first.text, "one");
  await flood(MAX_RECEIVED_CHAINS_IN_ALL / 2, MAX_RECEIVED_CHAINS_IN_ALL + 100);
  let total = 0;
  for (const chains of state.received.values()) total += chains.length;
  assert.equal(total, MAX_RECEIVED_CHAINS_IN_ALL);
  assert.ok(!state.received.has("SHA256:server class m0"));
  const second = await alice("two", 11);
  assert.equal(second.kind === "message" && second.text, "two");
});

Deno.test("GroupSessions checks a burst of sender keys without spending its own message rate: a classmate's accounts sending keys as fast as the server lets them neither get a member cut off for flooding nor have their keys taken unchecked", async () => {
  // The default rates per connection; the address's off, as mallory's
  // accounts are on another machine than bob's in a class.
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecondPerAddress: 0 },
  });
  const bob = await member(server, "bob");
  const alice = await member(server, "alice");
  assert.equal(
    (await bob.client.request({ t: "create", group: "class" })).t,
    "ok",
  );
  await join(alice, "class");
  const accounts = await Promise.all(
    [0, 1, 2].map((a) => member(server, `mallory${a}`)),
  );
  // Each account's burst (40), at once.
  const keys = 40;
  await Promise.all(accounts.map(async (mallory, a) => {
    for (let g = 0; g < keys; g++) {
      const given = await mallory.e2e.sendSecret(
        mallory.client,
        "bob",
        `${SENDER_KEY_LABEL_PREFIX}fake${a}x${g}`,
        encodeSenderKey(await newSenderChain()),
        e2eCid(),
      );
      if (given.t !== "ok") break;
    }
  }));
  const refused = () => bob.notes.filter((n) => /which is not kept/.test(n));
  const deadline = Date.now() + WAIT_MS;
  while (refused().length + bob.state.received.size < 3 * keys) {
    if (bob.client.isOver) {
      assert.fail(`bob was cut off: ${server.logs.slice(-3).join(" | ")}`);
    }
    if (Date.now() > deadline) {
      assert.fail(
        `bob refused ${refused().length} and kept ${bob.state.received.size}`,
      );
    }
    await bob.client.request({ t: "ping" });
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(
    bob.state.received.size,
    0,
    [...bob.state.received.keys()].join(", "),
  );
  assert.equal(bob.client.isOver, false);
  // bob still writes to his group.
  await say(bob, "class", "still here");
  assert.deepEqual(texts(await settled(alice, 1)), ["bob@class: still here"]);
  for (const m of [alice, bob, ...accounts]) await m.client.quit();
});

/** Waits (5 s at most) until `done`, looking again every 60 ms. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) assert.fail("timed out");
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
}

Deno.test("GroupSessions keeps room for a member's message waiting for its sender key while a classmate's accounts keep 200 made-up ones waiting: theirs give way, the member's opens once its key comes", async () => {
  await using server = await startTestServer();
  // Waits long enough that none of the made-up ones gives up meanwhile.
  const bob = await member(server, "bob", 60_000);
  const created = await bob.client.request({ t: "create", group: "class" });
  assert.equal(created.t, "ok", JSON.stringify(created));
  // Two accounts of a classmate's, members too: 110 messages each, on
  // chains nobody was given (the server's rate: 20 a second each).
  const mallories = [
    await member(server, "mallory"),
    await member(server, "mallory2"),
  ];
  for (const m of mallories) await join(m, "class");
  await Promise.all(mallories.map(async (m) => {
    for (let sent = 0; sent < 110;) {
      const body = crypto.getRandomValues(new Uint8Array(160));
      body[0] = SENDER_KEY_VERSION;
      const reply = await m.client.request(
        { t: "e2e_gsay", group: "class", cid: e2eCid() },
        body,
      );
      if (reply.t === "ok") {
        sent++;
        continue;
      }
      assert.equal(reply.t === "error" && reply.code, "slow_down");
      // 50 refusals in a row would end the connection.
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }));
  // All in: 200 wait (the rest refused, or behind their sender's own).
  await until(() => bob.received.length === 220);
  // alice's message comes before her chain's key (in a cluster, or behind
  // a backlog, it may): it waits for it.
  const alice = await member(server, "alice");
  await join(alice, "class");
  const chain = await newSenderChain();
  const sealed = await sealGroupMessage(
    chain,
    encodeGroupContent({ from: "alice", group: "class", text: "genuine" }),
  );
  const sent = await alice.client.request(
    { t: "e2e_gsay", group: "class", cid: e2eCid() },
    sealed.message,
  );
  assert.equal(sent.t, "ok", JSON.stringify(sent));
  await until(() => bob.received.length === 221);
  const given = await alice.e2e.sendSecret(
    alice.client,
    "bob",
    `${SENDER_KEY_LABEL_PREFIX}class`,
    encodeSenderKey(chain),
    e2eCid(),
  );
  assert.equal(given.t, "ok", JSON.stringify(given));
  // Opened, or refused (at once, before the fix: 200 were waiting).
  const alices = () => texts(bob.opened).filter((t) => t.includes("alice"));
  await until(() => alices().length > 0);
  assert.deepEqual(alices(), ["alice@class: genuine"]);
  await Promise.all([alice, bob, ...mallories].map((m) => m.client.quit()));
});
