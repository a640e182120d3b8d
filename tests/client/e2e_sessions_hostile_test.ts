/**
 * E2eSessions against a server that lies (issue 17; docs/PROTOCOL.md 11.7):
 * the messages a hostile host would hand a client, built from what a real
 * server relayed, are refused and never shown as someone's message.
 */

import assert from "node:assert/strict";
import { createKeyring, fetchBundle } from "../../src/client/e2e_keys.ts";
import {
  encodeContent,
  MAX_HELD_BYTES,
  MAX_HELD_MESSAGES,
  MAX_KEY_CHANGES,
} from "../../src/client/e2e_sessions.ts";
import { peerKey } from "../../src/client/e2e_state.ts";
import {
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import {
  assertRefused,
  assertShown,
  bobWithNewKey,
  e2ePeer,
  nextE2e,
  sendE2e,
} from "../_helpers/e2e_peer.ts";
import { fuzzCases, fuzzSeed, Rng } from "../_helpers/fuzz.ts";

/**
 * A first message to `to` as a hostile server would make one: sealed under
 * a key of its own (signed in as `signer`, to fetch `to`'s bundle), saying
 * inside that `from` wrote it. Resolves with the envelope and that key's
 * fingerprint.
 */
async function forged(
  server: TestServer,
  signer: string,
  from: string,
  to: string,
  text: string,
): Promise<{ body: Uint8Array; fingerprint: string }> {
  const identity = await testIdentity();
  const own = await createKeyring(identity);
  const { client } = await TestClient.connect(server, signer, identity);
  try {
    const fetched = await fetchBundle(client, to);
    const session = await initiateSession({
      identity: identity.publicRaw,
      dh: own.bundle.dh,
      dhPair: own.secrets.dh,
    }, fetched.bundle);
    const out = await sealEnvelope(
      session,
      encodeContent({ type: "text", from, to, text }),
    );
    return {
      body: out.envelope,
      fingerprint: await identityFingerprint(identity.publicRaw),
    };
  } finally {
    await client.quit();
  }
}

Deno.test("E2eSessions.open does not show an archived message again under another sender or recipient", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const bob = await e2ePeer(server, "bob");
  const carol = await e2ePeer(server, "carol");
  try {
    // Carol and bob have a session, so carol's key is known to bob.
    await sendE2e(carol, "bob", "hello bob");
    const fromCarol = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, fromCarol.message, fromCarol.body),
      "carol",
      "hello bob",
    );
    const sent = await sendE2e(alice, "bob", "meet at noon");
    const got = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, got.message, got.body),
      "alice",
      "meet at noon",
    );
    // The server hands bob alice's message again, as carol's.
    assertRefused(
      await bob.e2e.open(bob.client, {
        ...got.message,
        from: "carol",
        fingerprint: fromCarol.message.fingerprint,
      }, got.body),
      /^ERROR: A private message from carol could not be opened/,
    );
    // And hands alice her own message as if bob had written it to her.
    assert.equal(sent.id, got.message.id);
    assertRefused(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "bob",
        fingerprint: await bobFingerprint(bob.client),
      }, got.body),
      /^ERROR: A private message from bob could not be opened/,
    );
    // Or as her message to carol, in a history.
    assertRefused(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "alice",
        to: "carol",
        history: true,
      }, got.body),
      /^ERROR: /,
    );
    // The genuine ones still show from the archive.
    assertShown(
      await bob.e2e.open(bob.client, got.message, got.body),
      "alice",
      "meet at noon",
    );
    assertShown(
      await alice.e2e.open(alice.client, {
        ...got.message,
        from: "alice",
        to: "bob",
        history: true,
      }, got.body),
      "alice",
      "meet at noon",
    );
  } finally {
    for (const p of [alice, bob, carol]) await p.client.quit();
  }
});

async function bobFingerprint(
  client: { request: (m: { t: "list" }) => Promise<unknown> },
): Promise<string> {
  const users = await client.request({ t: "list" }) as {
    users: { name: string; fingerprint?: string }[];
  };
  return users.users.find((u) => u.name === "bob")!.fingerprint!;
}

