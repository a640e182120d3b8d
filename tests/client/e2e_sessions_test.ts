/**
 * E2eSessions between real clients through a real server (docs/PROTOCOL.md
 * 11.7, 11.8): what a server might do to an envelope (alter it, replay it,
 * hand it over as someone else's, name another key) is refused and never
 * shown; a changed key holds messages until /trust; safety numbers match on
 * both sides and change with a key.
 */

import assert from "node:assert/strict";
import {
  type ChatClient,
  wasUnanswered,
} from "../../src/client/chat_client.ts";
import {
  createKeyring,
  type Keyring,
  publishPrekeys,
  SIGNED_PREKEY_LIFETIME_MS,
} from "../../src/client/e2e_keys.ts";
import {
  decodeUnreadable,
  type E2ePrivate,
  E2eSessions,
  encodeUnreadable,
  excerpt,
  MAX_UNREADABLE_NOTICES,
  type Opened,
} from "../../src/client/e2e_sessions.ts";
import {
  decodeE2eState,
  type E2eState,
  emptyE2eState,
  encodeE2eState,
  keepSession,
  MAX_PEER_SESSIONS,
  peerKey,
} from "../../src/client/e2e_state.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

interface Peer {
  client: ChatClient;
  keyring: Keyring;
  state: E2eState;
  e2e: E2eSessions;
  notes: string[];
  /** A new E2eSessions from the state last saved (a client restart). */
  restart(): void;
  /** Every e2e_private received, with its body. */
  inbox: { message: E2ePrivate; body: Uint8Array }[];
}

async function peer(
  server: TestServer,
  name: string,
  identity?: Identity,
  identities = KnownIdentities.inMemory(),
): Promise<Peer> {
  const id = identity ?? await testIdentity();
  const { client } = await TestClient.connect(server, name, id);
  const keyring = await createKeyring(id);
  await publishPrekeys(client, keyring);
  const notes: string[] = [];
  const inbox: Peer["inbox"] = [];
  const state = emptyE2eState();
  client.onMessage(({ message, body }) => {
    if (message.t === "e2e_private") {
      inbox.push({ message, body: body.slice() });
    }
  });
  // What the file would hold: the state as last saved.
  let saved = encodeE2eState(state);
  const sessions = (state: E2eState) =>
    new E2eSessions({
      keyring,
      saveKeyring: async () => {},
      identities,
      state,
      saveState: (current) => {
        saved = encodeE2eState(current);
        return Promise.resolve();
      },
      notify: (lines) => notes.push(...lines.map(({ text }) => text)),
    });
  const p: Peer = {
    client,
    keyring,
    state,
    notes,
    inbox,
    e2e: sessions(state),
    restart: () => {
      p.state = decodeE2eState(saved);
      p.e2e = sessions(p.state);
    },
  };
  return p;
}

let cids = 0;
function cid(): string {
  return (++cids).toString(16).padStart(32, "0");
}

/** The next e2e_private `p` receives (waited for, with a deadline). */
async function next(
  p: Peer,
): Promise<{ message: E2ePrivate; body: Uint8Array }> {
  const deadline = Date.now() + WAIT_MS;
  while (p.inbox.length === 0) {
    if (Date.now() > deadline) assert.fail("no e2e_private arrived");
    await p.client.request({ t: "ping" });
  }
  return p.inbox.shift()!;
}

