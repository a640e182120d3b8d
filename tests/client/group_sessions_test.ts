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
} from "../../src/crypto/sender_key.ts";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  archiveGroupMessage,
  decodeGroupState,
  type E2eGroup,
  emptyGroupState,
  encodeGroupState,
  givenToLine,
  type GroupOpened,
  GroupSessions,
  MAX_GROUP_ARCHIVED_CHARS,
  MAX_GROUPS_PER_SENDER,
  MAX_OWN_CHAINS,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import { MAX_LIST_ITEMS } from "../../src/protocol/limits.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import {
  assertRefused,
  bobWithNewKey,
  cid as e2eCid,
  e2ePeer,
  nextE2e,
  sendE2e,
} from "../_helpers/e2e_peer.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  cid,
  join,
  member,
  say,
  settled,
  texts,
} from "../_helpers/group_members.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

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
  // Whom her chain went to, said once: no warning.
  assert.deepEqual(alice.notes, [
    "Your messages to Team go end to end to bob and carol, the members the server lists",
  ]);

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
  // The later one first: handed after the earlier one, it would wait for
  // that one's sender key (her order), for 10 s.
  const late = await dave.groups.open(
    dave.client,
    after!.message,
    after!.body,
  );
  assert.equal(late.kind, "refused");
  assert.match(texts([late])[0]!, /already read, or sent before its key/);
  const before = await dave.groups.open(
    dave.client,
    bob.received[0]!.message,
    bob.received[0]!.body,
  );
  // Alice's chain changed when carol left, so dave holds no chain for it.
  assert.notEqual(before.kind, "message");
  for (const m of [alice, bob, carol, dave]) await m.client.quit();
});

