/**
 * GroupSessions between real clients through a real server (docs/PROTOCOL.md
 * 11.11): members read each other's group messages; a member who left cannot
 * read what follows even when handed the ciphertext; a new member cannot
 * read what came before; what a server alters, relabels or moves is refused.
 */

import assert from "node:assert/strict";
import {
  encodeSenderKey,
  newSenderChain,
  type OwnChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import type { ChatClient } from "../../src/client/chat_client.ts";
import { createKeyring, publishPrekeys } from "../../src/client/e2e_keys.ts";
import { E2eSessions } from "../../src/client/e2e_sessions.ts";
import { emptyE2eState } from "../../src/client/e2e_state.ts";
import {
  archiveGroupMessage,
  decodeGroupState,
  type E2eGroup,
  emptyGroupState,
  encodeGroupContent,
  encodeGroupState,
  type GroupOpened,
  GroupSessions,
  type GroupState,
  MAX_GROUP_ARCHIVED_CHARS,
  MAX_GROUP_SKIPPED_KEYS_IN_ALL,
  MAX_GROUPS_PER_SENDER,
  MAX_RECEIVED_CHAINS_IN_ALL,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import {
  assertRefused,
  bobWithNewKey,
  cid as e2eCid,
  e2ePeer,
  nextE2e,
  sendE2e,
} from "../_helpers/e2e_peer.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

interface Member {
  name: string;
  client: ChatClient;
  e2e: E2eSessions;
  groups: GroupSessions;
  state: GroupState;
  /** Every e2e_group received, with its body. */
  received: { message: E2eGroup; body: Uint8Array }[];
  /** What became of each, in the order it was settled. */
  opened: GroupOpened[];
  notes: string[];
}

async function member(server: TestServer, name: string): Promise<Member> {
  const identity = await testIdentity();
  const { client } = await TestClient.connect(server, name, identity);
  const keyring = await createKeyring(identity);
  await publishPrekeys(client, keyring);
  const identities = KnownIdentities.inMemory();
  const e2e = new E2eSessions({
    keyring,
    saveKeyring: async () => {},
    identities,
    state: emptyE2eState(),
    saveState: async () => {},
    notify: () => {},
  });
  const m: Member = {
    name,
    client,
    e2e,
    state: emptyGroupState(),
    received: [],
    opened: [],
    notes: [],
    groups: null as unknown as GroupSessions,
  };
  m.groups = new GroupSessions({
    state: m.state,
    save: async () => {},
    sendSecret: (...args) => e2e.sendSecret(...args),
    knownKey: (server, n) => identities.known(server, n),
    notify: (lines) => m.notes.push(...lines),
    late: (opened) => m.opened.push(opened),
    waitMs: 300,
  });
  client.onMessage(({ message, body }) => {
    if (message.t === "e2e_private") {
      void e2e.open(client, message, body).then((opened) => {
        if (opened.kind === "secret") {
          m.groups.deliverKey(client, opened.from, opened.label, opened.secret);
        }
      });
    } else if (message.t === "e2e_group") {
      m.received.push({ message, body: body.slice() });
      void m.groups.open(client, message, body).then((opened) => {
        if (opened.kind !== "waiting") m.opened.push(opened);
      });
    }
  });
  return m;
}

let cids = 0;
function cid(): string {
  return (++cids).toString(16).padStart(32, "0");
}

async function say(from: Member, group: string, text: string) {
  const reply = await from.groups.send(from.client, group, text, cid());
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

/** Waits (with a deadline) until `m` has settled `count` messages. */
async function settled(m: Member, count: number): Promise<GroupOpened[]> {
  const deadline = Date.now() + 5000;
  while (m.opened.length < count) {
    if (Date.now() > deadline) {
      assert.fail(`${m.name} settled ${JSON.stringify(m.opened)}`);
    }
    await m.client.request({ t: "ping" });
    await new Promise((r) => setTimeout(r, 10));
  }
  return m.opened;
}

function texts(opened: GroupOpened[]): string[] {
  return opened.map((o) =>
    o.kind === "message"
      ? `${o.message.from}@${o.message.group}: ${o.text}`
      : o.kind === "refused"
      ? o.lines.join(" ")
      : "waiting"
  );
}

async function join(m: Member, group: string) {
  const reply = await m.client.request({ t: "join", group });
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

Deno.test("GroupSessions: members read each other's messages, each opened once; a server's altered, relabelled or moved copy is refused", async () => {
  await using server = await startTestServer();
  const alice = await member(server, "alice");
  const bob = await member(server, "bob");
  const carol = await member(server, "carol");
  assert.equal(
    (await alice.client.request({ t: "create", group: "Team" })).t,
    "ok",
  );
  await join(bob, "team");
  await join(carol, "team");
  await say(alice, "team", "first from alice");
  await say(bob, "Team", "bob here");
  await say(alice, "team", "second from alice");
  assert.deepEqual(texts(await settled(bob, 2)), [
    "alice@Team: first from alice",
    "alice@Team: second from alice",
  ]);
  // Each sender's messages in order; bob's may settle after alice's second
  // when his sender key reaches carol later (it is held until then).
  const carolRead = texts(await settled(carol, 3));
  assert.deepEqual([...carolRead].sort(), [
    "alice@Team: first from alice",
    "alice@Team: second from alice",
    "bob@Team: bob here",
  ]);
  assert.deepEqual(carolRead.filter((t) => t.startsWith("alice@")), [
    "alice@Team: first from alice",
    "alice@Team: second from alice",
  ]);
  assert.deepEqual(alice.notes, []);

  // What a server could do with carol's copies.
  const [first, , second] = carol.received;
  const open = (message: E2eGroup, body: Uint8Array) =>
    carol.groups.open(carol.client, message, body);
  const altered = second!.body.slice();
  altered[40]! ^= 1;
  const refusals = [
    await open({ ...second!.message, id: 9001 }, altered),
    // Relabelled as bob's: bob has no such chain.
    await open({ ...first!.message, id: 9002, from: "bob" }, first!.body),
    // Replayed under a new id: its key is used.
    await open({ ...first!.message, id: 9003 }, first!.body),
    // Moved to another group: no chain of alice's there.
    await open({ ...first!.message, id: 9004, group: "Other" }, first!.body),
  ];
  assert.equal(refusals[1]!.kind, "waiting");
  assert.match(texts([refusals[0]!])[0]!, /not signed/);
  assert.match(texts([refusals[2]!])[0]!, /already read/);
  // The relabelled one is given up on once no key comes.
  const all = texts(await settled(carol, 5)).slice(3).sort();
  assert.match(
    all[0]!,
    /from alice in Other could not be opened.*did not arrive/,
  );
  assert.match(all[1]!, /from bob in Team could not be opened.*did not arrive/);
  // A copy sent again under its own id comes from the archive.
  const again = await open(first!.message, first!.body);
  assert.equal(again.kind === "message" && again.text, "first from alice");
  for (const m of [alice, bob, carol]) await m.client.quit();
});

Deno.test("GroupSessions: a member who left cannot read later messages even when handed them, and a new member cannot read earlier ones", async () => {
  await using server = await startTestServer();
  const alice = await member(server, "alice");
  const bob = await member(server, "bob");
  const carol = await member(server, "carol");
  await alice.client.request({ t: "create", group: "team" });
  await join(bob, "team");
  await join(carol, "team");
  await say(alice, "team", "before carol left");
  await settled(carol, 1);
  await settled(bob, 1);
  assert.equal(
    (await carol.client.request({ t: "leave", group: "team" })).t,
    "ok",
  );
  await say(alice, "team", "after carol left");
  const [, after] = (await settled(bob, 2), bob.received);
  assert.equal(texts(bob.opened)[1], "alice@team: after carol left");
  // The server hands carol the ciphertext anyway: she has no key for it.
  const leaked = await carol.groups.open(
    carol.client,
    after!.message,
    after!.body,
  );
  assert.equal(leaked.kind, "waiting");
  assert.match(
    texts(await settled(carol, 2))[1]!,
    /could not be opened.*sender key did not arrive/,
  );
  assert.equal(alice.state.own.size, 1);

  // Dave joins: he reads what comes next, not what came before.
  const dave = await member(server, "dave");
  await join(dave, "team");
  await say(alice, "team", "welcome dave");
  assert.deepEqual(texts(await settled(dave, 1)), [
    "alice@team: welcome dave",
  ]);
  const before = await dave.groups.open(
    dave.client,
    bob.received[0]!.message,
    bob.received[0]!.body,
  );
  // Alice's chain changed when carol left, so dave holds no chain for it.
  assert.notEqual(before.kind, "message");
  const late = await dave.groups.open(
    dave.client,
    after!.message,
    after!.body,
  );
  assert.equal(late.kind, "refused");
  assert.match(texts([late])[0]!, /already read, or sent before its key/);
  for (const m of [alice, bob, carol, dave]) await m.client.quit();
});

Deno.test("encodeGroupState and decodeGroupState keep chains, who has them, and the archive", async () => {
  await using server = await startTestServer();
  const alice = await member(server, "alice");
  const bob = await member(server, "bob");
  await alice.client.request({ t: "create", group: "team" });
  await join(bob, "team");
  await say(alice, "team", "kept");
  await settled(bob, 1);
  for (const m of [alice, bob]) {
    const copy = decodeGroupState(
      JSON.parse(JSON.stringify(encodeGroupState(m.state))),
    );
    assert.deepEqual(copy, m.state);
  }
  await alice.client.quit();
  await bob.client.quit();
});

Deno.test("decodeGroupState reads who was given a chain before their keys were kept as given under no known key", async () => {
  const state = emptyGroupState();
  state.own.set("s team", {
    chain: await newSenderChain(),
    sentTo: [{ name: "bob", key: "SHA256:bob" }],
  });
  const encoded = encodeGroupState(state) as { own: { sentTo: unknown }[] };
  assert.deepEqual(encoded.own[0]!.sentTo, [["bob", "SHA256:bob"]]);
  encoded.own[0]!.sentTo = ["bob"];
  assert.deepEqual(decodeGroupState(encoded).own.get("s team")!.sentTo, [
    { name: "bob", key: null },
  ]);
});

Deno.test("GroupSessions sends a plain gsay, and says the host can read it, when a member has published no end-to-end keys", async () => {
  await using server = await startTestServer();
  const alice = await member(server, "alice");
  const oldtimer = await TestClient.connect(server, "oldtimer");
  await alice.client.request({ t: "create", group: "team" });
  assert.equal(
    (await oldtimer.client.request({ t: "join", group: "team" })).t,
    "ok",
  );
  await say(alice, "team", "readable by the host");
  assert.deepEqual(alice.notes, [
    "WARNING: oldtimer has not published end-to-end keys: this message to team is not end-to-end encrypted, and the host of the server can read it",
  ]);
  const { message, text } = await oldtimer.waitFor(({ message }) =>
    message.t === "group"
  );
  assert.equal(message.t === "group" && message.from, "alice");
  assert.equal(text, "readable by the host");
  await alice.client.quit();
  await oldtimer.quit();
});

// Seen trying the README as a new user: nana's `/group haha hi`, before she
// joined, gave her chain to every member before the server refused it.
Deno.test("GroupSessions refuses a message to a group it is not in, as the server would, without giving its chain to the members", async () => {
  await using server = await startTestServer();
  const bob = await member(server, "bob");
  const nana = await member(server, "nana");
  let secrets = 0;
  bob.client.onMessage(({ message }) => {
    if (message.t === "e2e_private") secrets++;
  });
  await bob.client.request({ t: "create", group: "haha" });
  const reply = await nana.groups.send(nana.client, "haha", "hi", cid());
  assert.deepEqual(reply, {
    t: "error",
    re: null,
    code: "not_member",
    text:
      "ERROR: You are not a member of group 'haha'. Join it with /join haha",
  });
  // Anything nana sent before her reply has reached bob by his next answer.
  await bob.client.request({ t: "ping" });
  assert.equal(secrets, 0);
  await join(nana, "haha");
  await say(nana, "haha", "now a member");
  assert.deepEqual(texts(await settled(bob, 1)), ["nana@haha: now a member"]);
  await bob.client.quit();
  await nana.client.quit();
});

Deno.test("archiveGroupMessage keeps at most MAX_GROUP_ARCHIVED_CHARS characters of text, the newest", () => {
  const state = emptyGroupState();
  // Texts a peer can send: 16,000 characters each (JSON escapes control
  // characters six-fold in the state file).
  const text = "\x01".repeat(16_000);
  const count = Math.ceil(MAX_GROUP_ARCHIVED_CHARS / text.length) + 10;
  for (let id = 1; id <= count; id++) {
    archiveGroupMessage(state, {
      server: "s",
      id,
      group: "g",
      from: "eve",
      ts: id,
      text,
    });
  }
  let chars = 0;
  for (const kept of state.archive.values()) chars += kept.text.length;
  assert.ok(chars <= MAX_GROUP_ARCHIVED_CHARS, `${chars} characters kept`);
  assert.ok(state.archive.has(`s ${count}`), "the newest is kept");
  assert.ok(!state.archive.has("s 1"), "the oldest went");
});

Deno.test("GroupSessions keeps one sender's keys for at most MAX_GROUPS_PER_SENDER groups, the newest", async () => {
  const state = emptyGroupState();
  const groups = new GroupSessions({
    state,
    save: async () => {},
    sendSecret: () => Promise.reject(new Error("not used")),
    knownKey: () => "SHA256:sender",
    notify: () => {},
    late: () => {},
  });
  const client = {
    serverFingerprint: "SHA256:server",
    request: () => Promise.reject(new Error("not connected")),
  } as unknown as ChatClient;
  const count = MAX_GROUPS_PER_SENDER + 20;
  for (let g = 0; g < count; g++) {
    const key = encodeSenderKey(await newSenderChain());
    assert.ok(
      groups.deliverKey(
        client,
        "mallory",
        `${SENDER_KEY_LABEL_PREFIX}g${g}`,
        key,
      ),
    );
  }
  const alice = encodeSenderKey(await newSenderChain());
  groups.deliverKey(client, "alice", `${SENDER_KEY_LABEL_PREFIX}g0`, alice);
  // The keys are kept in turn: a send queues behind them.
  await groups.send(client, "g0", "hi", "0".repeat(32)).catch(() => {});
  const kept = [...state.received.keys()];
  const mallory = kept.filter((key) => key.endsWith(" mallory"));
  assert.equal(mallory.length, MAX_GROUPS_PER_SENDER);
  assert.ok(mallory.includes(`SHA256:server g${count - 1} mallory`));
  assert.ok(!mallory.includes("SHA256:server g0 mallory"));
  // Another sender's are theirs.
  assert.ok(kept.includes("SHA256:server g0 alice"));
});

Deno.test("GroupSessions with E2eSessions.holdGroup: a group message from a member's new key delivered again while it is held for /trust (a restart before its acknowledgement went out, or /history) is shown once after /trust, not again as history", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  let bob = await e2ePeer(server, "bob");
  const receivedGroup: { message: E2eGroup; body: Uint8Array }[] = [];
  alice.client.onMessage(({ message, body }) => {
    if (message.t === "e2e_group") {
      receivedGroup.push({ message, body: body.slice() });
    }
  });
  try {
    assert.equal(
      (await alice.client.request({ t: "create", group: "g" })).t,
      "ok",
    );
    // Bob's name goes to a new key; he writes to the group with it, his
    // chain going to alice end to end first: both wait for her /trust.
    bob = await bobWithNewKey(server, store, alice, bob);
    assert.equal((await bob.client.request({ t: "join", group: "g" })).t, "ok");
    await sendE2e(bob, "alice", "new key, same bob");
    const bobGroups = new GroupSessions({
      state: emptyGroupState(),
      save: async () => {},
      sendSecret: (...args) => bob.e2e.sendSecret(...args),
      knownKey: (server, n) => bob.identities.known(server, n),
      notify: () => {},
      late: () => {},
    });
    const sent = await bobGroups.send(
      bob.client,
      "g",
      "from my new key",
      e2eCid(),
    );
    assert.equal(sent.t, "ok", JSON.stringify(sent));
    for (let i = 0; i < 2; i++) {
      const held = await nextE2e(alice);
      assertRefused(
        await alice.e2e.open(alice.client, held.message, held.body),
        /waits until you accept their new key|^$/,
      );
    }
    while (receivedGroup.length === 0) {
      await alice.client.request({ t: "ping" });
    }
    const g = receivedGroup[0]!;
    const shown: string[] = [];
    const notes: string[] = [];
    const show = (opened: GroupOpened) => {
      if (opened.kind === "message") {
        shown.push(
          `${opened.text}${
            opened.message.history === true ? " (history)" : ""
          }`,
        );
      } else if (opened.kind === "refused") notes.push(...opened.lines);
    };
    const aliceGroups = new GroupSessions({
      state: emptyGroupState(),
      save: async () => {},
      sendSecret: (...args) => alice.e2e.sendSecret(...args),
      knownKey: (server, n) => alice.identities.known(server, n),
      notify: (lines) => notes.push(...lines),
      late: show,
      waitMs: 60_000,
      holdUntilTrusted: (...args) => alice.e2e.holdGroup(...args),
    });
    // The message comes, is held with bob's new key, and comes again (the
    // server sends what was not acknowledged again).
    for (let i = 0; i < 2; i++) {
      const opened = await aliceGroups.open(alice.client, g.message, g.body);
      assert.equal(opened.kind, "waiting");
      if (opened.kind === "waiting") await opened.settled;
    }
    assert.deepEqual(shown, []);
    const trusted = await alice.e2e.trust(alice.client, "bob");
    for (const opened of trusted.opened) {
      if (opened.kind === "secret") {
        assert.ok(
          aliceGroups.deliverKey(
            alice.client,
            opened.from,
            opened.label,
            opened.secret,
          ),
        );
      } else if (opened.kind === "group") {
        show(await aliceGroups.open(alice.client, opened.message, opened.body));
      }
    }
    assert.deepEqual(shown, ["from my new key"], notes.join("\n"));
  } finally {
    await alice.client.quit();
    await bob.client.quit();
    store.close();
  }
});

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

Deno.test("GroupSessions takes a sender key only for a group both it and the sender are in: a classmate's accounts sending keys for 128 made-up groups each do not grow a member's state, and a member's messages still open", async () => {
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
  // Each key refused, with why.
  const expected = accounts * (fakeGroups + 2);
  const deadline = Date.now() + 20_000;
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
      /mallory0 sent a sender key for class.*mallory0 is not a member of class/
        .test(n)
    ),
  );
  assert.ok(
    refused().some((n) =>
      /mallory0 sent a sender key for den0.*you are not a member of den0/.test(
        n,
      )
    ),
  );
  assert.deepEqual(
    [...bob.state.received.keys()].map((k) => k.split(" ").slice(1).join(" ")),
    [
      "class alice",
    ],
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