async function send(from: Peer, to: string, text: string) {
  const reply = await from.e2e.sendText(from.client, to, text, cid());
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

/** The safety number in /verify's lines. */
function numberOf(lines: string[]): string {
  return lines.slice(1, 3).map((line) => line.trim()).join(" ");
}

function assertShown(opened: Opened, from: string, text: string): void {
  assert.equal(opened.kind, "message", JSON.stringify(opened));
  if (opened.kind !== "message") return;
  assert.equal(opened.message.t, "private");
  assert.equal(opened.message.from, from);
  assert.equal(opened.text, text);
}

function assertRefused(opened: Opened, pattern: RegExp): void {
  assert.equal(opened.kind, "refused", JSON.stringify(opened));
  if (opened.kind !== "refused") return;
  assert.match(opened.lines.join("\n"), pattern);
}

Deno.test("E2eSessions opens what a real server relays, and refuses an altered, replayed or swapped envelope without showing it", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  const carol = await peer(server, "carol");
  try {
    await send(alice, "bob", "first");
    const first = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "first",
    );
    // Sent again by the server under the same id: shown from the archive.
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "first",
    );
    // Replayed under a new id: its keys are gone.
    assertRefused(
      await bob.e2e.open(
        bob.client,
        { ...first.message, id: first.message.id! + 1000 },
        first.body,
      ),
      /^ERROR: A private message from alice could not be opened/,
    );

    await send(alice, "bob", "second");
    const second = await next(bob);
    const altered = second.body.slice();
    altered[altered.length - 1]! ^= 1;
    assertRefused(
      await bob.e2e.open(bob.client, second.message, altered),
      /could not be opened/,
    );
    // The failed attempt changed nothing: the genuine one still opens.
    assertShown(
      await bob.e2e.open(bob.client, second.message, second.body),
      "alice",
      "second",
    );

    // Carol's envelope handed to bob as if alice had sent it, and alice's
    // as if carol had: neither opens.
    await send(carol, "bob", "from carol");
    const fromCarol = await next(bob);
    assertRefused(
      await bob.e2e.open(
        bob.client,
        {
          ...fromCarol.message,
          from: "alice",
          fingerprint: first.message.fingerprint,
        },
        fromCarol.body,
      ),
      /could not be opened/,
    );
    await send(alice, "bob", "third");
    const third = await next(bob);
    assertRefused(
      await bob.e2e.open(
        bob.client,
        {
          ...third.message,
          from: "carol",
          fingerprint: fromCarol.message.fingerprint,
        },
        third.body,
      ),
      /could not be opened/,
    );
    assertShown(
      await bob.e2e.open(bob.client, fromCarol.message, fromCarol.body),
      "carol",
      "from carol",
    );
    assertShown(
      await bob.e2e.open(bob.client, third.message, third.body),
      "alice",
      "third",
    );
    // Bob answers alice on the same session.
    await send(bob, "alice", "answer");
    const answer = await next(alice);
    assertShown(
      await alice.e2e.open(alice.client, answer.message, answer.body),
      "bob",
      "answer",
    );
    // A server naming another key for alice's genuine envelope: refused,
    // and it teaches bob nothing about alice's key.
    await send(alice, "bob", "fourth");
    const fourth = await next(bob);
    assertRefused(
      await bob.e2e.open(
        bob.client,
        { ...fourth.message, fingerprint: fromCarol.message.fingerprint },
        fourth.body,
      ),
      /sealed by another identity key than the one the server names/,
    );
    assert.deepEqual(bob.notes, []);
    assertShown(
      await bob.e2e.open(bob.client, fourth.message, fourth.body),
      "alice",
      "fourth",
    );
  } finally {
    for (const p of [alice, bob, carol]) await p.client.quit();
  }
});