Deno.test("E2eSessions.trust opens the held messages of the key accepted only, not one a server slipped in under a third key", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  let bob = await e2ePeer(server, "bob");
  try {
    // Bob's name goes to a new key; he writes: held until alice accepts it.
    bob = await bobWithNewKey(server, store, alice, bob);
    await sendE2e(bob, "alice", "new key, same bob");
    const genuine = await nextE2e(alice);
    assertRefused(
      await alice.e2e.open(alice.client, genuine.message, genuine.body),
      /waits until you accept their new key/,
    );
    // Meanwhile the server delivers a message of its own as bob's, under a
    // third key: it waits too.
    const fake = await forged(server, "mallory", "bob", "alice", "send me $$$");
    assertRefused(
      await alice.e2e.open(alice.client, {
        ...genuine.message,
        id: genuine.message.id! + 1,
        seq: genuine.message.seq! + 1,
        fingerprint: fake.fingerprint,
      }, fake.body),
      /waits until you accept their new key/,
    );
    // Alice accepts bob's new key, the one announced: only its message opens.
    const trusted = await alice.e2e.trust(alice.client, "bob");
    assert.equal(trusted.opened.length, 2);
    assertShown(trusted.opened[0]!, "bob", "new key, same bob");
    assertRefused(trusted.opened[1]!, /bob/);
    assert.ok(
      !JSON.stringify(trusted.opened[1]).includes("$$$"),
      "the forged text was shown",
    );
    // The third key is announced as a change of its own, not taken.
    assert.match(
      alice.notes.join("\n"),
      new RegExp(`now: +${fake.fingerprint.replaceAll("+", "\\+")}`),
    );
    assert.equal(
      alice.identities.known(alice.client.serverFingerprint, "bob"),
      genuine.message.fingerprint,
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions.open refuses a first message replayed after a newer session took over, even one made without a one-time key", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  // A server can always hand out bob's bundle without a one-time key (it
  // says they ran out); here bob has none.
  const bob = await e2ePeer(server, "bob", undefined, { oneTime: false });
  try {
    await sendE2e(alice, "bob", "transfer 100 to carol");
    const first = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "transfer 100 to carol",
    );
    // Alice starts anew (she lost her session): bob's session moves on.
    alice.state.sessions.clear();
    await sendE2e(alice, "bob", "new session");
    const second = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, second.message, second.body),
      "alice",
      "new session",
    );
    // The server replays the first message under a new id.
    assertRefused(
      await bob.e2e.open(bob.client, {
        ...first.message,
        id: second.message.id! + 1,
        seq: second.message.seq! + 1,
      }, first.body),
      /^ERROR: A private message from alice could not be opened/,
    );
    // Both sessions still work.
    await sendE2e(alice, "bob", "still here");
    const third = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, third.message, third.body),
      "alice",
      "still here",
    );
  } finally {
    for (const p of [alice, bob]) await p.client.quit();
  }
});

