/**
 * A name the operator released, signed in with a new identity key while the
 * old key's session is still connected (its goodbye not read yet, as when it
 * quit just before): the old session is ended (its name
 * released from its key), and the new one is served like any other. Suspected, and ruled out, for a CI failure in which a new
 * key's second e2e_keys found its connection lost
 * (e2e_sessions_hostile_test, bobWithNewKey). And what a release does to
 * the prekeys published under the old key: they go with it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createKeyring,
  E2eKeyError,
  fetchBundle,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import { StoreBindings } from "../../src/server/identity_gate.ts";
import { KEY_RELEASED } from "../../src/server/released_keys.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  settle,
  startTestServer,
  TestClient,
  testIdentity,
} from "../_helpers/chat.ts";
import { e2ePeer, nextE2e, sendE2e } from "../_helpers/e2e_peer.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const OLD_KEY = "SHA256:" + "o".repeat(43);

/** `promise`, or a failure saying `what` did not happen within 10 s. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} within ${WAIT_MS} ms`)),
          WAIT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
const NEW_KEY = "SHA256:" + "n".repeat(43);

/** amy, who made group `lab`, and bob under his first key, who joined it. */
async function amyAndOldBobInLab(
  server: Parameters<typeof TestClient.connect>[0],
): Promise<{ amy: TestClient; old: TestClient }> {
  const amy = await TestClient.connect(server, "amy", await testIdentity());
  const old = await TestClient.connect(server, "bob", await testIdentity());
  assert.equal(
    (await amy.client.request({ t: "create", group: "lab" })).t,
    "ok",
  );
  assert.equal((await old.client.request({ t: "join", group: "lab" })).t, "ok");
  return { amy, old };
}

Deno.test("a released name taken by a new key while the old session is connected: the old is told its name was released, the new publishes and is reached", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({ store });
  const alice = await e2ePeer(server, "alice");
  const oldBob = await e2ePeer(server, "bob");
  let newBob: Awaited<ReturnType<typeof e2ePeer>> | null = null;
  try {
    assert.ok(store.releaseName("bob", 0));
    // Signs in and publishes a full bundle (e2ePeer: an empty top-up, then
    // all its one-time keys in one e2e_keys).
    newBob = await e2ePeer(server, "bob");
    // Released by this server's own connection, which the watch does not
    // see: the old session ends as the new key signs in, told why (it did
    // not sign in from another place).
    const ending = await oldBob.client.ended;
    assert.equal(ending.clean, true, JSON.stringify(ending));
    assert.equal(ending.bye, "violation");
    assert.equal(ending.reason, `Disconnected by the server: ${KEY_RELEASED}.`);
    // Alice is handed the new key's bundle, with a one-time key.
    const fetched = await fetchBundle(alice.client, "bob");
    assert.equal(
      fetched.fingerprint,
      await identityFingerprint(newBob.identity.publicRaw),
    );
    assert.equal(fetched.bundle.oneTime.length, 1);
    // The old key's late goodbye (its quit after the replacement) changes
    // nothing for the new session.
    await oldBob.client.quit();
    await sendE2e(newBob, "alice", "new key");
    const got = await nextE2e(alice);
    assert.equal(got.message.from, "bob");
    assert.equal(newBob.client.isOver, false);
  } finally {
    await alice.client.quit();
    await newBob?.client.quit();
  }
});

Deno.test("a released name's prekeys are no longer handed out, from the server's memory or its store, once `chat admin release` ran on its database", async () => {
  await using dir = await tempDir("chat-released-prekeys-");
  const path = join(dir.path, "chat.db");
  const store = openStore(path);
  try {
    await using server = await startTestServer({ store });
    const alice = await e2ePeer(server, "alice");
    const bob = await e2ePeer(server, "bob");
    try {
      await bob.client.quit();
      // Handed out once: the server holds bob's bundle in memory now.
      const before = await fetchBundle(alice.client, "bob");
      assert.equal(
        before.fingerprint,
        await identityFingerprint(bob.identity.publicRaw),
      );
      // The operator's command, on the database beside the running server
      // (main.ts release: its own connection).
      const admin = openStore(path);
      try {
        assert.ok(admin.releaseName("bob", 0));
      } finally {
        admin.close();
      }
      const refused = await fetchBundle(alice.client, "bob").then(
        () => null,
        (error) => error,
      );
      assert.ok(refused instanceof E2eKeyError, String(refused));
      assert.equal(refused.code, "no_keys");
      assert.equal(store.getPrekeys("bob"), undefined);
    } finally {
      await alice.client.quit();
    }
  } finally {
    store.close();
  }
});

