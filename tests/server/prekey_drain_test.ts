/**
 * A classmate draining someone's one-time prekeys (docs/PROTOCOL.md 11.2):
 * with identities made for it (names are free), from one address, against
 * a real server; and the owner's client topping them up while it stays
 * signed in.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  createKeyring,
  fetchBundle,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import { publishKeys } from "../../src/client/publish_keys.ts";
import { encodeBundle } from "../../src/crypto/prekeys.ts";
import { MAX_STORED_ONE_TIME } from "../../src/server/prekey_directory.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { type E2ePeer, e2ePeer } from "../_helpers/e2e_peer.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** How many one-time keys the server holds for `peer` (an empty e2e_keys). */
async function held(peer: E2ePeer): Promise<number> {
  const reply = await peer.client.request(
    { t: "e2e_keys" },
    new TextEncoder().encode(
      // As the client sends it (e2e_keys.ts sendBundle): announcing that
      // it reads the sender's time, or it would be a change to store.
      JSON.stringify(
        encodeBundle({ ...peer.keyring.bundle, oneTime: [], senderTime: true }),
      ),
    ),
  );
  assert.equal(reply.t, "e2e_keys", JSON.stringify(reply));
  return reply.t === "e2e_keys" ? reply.one_time : -1;
}

/** One-time keys handed to `client` with the bundle of `name`. */
async function taken(client: ChatClient, name: string): Promise<number> {
  return (await fetchBundle(client, name)).bundle.oneTime.length;
}

Deno.test("one address takes at most a few of one user's one-time keys an hour, whatever identities it makes; past it bundles come without one", async () => {
  await using server = await startTestServer({
    // The test's clients are all on loopback, which is otherwise not held.
    connectionLimits: { limitNewNamesFromLoopback: true },
    limits: {
      oneTimeKeysPerHourPerOwnerPerAddress: 2,
      oneTimeKeysPerHourPerAddress: 3,
    },
  });
  const bob = await e2ePeer(server, "bob");
  const carol = await e2ePeer(server, "carol");
  // A classmate's accounts, each its own identity key, all from one address.
  const drainers = await Promise.all(
    ["m1", "m2", "m3", "m4"].map(async (name) =>
      await TestClient.connect(server, name, await testIdentity())
    ),
  );
  try {
    const [m1, m2, m3, m4] = drainers.map(({ client }) => client) as [
      ChatClient,
      ChatClient,
      ChatClient,
      ChatClient,
    ];
    assert.equal(await taken(m1, "bob"), 1);
    assert.equal(await taken(m2, "bob"), 1);
    // The address's two of bob's for the hour are gone: the bundle still
    // comes (X3DH without DH4), and bob keeps his keys.
    assert.equal(await taken(m3, "bob"), 0);
    assert.equal(await taken(m4, "bob"), 0);
    assert.equal(await held(bob), MAX_STORED_ONE_TIME - 2);
    // Of everyone's, three an hour: one more of carol's, then none.
    assert.equal(await taken(m3, "carol"), 1);
    assert.equal(await taken(m4, "carol"), 0);
    assert.equal(await held(carol), MAX_STORED_ONE_TIME - 1);
  } finally {
    for (const drainer of drainers) await drainer.quit();
    await bob.client.quit();
    await carol.client.quit();
  }
});

Deno.test("publishKeys tops up one-time keys while signed in: keys others took come back without signing in again", async () => {
  await using server = await startTestServer();
  const alice = await e2ePeer(server, "alice");
  const identity = await testIdentity();
  const { client } = await TestClient.connect(server, "bob", identity);
  const keyring = await createKeyring(identity);
  // Each top-up's count, as it ends.
  const waiting: ((held: number) => void)[] = [];
  const topUps: number[] = [];
  const nextTopUp = () =>
    new Promise<number>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`no top-up within ${WAIT_MS} ms`)),
        WAIT_MS,
      );
      waiting.push((count) => {
        clearTimeout(deadline);
        resolve(count);
      });
    });
  const first = nextTopUp();
  const published = publishKeys(
    client,
    {
      keyring,
      save: async () => {},
    },
    (event) => assert.fail(JSON.stringify(event)),
    {
      everyMs: 20,
      done: (count) => {
        topUps.push(count);
        waiting.shift()?.(count);
      },
    },
  );
  try {
    await published;
    assert.equal(await first, MAX_STORED_ONE_TIME);
    assert.equal(await taken(alice.client, "bob"), 1);
    // The first top-up seen may have asked before alice took hers; the
    // second began after it had ended.
    await nextTopUp();
    assert.equal(await nextTopUp(), MAX_STORED_ONE_TIME);
    const reply = await client.request(
      { t: "e2e_keys" },
      new TextEncoder().encode(
        JSON.stringify(encodeBundle({ ...keyring.bundle, oneTime: [] })),
      ),
    );
    assert.deepEqual(
      reply.t === "e2e_keys" ? reply.one_time : reply,
      MAX_STORED_ONE_TIME,
    );
  } finally {
    await client.quit();
    await alice.client.quit();
  }
});

Deno.test("an empty top-up that brings nothing new writes nothing, and whoever took one of the owner's keys still did", async () => {
  await using dir = await tempDir("prekey-top-up-");
  const path = join(dir.path, "chat.db");
  const store = openStore(path);
  // Another connection to the database, as `chat admin` is: its
  // data_version moves when the server commits.
  const beside = new DatabaseSync(path);
  const version = () =>
    (beside.prepare("PRAGMA data_version").get() as { data_version: number })
      .data_version;
  try {
    await using server = await startTestServer({ store });
    const bob = await e2ePeer(server, "bob");
    const alice = await e2ePeer(server, "alice");
    try {
      assert.equal(await taken(alice.client, "bob"), 1);
      const before = version();
      // Bob's client asking how many are left, as it does every 10 minutes.
      assert.equal(await held(bob), MAX_STORED_ONE_TIME - 1);
      assert.equal(version(), before, "the empty top-up wrote to the store");
      // Nothing came to take: alice, who took one, gets none again.
      assert.equal(await taken(alice.client, "bob"), 0);
      assert.equal(await held(bob), MAX_STORED_ONE_TIME - 1);
    } finally {
      await alice.client.quit();
      await bob.client.quit();
    }
  } finally {
    beside.close();
    store.close();
  }
});

Deno.test("a client that lost its keys but kept its identity publishes new ones, and the server hands out none of the old one-time keys", async () => {
  await using server = await startTestServer();
  const bob = await e2ePeer(server, "bob");
  const alice = await e2ePeer(server, "alice");
  try {
    // Bob's key store is gone, his identity is not: new keys, the same ids.
    const keyring = await createKeyring(bob.identity);
    assert.equal(
      await publishPrekeys(bob.client, keyring),
      MAX_STORED_ONE_TIME,
    );
    const { bundle } = await fetchBundle(alice.client, "bob");
    assert.deepEqual(bundle.signed.key, keyring.bundle.signed.key);
    const [one] = bundle.oneTime;
    assert.ok(one !== undefined, "no one-time key handed out");
    // One Bob can still open a first message with: of his new keys.
    assert.deepEqual(
      one.key,
      keyring.secrets.oneTime.get(one.id)?.publicRaw,
      `one-time key ${one.id} is one of the keys Bob lost`,
    );
  } finally {
    await alice.client.quit();
    await bob.client.quit();
  }
});