Deno.test("E2eSessions holds a bounded number of messages from a changed key: a server cannot grow the state without end", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  let bob = await e2ePeer(server, "bob");
  try {
    bob = await bobWithNewKey(server, store, alice, bob);
    await sendE2e(bob, "alice", "new key");
    const genuine = await nextE2e(alice);
    assertRefused(
      await alice.e2e.open(alice.client, genuine.message, genuine.body),
      /waits until you accept their new key/,
    );
    // The server then floods alice with messages "from bob" (up to
    // MAX_E2E_MESSAGE_BYTES each; small here, the count is what is capped).
    const junk = new Uint8Array(1000).fill(1);
    let dropped = 0;
    for (let i = 1; i <= MAX_HELD_MESSAGES + 20; i++) {
      const opened = await alice.e2e.open(alice.client, {
        ...genuine.message,
        id: genuine.message.id! + i,
      }, junk);
      assert.equal(opened.kind, "refused");
      if (opened.kind === "refused" && /^ERROR: /.test(opened.lines[0]!)) {
        assert.match(opened.lines[0]!, /too many .*bob.* dropped/i);
        dropped++;
      }
    }
    // The genuine one took a place.
    assert.equal(dropped, 21);
    assert.equal(
      alice.state.changes.values().next().value!.incoming.length,
      MAX_HELD_MESSAGES,
    );
    // The genuine one, held first, is still there for /trust.
    const trusted = await alice.e2e.trust(alice.client, "bob");
    assertShown(trusted.opened[0]!, "bob", "new key");
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions holds group messages from a changed key up to MAX_HELD_BYTES in all, and drops more with an error", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  let bob = await e2ePeer(server, "bob");
  try {
    await sendE2e(bob, "alice", "hello");
    const hello = await nextE2e(alice);
    await alice.e2e.open(alice.client, hello.message, hello.body);
    await bob.client.quit();
    store.releaseName("bob", 0);
    bob = await e2ePeer(server, "bob");
    await sendE2e(bob, "alice", "new key");
    const genuine = await nextE2e(alice);
    assertRefused(
      await alice.e2e.open(alice.client, genuine.message, genuine.body),
      /waits until you accept their new key/,
    );
    // A server sends group messages "from bob", far larger than any real one.
    const big = new Uint8Array(MAX_HELD_BYTES / 4).fill(1);
    const outcomes: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const lines = await alice.e2e.holdGroup(alice.client, {
        t: "e2e_group",
        group: "g",
        from: "bob",
        fingerprint: genuine.message.fingerprint,
        ts: 1,
        id: 1000 + i,
      }, big);
      outcomes.push(
        /^ERROR: Too many bytes .* is dropped$/.test(lines?.[0] ?? "")
          ? "dropped"
          : /waits until you accept/.test(lines?.[0] ?? "")
          ? "held"
          : String(lines),
      );
    }
    // The genuine private message took a few bytes of the first quarter's.
    assert.deepEqual(outcomes, ["held", "held", "held", "dropped", "dropped"]);
    const trusted = await alice.e2e.trust(alice.client, "bob");
    assertShown(trusted.opened[0]!, "bob", "new key");
    assert.deepEqual(
      trusted.opened.slice(1).map((o) => o.kind),
      ["group", "group", "group"],
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions keeps at most MAX_KEY_CHANGES changed keys waiting for /trust: the oldest is forgotten, the user told, and announced again at its next message", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  let bob = await e2ePeer(server, "bob");
  let carol = await e2ePeer(server, "carol");
  try {
    // Carol's key changes first; her message waits for /trust.
    await sendE2e(carol, "alice", "hello");
    const hello = await nextE2e(alice);
    assertShown(
      await alice.e2e.open(alice.client, hello.message, hello.body),
      "carol",
      "hello",
    );
    const carolKey = hello.message.fingerprint;
    await carol.client.quit();
    store.releaseName("carol", 0);
    carol = await e2ePeer(server, "carol");
    await sendE2e(carol, "alice", "new carol");
    const first = await nextE2e(alice);
    assertRefused(
      await alice.e2e.open(alice.client, first.message, first.body),
      /waits until you accept their new key/,
    );
    // A hostile host then releases name after name to new keys (as many
    // changes as the cap, made directly here: each real one takes a
    // sign-in), and finally bob's.
    const server_ = alice.client.serverFingerprint;
    for (let i = 1; i < MAX_KEY_CHANGES; i++) {
      alice.state.changes.set(peerKey(server_, `name${i}`), {
        name: `name${i}`,
        fingerprint: `SHA256:new${i}`,
        previous: `SHA256:old${i}`,
        outgoing: [],
        incoming: [],
      });
    }
    bob = await bobWithNewKey(server, store, alice, bob);
    await sendE2e(bob, "alice", "new bob");
    const fromBob = await nextE2e(alice);
    assertRefused(
      await alice.e2e.open(alice.client, fromBob.message, fromBob.body),
      /waits until you accept their new key/,
    );
    assert.equal(alice.state.changes.size, MAX_KEY_CHANGES);
    assert.ok(alice.state.changes.has(peerKey(server_, "bob")));
    assert.ok(!alice.state.changes.has(peerKey(server_, "carol")));
    assert.ok(alice.state.changes.has(peerKey(server_, "name1")));
    assert.ok(
      alice.notes.includes(
        `ERROR: Too many changed identity keys wait for /trust (${MAX_KEY_CHANGES}): the oldest, carol's, is forgotten: 1 message(s) from carol waiting for it are dropped. It is announced again at their next message, or your next one to them`,
      ),
      alice.notes.join("\n"),
    );
    // Said as the error it is (an e2e error, in --json too), not a notice
    // though it comes in the changed key's block.
    assert.deepEqual(
      alice.lines.filter(({ text }) => text.startsWith("ERROR: Too many"))
        .map(({ kind }) => kind),
      ["error"],
    );
    // Forgotten is not accepted: carol's old key is still the one known,
    // and her next message announces the change again and waits.
    assert.equal(
      alice.identities.known(server_, "carol"),
      carolKey,
    );
    await sendE2e(carol, "alice", "again");
    const again = await nextE2e(alice);
    const before = alice.notes.length;
    assertRefused(
      await alice.e2e.open(alice.client, again.message, again.body),
      /waits until you accept their new key/,
    );
    assert.match(
      alice.notes.slice(before).join("\n"),
      /carol's identity key has changed/,
    );
    // Carol's change came back as the newest: the oldest then, name1's,
    // went, and bob's stays.
    assert.ok(alice.state.changes.has(peerKey(server_, "bob")));
    assert.ok(!alice.state.changes.has(peerKey(server_, "name1")));
  } finally {
    await alice.client.quit();
    await bob.client.quit();
    await carol.client.quit();
  }
});

Deno.test("E2eSessions.open refuses, never throws, on a history entry with a time no date can hold", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  try {
    const opened = await alice.e2e.open(alice.client, {
      t: "e2e_private",
      from: "alice",
      to: "bob",
      fingerprint: "SHA256:" + "a".repeat(43),
      ts: Number.MAX_SAFE_INTEGER,
      id: 1,
      seq: 1,
      history: true,
    }, new Uint8Array(60));
    assertRefused(
      opened,
      /^ERROR: Your end-to-end message to bob .* is not in this client's archive/,
    );
  } finally {
    await alice.client.quit();
  }
});