Deno.test("StoreBindings.bind drops prekeys another key left under a name it binds anew (released before releases deleted them)", () => {
  const store = openStore(":memory:");
  try {
    const bindings = new StoreBindings(store);
    bindings.bind("bob", "bob", OLD_KEY);
    store.putPrekeys("bob", {
      name: "bob",
      fingerprint: OLD_KEY,
      bundle: "{}",
    });
    // A release that left them, as releases did before.
    store.transaction(() => {
      const kept = store.getPrekeys("bob")!;
      store.releaseName("bob", 0);
      store.putPrekeys("bob", kept);
    });
    bindings.bind("bob", "bob", OLD_KEY);
    assert.equal(
      store.prekeysFingerprint("bob"),
      OLD_KEY,
      "the same key again",
    );
    store.releaseName("bob", 0);
    store.putPrekeys("bob", {
      name: "bob",
      fingerprint: OLD_KEY,
      bundle: "{}",
    });
    bindings.bind("Bob", "bob", NEW_KEY);
    assert.equal(store.getPrekeys("bob"), undefined);
    // The new owner's own, published once bound, stay.
    store.putPrekeys("bob", {
      name: "Bob",
      fingerprint: NEW_KEY,
      bundle: "{}",
    });
    bindings.bind("Bob", "bob", NEW_KEY);
    assert.equal(store.prekeysFingerprint("bob"), NEW_KEY);
  } finally {
    store.close();
  }
});

Deno.test("`chat admin release` on a running server's database: the name's next key gets none of the old key's waiting messages, groups or private and group history", async () => {
  await using dir = await tempDir("chat-released-history-");
  const path = join(dir.path, "chat.db");
  const store = openStore(path);
  try {
    await using server = await startTestServer({ store });
    const { amy, old } = await amyAndOldBobInLab(server);
    try {
      await amy.client.msg("bob", "shown to the old key");
      await amy.client.gsay("lab", "group line shown to the old key");
      await old.waitFor(({ text }) =>
        text === "group line shown to the old key"
      );
      await old.client.gsay("lab", "group line from the old key");
      await old.quit();
      await amy.waitFor(({ message }) =>
        message.t === "presence" && message.name === "bob" && !message.online
      );
      await amy.client.msg("bob", "waiting for the old key");
      await amy.client.gsay("lab", "group line waiting for the old key");

      // The operator's command, on the database beside the running server
      // (main.ts release: its own connection).
      const admin = openStore(path);
      try {
        const released = admin.releaseName("bob", Date.now());
        assert.equal(released?.waiting, 2);
        assert.deepEqual(released?.groups, ["lab"]);
      } finally {
        admin.close();
      }
      // Sent before the next key signs in, to a group this server still
      // lists bob in: the old key's, as the group was.
      await amy.client.gsay("lab", "group line after the release");
      // To the name, while no key holds it: whoever holds it next.
      await amy.client.msg("bob", "for the next key");

      const next = await TestClient.connect(
        server,
        "bob",
        await testIdentity(),
      );
      try {
        await next.waitFor(({ text }) => text === "for the next key");
        const history = await next.client.request({
          t: "history",
          target: "amy",
        });
        const group = await next.client.request({
          t: "history",
          target: "lab",
        });
        const members = await next.client.request({
          t: "members",
          group: "lab",
        });
        await settle(next);
        const texts = next.chat().map(([, , text]) => text);
        assert.deepEqual(texts, ["for the next key", "for the next key"]);
        assert.equal(history.t, "ok");
        assert.equal(group.t, "error", JSON.stringify(group));
        assert.deepEqual(
          members.t === "members" ? members.groups[0]?.members : members,
          ["amy"],
        );
        // Joining again starts afresh: nothing the old key was sent.
        assert.equal(
          (await next.client.request({ t: "join", group: "lab" })).t,
          "ok",
        );
        const rejoined = await next.client.request({
          t: "history",
          target: "lab",
        });
        assert.equal(rejoined.t, "ok", JSON.stringify(rejoined));
        await settle(next);
        assert.deepEqual(next.chat().map(([, , text]) => text), texts);
        // The others keep their side of the conversation.
        await amy.client.request({ t: "history", target: "bob" });
        const amySees = amy.chat().filter(([, , text]) =>
          text === "shown to the old key"
        );
        assert.equal(amySees.length, 1);
      } finally {
        await next.quit();
      }
    } finally {
      await amy.quit();
    }
  } finally {
    store.close();
  }
});

