/**
 * A private text carries its sender's time (content type 3, PROTOCOL 11.7)
 * only toward a client whose bundle announced it reads type 3
 * (`"sender_time":true`, 11.1): one from before type 3 gets type 1, which it
 * shows, never an error. Real clients through a real server; the old-style
 * peer publishes its bundle as an older client did, without the field.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  createKeyring,
  type Keyring,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import {
  ContentType,
  type E2ePrivate,
  E2eSessions,
} from "../../src/client/e2e_sessions.ts";
import {
  decodeE2eState,
  type E2eState,
  emptyE2eState,
  encodeE2eState,
  peerKey,
} from "../../src/client/e2e_state.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import { openEnvelope } from "../../src/crypto/e2e_envelope.ts";
import { encodeBundle } from "../../src/crypto/prekeys.ts";
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
  e2e: E2eSessions;
  state: E2eState;
  inbox: { message: E2ePrivate; body: Uint8Array }[];
}

/**
 * A signed-in client with keys published: by publishPrekeys (this client),
 * or as a client from before type 3 did (`old`: the bundle without
 * `sender_time`).
 */
async function peer(
  server: TestServer,
  name: string,
  old = false,
): Promise<Peer> {
  const id = await testIdentity();
  const { client } = await TestClient.connect(server, name, id);
  const keyring = await createKeyring(id);
  if (old) {
    const reply = await client.request(
      { t: "e2e_keys" },
      new TextEncoder().encode(JSON.stringify(encodeBundle(keyring.bundle))),
    );
    assert.equal(reply.t, "e2e_keys", JSON.stringify(reply));
  } else {
    await publishPrekeys(client, keyring);
  }
  const inbox: Peer["inbox"] = [];
  client.onMessage(({ message, body }) => {
    if (message.t === "e2e_private") {
      inbox.push({ message, body: body.slice() });
    }
  });
  const state = emptyE2eState();
  const e2e = new E2eSessions({
    keyring,
    saveKeyring: async () => {},
    identities: KnownIdentities.inMemory(),
    state,
    saveState: () => Promise.resolve(),
    notify: () => {},
  });
  return { client, keyring, e2e, state, inbox };
}

let cids = 0;
function cid(): string {
  return (++cids).toString(16).padStart(32, "0");
}

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

/**
 * The content type of the first message `to` got from `from`, opened as any
 * client does from the protocol (11.3-11.7), not by E2eSessions.
 */
async function firstContentType(
  to: Peer,
  from: Peer,
  received: { body: Uint8Array },
): Promise<number | undefined> {
  const opened = await openEnvelope(
    {
      identity: to.keyring.identity.publicRaw,
      // A copy: opening spends the one-time key, which `to` still needs.
      secrets: {
        ...to.keyring.secrets,
        oneTime: new Map(to.keyring.secrets.oneTime),
      },
    },
    from.keyring.identity.publicRaw,
    null,
    received.body,
  );
  return opened.plaintext[0];
}

Deno.test("E2eSessions sends a plain text (type 1) to a peer whose bundle does not announce sender_time: an older client shows it", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob", true);
  try {
    const reply = await alice.e2e.sendText(
      alice.client,
      "bob",
      "the door code is 4711",
      cid(),
    );
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    const got = await next(bob);
    const type = await firstContentType(bob, alice, got);
    // Type 1 is what every client from before type 3 shows as text.
    assert.equal(type, ContentType.text);
    // Bob's bundle never said he reads it: alice keeps sending type 1.
    const again = await alice.e2e.sendText(alice.client, "bob", "2", cid());
    assert.equal(again.t, "ok", JSON.stringify(again));
    assert.equal(
      alice.state.sessions.get(peerKey(alice.client.serverFingerprint, "bob"))
        ?.senderTime,
      undefined,
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});

Deno.test("E2eSessions sends the sender's time (type 3) to a peer that announced it, who answers with it too", async () => {
  await using server = await startTestServer();
  const alice = await peer(server, "alice");
  const bob = await peer(server, "bob");
  try {
    const before = Date.now();
    const reply = await alice.e2e.sendText(alice.client, "bob", "hi", cid());
    assert.equal(reply.t, "ok", JSON.stringify(reply));
    const got = await next(bob);
    assert.equal(
      await firstContentType(bob, alice, got),
      ContentType.timedText,
    );
    const opened = await bob.e2e.open(bob.client, got.message, got.body);
    assert.equal(opened.kind, "message", JSON.stringify(opened));
    if (opened.kind === "message") {
      assert.ok(opened.message.ts >= before && opened.message.ts <= Date.now());
    }
    // Bob never fetched alice's bundle: her type 3 told him she reads it,
    // and a restart (the state as saved) keeps it.
    const key = peerKey(bob.client.serverFingerprint, "alice");
    assert.equal(bob.state.sessions.get(key)?.senderTime, true);
    const saved = decodeE2eState(encodeE2eState(bob.state));
    assert.equal(saved.sessions.get(key)?.senderTime, true);
    const answer = await bob.e2e.sendText(bob.client, "alice", "ho", cid());
    assert.equal(answer.t, "ok", JSON.stringify(answer));
    const back = await next(alice);
    const shown = await alice.e2e.open(alice.client, back.message, back.body);
    assert.equal(shown.kind, "message", JSON.stringify(shown));
    if (shown.kind === "message") assert.equal(shown.text, "ho");
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});