Deno.test("GroupSessions: a member's message read after they left (a slow link, a reconnect, a cluster node behind) opens: their sender key is taken though the member list no longer shows them", async () => {
  await using server = await startTestServer();
  const alice = await member(server, "alice");
  const bob = await member(server, "bob");
  await bob.client.request({ t: "create", group: "team" });
  await join(alice, "team");
  // Bob first reads what came before (the notice that alice joined): a
  // frame read after the hold is set and before the ping's answer would
  // hold that answer, and this test, for ever.
  await bob.client.request({ t: "ping" });
  // Bob reads nothing more until alice has written and left.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = true;
  bob.client.holdReading(() => holding ? held : null);
  // Read past this answer, bob's client holds before its next frames.
  await bob.client.request({ t: "ping" });
  await say(alice, "team", "see you next week");
  assert.equal(
    (await alice.client.request({ t: "leave", group: "team" })).t,
    "ok",
  );
  holding = false;
  release();
  assert.deepEqual(texts(await settled(bob, 1)), [
    "alice@team: see you next week",
  ]);
  assert.deepEqual(bob.notes, []);
  await alice.client.quit();
  await bob.client.quit();
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
      notify: (lines) => notes.push(...lines.map(({ text }) => text)),
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

Deno.test("GroupSessions forgets its own chain of a group it left, and keeps at most MAX_OWN_CHAINS, the least recently used forgotten first", async () => {
  await using server = await startTestServer();
  const bob = await member(server, "bob");
  const nana = await member(server, "nana");
  await bob.client.request({ t: "create", group: "haha" });
  await join(nana, "haha");
  await say(bob, "haha", "hi");
  const where = `${bob.client.serverFingerprint} haha`;
  assert.ok(bob.state.own.has(where));
  // Chains of groups bob sent to long ago, as many as are kept.
  const old = await newSenderChain();
  for (let g = 0; g < MAX_OWN_CHAINS - 1; g++) {
    bob.state.own.set(`${bob.client.serverFingerprint} old${g}`, {
      chain: old,
      sentTo: [{ name: "nana", key: null }],
    });
  }
  // Sending moves haha's to the newest; one more group is past the cap.
  await say(bob, "haha", "again");
  await bob.client.request({ t: "create", group: "hoho" });
  await join(nana, "hoho");
  await say(bob, "hoho", "new group");
  assert.equal(bob.state.own.size, MAX_OWN_CHAINS);
  assert.ok(bob.state.own.has(where));
  assert.ok(!bob.state.own.has(`${bob.client.serverFingerprint} old0`));
  assert.ok(bob.state.own.has(`${bob.client.serverFingerprint} old1`));
  // Bob leaves haha: his next message there is refused, and the chain goes.
  const left = await bob.client.request({ t: "leave", group: "haha" });
  assert.equal(left.t, "ok", JSON.stringify(left));
  const reply = await bob.groups.send(bob.client, "haha", "gone", cid());
  assert.equal(reply.t === "error" && reply.code, "not_member");
  assert.ok(!bob.state.own.has(where));
  // nana still reads what bob sends in hoho.
  assert.deepEqual(texts(await settled(nana, 3)), [
    "bob@haha: hi",
    "bob@haha: again",
    "bob@hoho: new group",
  ]);
  await bob.client.quit();
  await nana.client.quit();
});

Deno.test("GroupSessions asks about a group the server's capped group list left out before it takes a sender key for it", async () => {
  // The server has as many groups as its list shows, created before bob's.
  const store = openStore(":memory:");
  for (let g = 0; g < MAX_LIST_ITEMS; g++) {
    store.createGroup(`g${g}`, `g${g}`, "nobody", 0);
  }
  await using server = await startTestServer({ store });
  // Alice's key is judged 250 ms after mallory's last (each key not in the
  // list is asked about alone, spaced): her message waits for it longer
  // than the other tests' 300 ms.
  const bob = await member(server, "bob", 5000);
  const alice = await member(server, "alice");
  const mallory = await member(server, "mallory");
  assert.equal(
    (await bob.client.request({ t: "create", group: "class" })).t,
    "ok",
  );
  await join(alice, "class");
  assert.equal(
    (await mallory.client.request({ t: "create", group: "den" })).t,
    "ok",
  );
  for (const group of ["madeup", "den", "class"]) {
    const given = await mallory.e2e.sendSecret(
      mallory.client,
      "bob",
      `${SENDER_KEY_LABEL_PREFIX}${group}`,
      encodeSenderKey(await newSenderChain()),
      e2eCid(),
    );
    assert.equal(given.t, "ok", JSON.stringify(given));
  }
  // Each key not in the list is asked about on its own, 250 ms apart. The
  // test waits without asking bob's client for anything: `settled` pings
  // every 10 ms, which spent bob's message rate, and a check answered
  // `slow_down` takes its key unchecked (the server could not say).
  const refusedNotes = () =>
    bob.notes.filter((n) => /which is not kept/.test(n));
  const deadline = Date.now() + WAIT_MS;
  while (refusedNotes().length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  await say(alice, "class", "hello");
  assert.deepEqual(texts(await settled(bob, 1)), ["alice@class: hello"]);
  const refused = refusedNotes();
  assert.deepEqual(refused, [
    "ERROR: mallory sent a sender key for madeup, which is not kept: there is no group madeup",
    "ERROR: mallory sent a sender key for den, which is not kept: you are not a member of den",
  ]);
  assert.deepEqual(
    [...bob.state.received.keys()].map((k) => k.split(" ").slice(1).join(" "))
      .sort(),
    ["class alice", "class mallory"],
  );
  await alice.client.quit();
  await bob.client.quit();
  await mallory.client.quit();
});

Deno.test("givenToLine names every member new since the last message up to twenty, then counts them as new", () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  assert.equal(
    givenToLine("crew", names(20), true),
    `Your messages to crew now go end to end to ${
      names(19).join(", ")
    } and n19 too, whom the server lists as members since your last message there`,
  );
  assert.equal(
    givenToLine("crew", names(23), true),
    `Your messages to crew now go end to end to 23 members new since your last message there, whom the server lists: ${
      names(20).join(", ")
    } and 3 more new ones (/members crew lists every member)`,
  );
});

Deno.test("givenToLine names ten members at most and counts the rest", () => {
  assert.equal(
    givenToLine("crew", ["eve"], true),
    "Your messages to crew now go end to end to eve too, whom the server lists as a member since your last message there",
  );
  const many = Array.from({ length: 12 }, (_, i) => `m${i}`);
  assert.equal(
    givenToLine("crew", many, false),
    "Your messages to crew go end to end to m0, m1, m2, m3, m4, m5, m6, m7, m8, m9 and 2 more, the members the server lists",
  );
});