Deno.test("`chat admin release` while the old key stays signed in: its session is ended, and the next key is shown none of what it sent or was sent", async () => {
  await using dir = await tempDir("chat-released-connected-");
  const path = join(dir.path, "chat.db");
  const store = openStore(path);
  try {
    await using server = await startTestServer({ store });
    const { amy, old } = await amyAndOldBobInLab(server);
    try {
      await amy.client.msg("bob", "sent to the old key");
      await old.waitFor(({ text }) => text === "sent to the old key");
      await old.client.msg("amy", "sent by the old key");
      await amy.waitFor(({ text }) => text === "sent by the old key");
      // The operator's command, on the database beside the running server
      // (main.ts release: its own connection), while bob's old key stays.
      const admin = openStore(path);
      try {
        assert.ok(admin.releaseName("bob", Date.now()));
      } finally {
        admin.close();
      }
      // Ended by the server, having sent nothing since.
      const ending = await within(
        old.client.ended,
        "the old key's session was not ended",
      );
      assert.equal(ending.bye, "violation", JSON.stringify(ending));
      assert.equal(
        ending.reason,
        `Disconnected by the server: ${KEY_RELEASED}.`,
      );
      await amy.waitFor(({ message }) =>
        message.t === "presence" && message.name === "bob" && !message.online
      );

      const next = await TestClient.connect(
        server,
        "bob",
        await testIdentity(),
      );
      try {
        const history = await next.client.request({
          t: "history",
          target: "amy",
        });
        assert.equal(history.t, "ok", JSON.stringify(history));
        const members = await next.client.request({
          t: "members",
          group: "lab",
        });
        assert.deepEqual(
          members.t === "members" ? members.groups[0]?.members : members,
          ["amy"],
        );
        await amy.client.msg("bob", "for the next key");
        await next.waitFor(({ text }) => text === "for the next key");
        await settle(next);
        assert.deepEqual(next.chat().map(([, , text]) => text), [
          "for the next key",
        ]);
        // Amy keeps her side of the conversation.
        await amy.client.request({ t: "history", target: "bob" });
        await settle(amy);
        assert.equal(
          amy.chat().filter(([, , text]) => text === "sent by the old key")
            .length,
          2,
        );
      } finally {
        await next.quit();
      }
    } finally {
      await old.quit();
      await amy.quit();
    }
  } finally {
    store.close();
  }
});

Deno.test("`chat admin release` while the old key stays signed in: keys it publishes then are not stored, nor handed out as the name's, and its session ends", async () => {
  await using dir = await tempDir("chat-released-publish-");
  const path = join(dir.path, "chat.db");
  const store = openStore(path);
  try {
    await using server = await startTestServer({ store });
    const alice = await e2ePeer(server, "alice");
    const identity = await testIdentity();
    const old = await TestClient.connect(server, "bob", identity);
    try {
      const admin = openStore(path);
      try {
        assert.ok(admin.releaseName("bob", Date.now()));
      } finally {
        admin.close();
      }
      // At once, before the server's look at its database every second.
      const published = await publishPrekeys(
        old.client,
        await createKeyring(identity),
      ).then(() => null, (error) => error);
      assert.ok(published instanceof Error, String(published));
      const ending = await within(
        old.client.ended,
        "the old key's session was not ended",
      );
      assert.equal(
        ending.reason,
        `Disconnected by the server: ${KEY_RELEASED}.`,
      );
      assert.equal(store.getPrekeys("bob"), undefined);
      const refused = await fetchBundle(alice.client, "bob").then(
        () => null,
        (error) => error,
      );
      assert.ok(refused instanceof E2eKeyError, String(refused));
      assert.equal(refused.code, "no_keys");
    } finally {
      await old.quit();
      await alice.client.quit();
    }
  } finally {
    store.close();
  }
});