Deno.test("E2eSessions.open shows no altered envelope: seeded bit flips, cuts, additions and relabellings are all refused", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const bob = await e2ePeer(server, "bob");
  try {
    await sendE2e(alice, "bob", "the one genuine message");
    const genuine = await nextE2e(bob);
    const other = "SHA256:" + "z".repeat(43);
    let cases = 0;
    const rng = new Rng(fuzzSeed(0xe2e5));
    for (let i = 0; i < fuzzCases(150); i++) {
      const body = genuine.body.slice();
      let mutated: Uint8Array = body;
      switch (rng.int(4)) {
        case 0:
          for (let flips = rng.range(1, 3); flips > 0; flips--) {
            body[rng.int(body.length)]! ^= 1 << rng.int(8);
          }
          break;
        case 1:
          mutated = body.subarray(0, rng.int(body.length));
          break;
        case 2:
          mutated = new Uint8Array([...body, ...rng.bytes(rng.range(1, 40))]);
          break;
        default:
          mutated = rng.bytes(rng.length(400));
      }
      const from = rng.pick(["alice", "carol", "bob"]);
      const opened = await bob.e2e.open(bob.client, {
        ...genuine.message,
        from,
        id: genuine.message.id! + 1 + i,
        fingerprint: rng.chance(0.8) ? genuine.message.fingerprint : other,
      }, mutated);
      assert.equal(
        opened.kind,
        "refused",
        `case ${i} (FUZZ_SEED=${rng.seed}): ${JSON.stringify(opened)}`,
      );
      cases++;
    }
    assert.ok(cases > 0);
    // Nothing was used up or learnt: the genuine one still opens.
    assertShown(
      await bob.e2e.open(bob.client, genuine.message, genuine.body),
      "alice",
      "the one genuine message",
    );
  } finally {
    for (const p of [alice, bob]) await p.client.quit();
  }
});

Deno.test("E2eSessions.open shows a message sent again only as history, at its first time: a replay is never a new message", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const bob = await e2ePeer(server, "bob");
  try {
    await sendE2e(alice, "bob", "pay the invoice");
    const got = await nextE2e(bob);
    const first = await bob.e2e.open(bob.client, got.message, got.body);
    assertShown(first, "alice", "pay the invoice");
    assert.equal(first.kind === "message" && first.message.history, undefined);
    // The server sends it again a day later, as if new.
    const again = await bob.e2e.open(bob.client, {
      ...got.message,
      ts: got.message.ts + 86_400_000,
      seq: got.message.seq! + 5,
    }, got.body);
    assertShown(again, "alice", "pay the invoice");
    assert.equal(again.kind === "message" && again.message.history, true);
    // At the time shown the first time: the sender's, sealed with the text.
    assert.equal(
      again.kind === "message" && again.message.ts,
      first.kind === "message" && first.message.ts,
    );
  } finally {
    for (const p of [alice, bob]) await p.client.quit();
  }
});

Deno.test("E2eSessions.open refuses a replayed first message even after every session it started is gone", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const bob = await e2ePeer(server, "bob", undefined, { oneTime: false });
  try {
    await sendE2e(alice, "bob", "transfer 100 to carol");
    const first = await nextE2e(bob);
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "transfer 100 to carol",
    );
    // A server can make alice start anew at will (it answers her with
    // `identity`): five new sessions push the first out of the four kept.
    let last = first.message;
    for (let i = 0; i < 5; i++) {
      alice.state.sessions.clear();
      await sendE2e(alice, "bob", `session ${i}`);
      const next = await nextE2e(bob);
      assertShown(
        await bob.e2e.open(bob.client, next.message, next.body),
        "alice",
        `session ${i}`,
      );
      last = next.message;
    }
    // It survives a restart of bob's client.
    bob.restart();
    assertRefused(
      await bob.e2e.open(bob.client, {
        ...first.message,
        id: last.id! + 1,
        seq: last.seq! + 1,
      }, first.body),
      /^ERROR: A private message from alice could not be opened, and is not shown: it is a first message opened before \(a replay\)/,
    );
  } finally {
    for (const p of [alice, bob]) await p.client.quit();
  }
});