Deno.test("E2eSessions shows the same safety number on both sides, holds messages to a changed key until /trust, and the number then changes", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await peer(server, "alice");
  let bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "hello");
    const hello = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, hello.message, hello.body),
      "alice",
      "hello",
    );

    const fromAlice = await alice.e2e.verify(alice.client, "bob", null);
    const fromBob = await bob.e2e.verify(bob.client, "alice", null);
    const number = numberOf(fromAlice);
    assert.match(number, /^(\d{5} ){11}\d{5}$/);
    assert.equal(numberOf(fromBob), number);
    assert.match(fromAlice[3]!, /bob is not verified/);
    assert.equal(
      alice.e2e.verification(
        alice.client.serverFingerprint,
        "bob",
        hello.message.fingerprint,
      ),
      "unverified",
    );
    assert.match(
      (await alice.e2e.verify(alice.client, "bob", "1".repeat(60)))[0]!,
      /^ERROR: The safety numbers differ/,
    );
    assert.match(
      (await alice.e2e.verify(alice.client, "bob", number.replaceAll(" ", "")))[
        0
      ]!,
      /match: bob .* is marked verified/,
    );
    const bobKey = await bob.client.request({ t: "list" });
    assert.equal(bobKey.t, "users");

    // Bob's name goes to a new key (the operator released it).
    await bob.client.quit();
    store.releaseName("bob", 0);
    bob = await peer(server, "bob");
    const held = await alice.e2e.sendText(
      alice.client,
      "bob",
      "are you bob?",
      cid(),
    );
    assert.equal(held.t, "error");
    assert.match(
      held.t === "error" ? held.text : "",
      /held until you accept the new key with \/trust bob/,
    );
    assert.match(
      alice.notes.join("\n"),
      /WARNING: bob's identity key has changed!/,
    );
    assert.equal(bob.inbox.length, 0);
    // The new bob writes first: opened, but held until alice accepts his key.
    await send(bob, "alice", "it is me, new key");
    const fromNewBob = await next(alice);
    assertRefused(
      await alice.e2e.open(alice.client, fromNewBob.message, fromNewBob.body),
      /^A private message from bob waits until you accept their new key \(\/trust bob\)$/,
    );
    // The number to compare before accepting: with bob's new key, the
    // same on his side; matching it marks the new key verified, which
    // /trust then keeps.
    const pending = await alice.e2e.verify(alice.client, "bob", null);
    assert.match(
      pending[0]!,
      /^Safety number with bob's new key, not accepted yet/,
    );
    assert.match(
      pending[3]!,
      /Accept it with \/trust bob once the numbers match/,
    );
    const pendingNumber = numberOf(pending);
    assert.notEqual(pendingNumber, number);
    assert.equal(
      numberOf(await bob.e2e.verify(bob.client, "alice", null)),
      pendingNumber,
    );
    assert.match(
      (await alice.e2e.verify(alice.client, "bob", number.replaceAll(" ", "")))[
        0
      ]!,
      /^ERROR: The safety numbers differ/,
    );
    assert.match(
      (await alice.e2e.verify(
        alice.client,
        "bob",
        pendingNumber.replaceAll(" ", ""),
      ))[0]!,
      /match: bob .* is marked verified; accept the new key with \/trust bob$/,
    );
    // A group message from the new bob (its sender key came in a held
    // private message) is held with the change too, after it; one from
    // someone whose key did not change is not.
    const groupMessage = {
      t: "e2e_group" as const,
      group: "g",
      from: "bob",
      fingerprint: fromNewBob.message.fingerprint,
      ts: 1,
      id: 999_999,
    };
    const groupBody = new Uint8Array([1, 2, 3]);
    assert.deepEqual(
      await alice.e2e.holdGroup(alice.client, groupMessage, groupBody),
      [
        "A group message from bob in g waits until you accept their new key (/trust bob)",
      ],
    );
    assert.equal(
      await alice.e2e.holdGroup(
        alice.client,
        { ...groupMessage, from: "carol" },
        groupBody,
      ),
      null,
    );
    // What waits for /trust survives a restart of alice's client.
    alice.restart();

    const trusted = await alice.e2e.trust(alice.client, "bob");
    assert.match(
      trusted.lines[0]!,
      /new identity key .* is accepted; 1 held message\(s\) sent, 2 opened/,
    );
    assert.equal(trusted.opened.length, 2);
    assertShown(trusted.opened[0]!, "bob", "it is me, new key");
    // The group message, in its turn, for group_sessions.ts to open.
    assert.deepEqual(trusted.opened[1], {
      kind: "group",
      message: groupMessage,
      body: groupBody,
    });
    assert.equal(trusted.sent.length, 1);
    assert.equal(trusted.sent[0]!.reply.t, "ok");
    const delivered = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, delivered.message, delivered.body),
      "alice",
      "are you bob?",
    );
    const after = await alice.e2e.verify(alice.client, "bob", null);
    assert.equal(numberOf(after), pendingNumber);
    // Verified before /trust, of the key /trust accepted.
    assert.match(after[3]!, /bob is verified/);
    assert.match(
      (await alice.e2e.trust(alice.client, "bob")).lines[0]!,
      /^ERROR: bob's identity key has not changed/,
    );
    // A name never seen has no key to compare: "has not changed" said a
    // key was known. Before: "nobody's identity key has not changed".
    assert.deepEqual((await alice.e2e.trust(alice.client, "nobody")).lines, [
      "ERROR: No identity key is known for nobody, so there is nothing to accept (/trust accepts a key that changed, after the warning that says so)",
    ]);
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions holds a message to a changed key once while the session with the old key is kept, and /trust sends it once", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await peer(server, "alice");
  let bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "hello");
    const hello = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, hello.message, hello.body),
      "alice",
      "hello",
    );
    // Bob's name goes to a new key, and the new bob writes first: alice
    // learns of the change from his message, and still holds the session
    // with the old key.
    await bob.client.quit();
    store.releaseName("bob", 0);
    bob = await peer(server, "bob");
    await send(bob, "alice", "new key here");
    const fromNewBob = await next(alice);
    assertRefused(
      await alice.e2e.open(alice.client, fromNewBob.message, fromNewBob.body),
      /waits until you accept their new key/,
    );
    assert.ok(
      alice.state.sessions.has(
        peerKey(alice.client.serverFingerprint, "bob"),
      ),
    );
    const held = await alice.e2e.sendText(
      alice.client,
      "bob",
      "only once",
      cid(),
    );
    assert.match(
      held.t === "error" ? held.text : "",
      /held until you accept the new key with \/trust bob/,
    );
    assert.equal(
      alice.state.changes.get(
        peerKey(alice.client.serverFingerprint, "bob"),
      )?.outgoing.length,
      1,
    );

    const trusted = await alice.e2e.trust(alice.client, "bob");
    assert.match(trusted.lines[0]!, /1 held message\(s\) sent, 1 opened/);
    assert.equal(trusted.sent.length, 1);
    assert.equal(trusted.sent[0]!.reply.t, "ok");
    const delivered = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, delivered.message, delivered.body),
      "alice",
      "only once",
    );
    await bob.client.request({ t: "ping" });
    assert.equal(bob.inbox.length, 0);
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions settles on one session when both sides write first at once", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "hi bob");
    await send(bob, "alice", "hi alice");
    const toBob = await next(bob);
    const toAlice = await next(alice);
    assertShown(
      await bob.e2e.open(bob.client, toBob.message, toBob.body),
      "alice",
      "hi bob",
    );
    assertShown(
      await alice.e2e.open(alice.client, toAlice.message, toAlice.body),
      "bob",
      "hi alice",
    );
    for (let round = 0; round < 3; round++) {
      await send(alice, "bob", `a${round}`);
      const a = await next(bob);
      assertShown(
        await bob.e2e.open(bob.client, a.message, a.body),
        "alice",
        `a${round}`,
      );
      await send(bob, "alice", `b${round}`);
      const b = await next(alice);
      assertShown(
        await alice.e2e.open(alice.client, b.message, b.body),
        "bob",
        `b${round}`,
      );
    }
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions with a peer's session forgotten (MAX_PEER_SESSIONS others used since) tells the sender which message it could not read, end to end, and the sender's next message goes on the new session", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "hi bob");
    const first = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "hi bob",
    );
    await send(bob, "alice", "hi alice");
    const answer = await next(alice);
    assertShown(
      await alice.e2e.open(alice.client, answer.message, answer.body),
      "bob",
      "hi alice",
    );
    // A thousand others write to bob since (a classmate's accounts, say).
    const filler = [...bob.state.sessions.values()][0]!;
    for (let i = 0; i < MAX_PEER_SESSIONS; i++) {
      keepSession(
        bob.state,
        peerKey(bob.client.serverFingerprint, `other${i}`),
        filler,
      );
    }
    await send(alice, "bob", "still there?");
    const lost = await next(bob);
    assertRefused(
      await bob.e2e.open(bob.client, lost.message, lost.body),
      /from alice could not be opened.*forgot its session with alice.*: alice is told which one, and their next message starts a new session$/,
    );
    // Bob's client tells alice's, on a session it starts: alice learns
    // which message was lost, and takes that session to send on.
    const notice = await next(alice);
    assertRefused(
      await alice.e2e.open(alice.client, notice.message, notice.body),
      /^ERROR: bob could not read your message of \d\d:\d\d \("still there\?"\): their client no longer had your end-to-end session\. Your next message to bob goes on a new one: send it again$/,
    );
    // Shown once: sent again by the server (or in /history), it is not.
    assert.deepEqual(
      await alice.e2e.open(alice.client, notice.message, notice.body),
      { kind: "refused", lines: [] },
    );
    // Another message bob cannot open (alice's sent before the notice came)
    // tells her nothing more: bob has a session with her now.
    const stale = { ...lost.message, id: lost.message.id! + 1000 };
    assertRefused(
      await bob.e2e.open(bob.client, stale, lost.body),
      /from alice could not be opened/,
    );
    await send(alice, "bob", "still there!");
    const again = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, again.message, again.body),
      "alice",
      "still there!",
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions tells at most MAX_UNREADABLE_NOTICES senders a minute that their message could not be read: made-up messages from many names are no flood", async () => {
  await using server = await startTestServer();
  const bob = await peer(server, "bob");
  const senders = [];
  try {
    for (let i = 0; i <= MAX_UNREADABLE_NOTICES; i++) {
      senders.push(
        (await TestClient.connect(server, `stranger${i}`, await testIdentity()))
          .client,
      );
    }
    const bobKey = bob.keyring.identity.fingerprint;
    for (const stranger of senders) {
      const reply = await stranger.request(
        { t: "e2e_msg", to: "bob", fingerprint: bobKey, cid: cid() },
        new Uint8Array([1, 2, 0, 0]),
      );
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }
    const told: boolean[] = [];
    for (let i = 0; i < senders.length; i++) {
      const { message, body } = await next(bob);
      const opened = await bob.e2e.open(bob.client, message, body);
      assertRefused(opened, /could not be opened/);
      told.push(
        opened.kind === "refused" && /is told/.test(opened.lines.join("")),
      );
    }
    assert.deepEqual(
      told,
      [...Array(MAX_UNREADABLE_NOTICES).fill(true), false],
    );
  } finally {
    for (const stranger of senders) await stranger.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions tells its user when the sender of a message it could not open could not be told after all (no keys of theirs), and what to do instead", async () => {
  await using server = await startTestServer();
  const bob = await peer(server, "bob");
  // A stranger who never published end-to-end keys: a notice, a secret,
  // is never sent to them in the clear.
  const { client: stranger } = await TestClient.connect(
    server,
    "stranger",
    await testIdentity(),
  );
  try {
    const reply = await stranger.request(
      {
        t: "e2e_msg",
        to: "bob",
        fingerprint: bob.keyring.identity.fingerprint,
        cid: cid(),
      },
      new Uint8Array([1, 2, 0, 0]),
    );
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    const { message, body } = await next(bob);
    assertRefused(
      await bob.e2e.open(bob.client, message, body),
      /: stranger is told which one/,
    );
    // After the notice's attempt (one at a time): what bob sends next.
    await bob.e2e.sendSecret(
      bob.client,
      "stranger",
      "x",
      new Uint8Array(1),
      cid(),
    );
    assert.ok(
      bob.notes.some((line) =>
        /^ERROR: stranger could not be told that their message of \d\d:\d\d could not be opened: stranger has not published end-to-end keys: a secret is never sent in the clear; \/msg stranger to start a new one, and ask them to send it again$/
          .test(line)
      ),
      JSON.stringify(bob.notes),
    );
  } finally {
    await stranger.quit();
    await bob.client.quit();
  }
});

