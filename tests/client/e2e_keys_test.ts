import assert from "node:assert/strict";
import { encodeBundle } from "../../src/crypto/prekeys.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import {
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetInitAlice,
  ratchetInitBob,
} from "../../src/crypto/ratchet.ts";
import { x3dhInitiate, x3dhRespond } from "../../src/crypto/x3dh.ts";
import {
  createKeyring,
  E2eKeyError,
  fetchBundle,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import { ChatClient } from "../../src/client/chat_client.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";

Deno.test("publishPrekeys tops up to 100 and fetchBundle gives each one-time key once, over a real server", async () => {
  await using server = await startTestServer();
  const bobIdentity = await testIdentity();
  const bob = await TestClient.connect(server, "Bob", bobIdentity);
  const alice = await TestClient.connect(server, "alice");
  try {
    const keyring = await createKeyring(bobIdentity);
    assert.equal(await publishPrekeys(bob.client, keyring), 100);
    assert.equal(keyring.secrets.oneTime.size, 100);
    // Already full: nothing new is made or sent.
    assert.equal(await publishPrekeys(bob.client, keyring), 100);
    assert.equal(keyring.secrets.oneTime.size, 100);

    // One requester takes at most one of Bob's one-time keys per publish
    // (PROTOCOL 11.2): three people, one key each.
    const seen = new Set<number>();
    for (const name of ["carol", "dave", "erin"]) {
      await using requester = await connectedFor(server, name);
      const fetched = await fetchBundle(requester.client, "BOB");
      assert.equal(fetched.name, "Bob");
      assert.equal(
        fetched.fingerprint,
        await identityFingerprint(bobIdentity.publicRaw),
      );
      assert.equal(fetched.bundle.oneTime.length, 1);
      seen.add(fetched.bundle.oneTime[0]!.id);
    }
    assert.equal(seen.size, 3);
    // Bob signs in again later and tops up what was used.
    assert.equal(await publishPrekeys(bob.client, keyring), 100);
    assert.equal(keyring.secrets.oneTime.size, 103);

    // The fetched bundle carries a real agreement and ratchet.
    const aliceIdentity = await testIdentity();
    const aliceKeys = await createKeyring(aliceIdentity);
    const fetched = await fetchBundle(alice.client, "bob");
    const a = await x3dhInitiate({
      identity: aliceIdentity.publicRaw,
      dh: aliceKeys.bundle.dh,
      dhPair: aliceKeys.secrets.dh,
    }, fetched.bundle);
    const sent = await ratchetEncrypt(
      await ratchetInitAlice(a.sharedKey, a.associatedData, a.theirRatchetKey),
      new TextEncoder().encode("hello bob"),
    );
    const b = await x3dhRespond(bobIdentity.publicRaw, keyring.secrets, a.init);
    const opened = await ratchetDecrypt(
      ratchetInitBob(
        b.sharedKey,
        b.associatedData,
        keyring.secrets.signed.pair,
      ),
      sent.message,
    );
    assert.equal(new TextDecoder().decode(opened.plaintext), "hello bob");
  } finally {
    await alice.quit();
    await bob.quit();
  }
});

Deno.test("fetchBundle refuses a bundle signed by another key than the owner's", async () => {
  await using server = await startTestServer();
  const bobIdentity = await testIdentity();
  const bob = await TestClient.connect(server, "bob", bobIdentity);
  const mallory = await TestClient.connect(server, "mallory");
  const alice = await TestClient.connect(server, "alice");
  try {
    const keyring = await createKeyring(bobIdentity);
    await publishPrekeys(bob.client, keyring);
    const bobs = await fetchBundle(alice.client, "bob");
    // Mallory publishes Bob's (validly signed) bundle under her own name.
    const reply = await mallory.client.request(
      { t: "e2e_keys" },
      new TextEncoder().encode(JSON.stringify(encodeBundle(bobs.bundle))),
    );
    assert.equal(reply.t, "e2e_keys");
    await assert.rejects(
      () => fetchBundle(alice.client, "mallory"),
      (error: Error) => {
        assert.ok(error instanceof E2eKeyError);
        assert.match(error.message, /^mallory's keys are signed by SHA256:/);
        return true;
      },
    );
    await assert.rejects(
      () => fetchBundle(alice.client, "nobody"),
      /ERROR: nobody has not published end-to-end keys/,
    );
  } finally {
    await alice.quit();
    await mallory.quit();
    await bob.quit();
  }
});

Deno.test("fetchBundle refuses a bundle a hostile server hands out under another name than the one asked for", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  // The server's own key, as a name nobody has seen yet: trust on first use
  // would take it, for messages meant for bob.
  const mallory = await createKeyring(await testIdentity());
  const serving = (async () => {
    for (;;) {
      const batch = await channel.receive();
      if (batch === null) return;
      for (const { header } of batch) {
        const message = parseClientMessage(header);
        if (message.t !== "e2e_bundle") continue;
        channel.send(
          {
            t: "e2e_bundle",
            re: message.id,
            name: "mallory",
            fingerprint: await identityFingerprint(
              mallory.identity.publicRaw,
            ),
          },
          new TextEncoder().encode(
            JSON.stringify(encodeBundle(mallory.bundle)),
          ),
        );
      }
    }
  })();
  try {
    await assert.rejects(
      () => fetchBundle(client, "bob"),
      (error: Error) => {
        assert.ok(error instanceof E2eKeyError);
        assert.match(
          error.message,
          /^The server answered with the keys of mallory, not of bob$/,
        );
        return true;
      },
    );
  } finally {
    channel.close();
    await client.ended;
    await serving;
  }
});

Deno.test("publishPrekeys run twice at once (a sign-in while the last still publishes) keeps the private half of every one-time key the server hands out", async () => {
  await using server = await startTestServer();
  const bobIdentity = await testIdentity();
  const bob = await TestClient.connect(server, "bob", bobIdentity);
  const alice = await TestClient.connect(server, "alice");
  try {
    const keyring = await createKeyring(bobIdentity);
    const held = await Promise.all([
      publishPrekeys(bob.client, keyring),
      publishPrekeys(bob.client, keyring),
    ]);
    assert.deepEqual(held, [100, 100]);
    assert.equal(keyring.secrets.oneTime.size, 100);
    // A few of them, one per requester (PROTOCOL 11.2).
    for (let i = 0; i < 5; i++) {
      await using requester = await connectedFor(server, `requester${i}`);
      const one = (await fetchBundle(requester.client, "bob")).bundle
        .oneTime[0]!;
      const pair = keyring.secrets.oneTime.get(one.id);
      assert.ok(
        pair !== undefined,
        `no private half for one-time key ${one.id}`,
      );
      assert.deepEqual(pair.publicRaw, one.key, `another key for id ${one.id}`);
    }
  } finally {
    await alice.quit();
    await bob.quit();
  }
});

/** A user signed in with an identity key of its own, quit when disposed. */
async function connectedFor(
  server: Awaited<ReturnType<typeof startTestServer>>,
  name: string,
): Promise<{ client: ChatClient } & AsyncDisposable> {
  const user = await TestClient.connect(server, name);
  return { client: user.client, [Symbol.asyncDispose]: () => user.quit() };
}

Deno.test("publishPrekeys asks again after a pause while the server says slow_down: lines said at once took the connection's burst, and the keys are published still", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 2, messageBurst: 2 },
  });
  const identity = await testIdentity();
  const bob = await TestClient.connect(server, "bob", identity);
  try {
    // As a script's lines typed at once: they take the burst first.
    let refused = false;
    for (let i = 0; i < 10 && !refused; i++) {
      const reply = await bob.client.request(
        { t: "say" },
        new TextEncoder().encode(`line ${i}`),
      );
      refused = reply.t === "error" && reply.code === "slow_down";
    }
    assert.ok(refused, "the lines took the burst");
    const keyring = await createKeyring(identity);
    // Before: E2eKeyError "slow down" (a terminal's "End-to-end keys not
    // published: ERROR: slow down"), and no keys to send to bob with.
    assert.equal(await publishPrekeys(bob.client, keyring), 100);
  } finally {
    await bob.quit();
  }
});