Deno.test("encodeUnreadable and decodeUnreadable carry a message's id and time in 17 bytes, and refuse any other layout", () => {
  const bytes = encodeUnreadable(1201, 1767225600000);
  assert.equal(
    toHexString(bytes),
    "01" + "00000000000004b1" + "0000019b76daa800",
  );
  assert.deepEqual(decodeUnreadable(bytes), { id: 1201, ts: 1767225600000 });
  assert.equal(decodeUnreadable(bytes.subarray(0, 16)), null);
  assert.equal(
    decodeUnreadable(new Uint8Array([2, ...bytes.subarray(1)])),
    null,
  );
  const huge = bytes.slice();
  huge.fill(0xff, 1, 9);
  assert.equal(decodeUnreadable(huge), null);
});

function toHexString(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("E2eSessions.sendSecret hands a small secret to the recipient's module once, and never sends it in the clear", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  const dave = await TestClient.connect(server, "dave"); // no keys published
  try {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const reply = await alice.e2e.sendSecret(
      alice.client,
      "bob",
      "file-key",
      key,
      cid(),
    );
    assert.equal(reply.t, "ok");
    const got = await next(bob);
    const opened = await bob.e2e.open(bob.client, got.message, got.body);
    assert.equal(opened.kind, "secret");
    if (opened.kind === "secret") {
      assert.equal(opened.from, "alice");
      assert.equal(opened.label, "file-key");
      assert.deepEqual(opened.secret, key);
    }
    // Sent again by the server once its module has it: dropped without a
    // word.
    if (opened.kind === "secret") opened.taken();
    assert.deepEqual(await bob.e2e.open(bob.client, got.message, got.body), {
      kind: "refused",
      lines: [],
    });
    const refused = await alice.e2e.sendSecret(
      alice.client,
      "dave",
      "file-key",
      key,
      cid(),
    );
    assert.equal(refused.t === "error" && refused.code, "no_keys");
    await dave.client.request({ t: "ping" });
    assert.equal(
      dave.inbox.filter((m) => m.message.t === "private").length,
      0,
    );
  } finally {
    for (const c of [alice.client, bob.client, dave.client]) await c.quit();
  }
});

Deno.test("a secret its module had not kept when the client was stopped (kill -9) is given again when the server sends it again: a sender key was lost for good", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const reply = await alice.e2e.sendSecret(
      alice.client,
      "bob",
      "sender key crew",
      key,
      cid(),
    );
    assert.equal(reply.t, "ok");
    const got = await next(bob);
    const first = await bob.e2e.open(bob.client, got.message, got.body);
    assert.equal(first.kind, "secret");
    // Opening saved the session (its message key spent) and archived the
    // message; bob is killed before the group module saved the key, and
    // the server sends the message again to his next process.
    bob.restart();
    const again = await bob.e2e.open(bob.client, got.message, got.body);
    assert.equal(again.kind, "secret", JSON.stringify(again));
    if (again.kind !== "secret") return;
    assert.equal(again.from, "alice");
    assert.equal(again.label, "sender key crew");
    assert.deepEqual(again.secret, key);
    // Kept by its module now: a copy after that is dropped, even after a
    // restart once that state is saved.
    again.taken();
    assert.deepEqual(await bob.e2e.open(bob.client, got.message, got.body), {
      kind: "refused",
      lines: [],
    });
    const encoded = encodeE2eState(bob.state);
    assert.ok(!encoded.includes('"secret"'), "the taken secret's bytes stay");
  } finally {
    for (const c of [alice.client, bob.client]) await c.quit();
  }
});

// Seen trying the README as a new user: `/msg ghost hi` (a typo) warned
// that the message to ghost was not end to end, then said ghost is not online.
Deno.test("E2eSessions warns that a message goes in the clear only when it went: a name nobody has gets the server's error alone", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const dave = await TestClient.connect(server, "dave"); // no keys published
  try {
    const typo = await alice.e2e.sendText(alice.client, "ghost", "hi", cid());
    assert.equal(typo.t === "error" && typo.code, "no_such_user");
    assert.deepEqual(alice.notes, []);
    const plain = await alice.e2e.sendText(alice.client, "dave", "hi", cid());
    assert.equal(plain.t, "ok", JSON.stringify(plain));
    assert.deepEqual(alice.notes, [
      "dave has not published end-to-end keys: this message is not end-to-end encrypted, and the host of the server can read it",
    ]);
  } finally {
    for (const c of [alice.client, dave.client]) await c.quit();
  }
});

Deno.test("E2eSessions does not fall back to plain text for someone it knows a key for when a server says they have none", async () => {
  const identity = await testIdentity();
  const alice = await (async () => {
    await using first = await startTestServer();
    const alice = await peer(first, "alice", identity);
    const bob = await peer(first, "bob");
    await send(alice, "bob", "hello");
    await alice.client.quit();
    await bob.client.quit();
    return alice;
  })();
  // Another server with the same key, that has no keys for bob (a restart
  // of the reference server loses them; a hostile one hides them).
  await using second = await startTestServer();
  const { client } = await TestClient.connect(second, "alice", identity);
  try {
    alice.state.sessions.clear();
    const reply = await alice.e2e.sendText(client, "bob", "in clear?", cid());
    assert.equal(reply.t, "error");
    assert.match(
      reply.t === "error" ? reply.text : "",
      /^ERROR: Not sent: bob has used end-to-end keys before, but the server has none for them now/,
    );
  } finally {
    await client.quit();
  }
});

Deno.test("a signed prekey replaced at a sign-in a week on still answers a first message made with the old one", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  const carol = await peer(server, "carol");
  try {
    const before = bob.keyring.secrets.signed.id;
    // Alice's first message uses bob's signed prekey as it is now...
    await send(alice, "bob", "made with the old key");
    const old = await next(bob);
    // ...and bob signs in again a week later, with a new one.
    const later = Date.now() + SIGNED_PREKEY_LIFETIME_MS + 1000;
    await publishPrekeys(bob.client, bob.keyring, async () => {}, later);
    assert.equal(bob.keyring.secrets.signed.id, before + 1);
    assert.equal(bob.keyring.retired?.id, before);
    assertShown(
      await bob.e2e.open(bob.client, old.message, old.body),
      "alice",
      "made with the old key",
    );
    // Carol fetches the new one.
    await send(carol, "bob", "made with the new key");
    const fresh = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, fresh.message, fresh.body),
      "carol",
      "made with the new key",
    );
  } finally {
    for (const p of [alice, bob, carol]) await p.client.quit();
  }
});

Deno.test("one-time keys published while a first message is being opened stay in the keyring, and answer the next first message", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const carol = await peer(server, "carol");
  // Bob's list of known keys is written when alice's first message opens:
  // held there, the open is caught between its copy of the one-time keys
  // and putting what it spent back, as a sign-in's publishing would.
  const writing = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let kept: string | null = null;
  const bob = await peer(
    server,
    "bob",
    undefined,
    await KnownIdentities.load({
      where: "test",
      read: () => Promise.resolve(kept),
      write: async (text) => {
        writing.resolve();
        await release.promise;
        kept = text;
      },
    }),
  );
  const keyring = bob.keyring;
  try {
    const first = [...keyring.secrets.oneTime.keys()][0]!;
    await send(alice, "bob", "first");
    const fromAlice = await next(bob);
    const opening = bob.e2e.open(bob.client, fromAlice.message, fromAlice.body);
    await writing.promise;
    // The server handed one key to alice: bob tops up with a new id.
    assert.equal(await publishPrekeys(bob.client, keyring), 100);
    const added = keyring.nextOneTimeId - 1;
    assert.ok(keyring.secrets.oneTime.has(added));
    release.resolve();
    assertShown(await opening, "alice", "first");
    assert.equal(keyring.secrets.oneTime.has(first), false, "spent, gone");
    assert.ok(keyring.secrets.oneTime.has(added), "published meanwhile, kept");
    // Every key the server still holds has its private half: carol's first
    // message takes the oldest, and opens.
    for (let i = 0; i < 99; i++) {
      await alice.client.request({ t: "e2e_bundle", name: "bob" });
    }
    await send(carol, "bob", "made with the newest key");
    const fromCarol = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, fromCarol.message, fromCarol.body),
      "carol",
      "made with the newest key",
    );
  } finally {
    release.resolve();
    for (const p of [alice, carol, bob]) await p.client.quit();
  }
});

Deno.test("a message to a peer who signed in moments ago and has not published keys yet waits for their keys rather than going in the clear", async () => {
  await greetingBeforeKeys(0);
});

// The wait is timed on the monotonic clock: by Date.now, a clock set
// forward just after the sign-in ended it at once, and the greeting went in
// the clear.
Deno.test("a message to a peer who signed in moments ago waits for their keys while Date.now jumps an hour forward", async () => {
  await greetingBeforeKeys(3_600_000);
});

/** alice greets bob as he signs in, before his client published its keys. */
async function greetingBeforeKeys(jumpMs: number): Promise<void> {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  // As session.ts attach(): a presence tells E2eSessions who signed in.
  const joined = Promise.withResolvers<void>();
  alice.client.onMessage(({ message }) => {
    if (message.t !== "presence" || !message.online) return;
    alice.e2e.signedIn(alice.client.serverFingerprint, message.name);
    if (message.name === "bob") joined.resolve();
  });
  const bobIdentity = await testIdentity();
  // bob signs in; his client publishes its keys in the background.
  const bob = await TestClient.connect(server, "bob", bobIdentity);
  const realNow = Date.now;
  try {
    await joined.promise;
    if (jumpMs !== 0) Date.now = () => realNow() + jumpMs;
    // The server's first answer to alice's question for bob's keys: none.
    const answered = Promise.withResolvers<void>();
    const ask = alice.client.requestWithBody.bind(alice.client);
    alice.client.requestWithBody = (message, body) => {
      const reply = ask(message, body);
      if (message.t === "e2e_bundle") {
        void reply.then(() => answered.resolve());
      }
      return reply;
    };
    // alice writes at once (a greeting on presence): bob has no keys yet.
    const greeting = alice.e2e.sendText(alice.client, "bob", "hi bob", cid());
    await answered.promise;
    // Only then does bob's client publish them.
    const bobKeys = await createKeyring(bobIdentity);
    await publishPrekeys(bob.client, bobKeys);
    assert.equal((await greeting).t, "ok");
    const first = await bob.waitFor((m) =>
      m.message.t === "private" || m.message.t === "e2e_private"
    );
    assert.equal(first.message.t, "e2e_private", "sent in the clear");
    assert.doesNotMatch(alice.notes.join("\n"), /has not published/);
  } finally {
    Date.now = realNow;
    await bob.quit();
    await alice.client.quit();
  }
}

Deno.test("a line whose connection ended before the server answered goes again on the next connection as the same envelope", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "first");
    const first = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, first.message, first.body),
      "alice",
      "first",
    );
    const sessionKey = [...alice.state.sessions.keys()][0]!;
    const sent = () => alice.state.sessions.get(sessionKey)!.session.ratchet.ns;
    const before = sent();
    // The connection ends; the line was sealed, and its request is
    // answered by the client itself: not sent.
    const lost = alice.client;
    await lost.quit();
    const retryCid = cid();
    const unanswered = await alice.e2e.sendText(lost, "bob", "again", retryCid);
    assert.ok(wasUnanswered(unanswered), JSON.stringify(unanswered));
    assert.equal(sent(), before + 1);
    // The next connection sends it again, with the same cid (session.ts).
    const { client: back } = await TestClient.connect(
      server,
      "alice",
      alice.keyring.identity,
    );
    try {
      const reply = await alice.e2e.sendText(back, "bob", "again", retryCid);
      assert.equal(reply.t, "ok", JSON.stringify(reply));
      assert.equal(sent(), before + 1, "sealed again: a message key skipped");
      const again = await next(bob);
      assertShown(
        await bob.e2e.open(bob.client, again.message, again.body),
        "alice",
        "again",
      );
    } finally {
      await back.quit();
    }
  } finally {
    await bob.client.quit();
  }
});

Deno.test("excerpt cuts a message after 40 graphemes, never inside an emoji sequence or a flag", () => {
  const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
  assert.equal(
    excerpt(`${"x".repeat(39)}${family} and more`),
    `${"x".repeat(39)}${family}...`,
  );
  const flag = "\u{1f1eb}\u{1f1f7}";
  assert.equal(excerpt(flag.repeat(41)), `${flag.repeat(40)}...`);
  assert.equal(excerpt("e\u0301".repeat(40)), "e\u0301".repeat(40));
  assert.equal(excerpt("  two\n lines  "), "two lines");
});

Deno.test("E2eSessions keeps its session with a peer when the list of identity keys cannot take them (its save fails): that line is refused, and the next one goes on the same session", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    await send(alice, "bob", "first");
    await next(bob);
    const key = peerKey(alice.client.serverFingerprint, "bob");
    const session = alice.state.sessions.get(key);
    assert.ok(session !== undefined);
    // Another list of identity keys, without bob (the people of this
    // server forgotten to make room, say), whose save fails.
    let saves = true;
    const broken = await KnownIdentities.load({
      where: "test",
      read: () => Promise.resolve(null),
      write: () =>
        saves ? Promise.resolve() : Promise.reject(new Error("disk full")),
    });
    saves = false;
    const e2e = new E2eSessions({
      keyring: alice.keyring,
      saveKeyring: async () => {},
      identities: broken,
      state: alice.state,
      saveState: () => Promise.resolve(),
      notify: (lines) => alice.notes.push(...lines.map(({ text }) => text)),
    });
    const refused = await e2e.sendText(alice.client, "bob", "second", cid());
    assert.equal(refused.t, "error");
    assert.match(
      refused.t === "error" ? refused.text : "",
      /^ERROR: Not sent: .*disk full/,
    );
    // The refusal was this client's, not the server's `identity`: the
    // session with bob is not dropped for it.
    assert.equal(alice.state.sessions.get(key), session);
    saves = true;
    await send(alice, "bob", "third");
    const third = await next(bob);
    assertShown(
      await bob.e2e.open(bob.client, third.message, third.body),
      "alice",
      "third",
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});
