/**
 * File keys end to end through a real `chat serve` (issue 17 items 2 and 3;
 * docs/PROTOCOL.md 11.10): real `chat connect` processes send files to one
 * user and to a group; the offers that reach a third member (a client built
 * here from the library, with end-to-end keys) carry a key id, no key and no
 * file name, the key and the name arrive in the end-to-end channel, and the
 * server's database and log hold the key in no form.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { createKeyring, publishPrekeys } from "../../src/client/e2e_keys.ts";
import { E2eSessions } from "../../src/client/e2e_sessions.ts";
import { emptyE2eState } from "../../src/client/e2e_state.ts";
import {
  FileKeyInbox,
  HIDDEN_FILE_NAME,
} from "../../src/client/file_key_share.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import { randomBytes, toBase64, toHex } from "../../src/crypto/bytes.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import { TestClient, testIdentity } from "../_helpers/chat.ts";
import { allBytes } from "../_helpers/all_bytes.ts";
import { untilKeysPublished } from "../_helpers/published_keys.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("chat connect sends file keys end to end: offers carry a key id, never the key, which is in neither the server's database nor its log", async () => {
  await using chat = await ServedChat.start("chat-e2e-files-");
  let probe: TestClient | null = null;
  try {
    const server = await chat.serve("--data", chat.data);

    // Carol: a member built from the library, with end-to-end keys, who
    // looks at the offers she gets and the keys that come end to end.
    const identity = await testIdentity();
    const client = await ChatClient.connect(chat.url, {
      pinnedSpki: await chat.pinnedSpki(),
    });
    assert.equal((await client.register("carol", identity)).t, "welcome");
    probe = new TestClient(client);
    const keyring = await createKeyring(identity);
    await publishPrekeys(client, keyring);
    const e2e = new E2eSessions({
      keyring,
      saveKeyring: async () => {},
      identities: KnownIdentities.inMemory(),
      state: emptyE2eState(),
      saveState: async () => {},
      notify: () => {},
    });
    const inbox = new FileKeyInbox();
    client.onMessage(({ message, body }) => {
      if (message.t !== "e2e_private") return;
      void e2e.open(client, message, body).then((opened) => {
        if (opened.kind === "secret") {
          inbox.deliver(opened.from, opened.label, opened.secret);
        }
      });
    });
    assert.equal(
      (await client.request({ t: "create", group: "team" })).t,
      "ok",
    );

    const bob = chat.connect("bob", { acceptFiles: true });
    const alice = chat.connect("alice", { acceptFiles: true });
    await bob.waitFor(/SUCCESS: Username registered\./);
    await alice.waitFor(/SUCCESS: Username registered\./);
    await untilKeysPublished(client, "bob");
    await untilKeysPublished(client, "alice");
    await bob.write("/join team\n");
    await alice.write("/join team\n");
    await probe.waitFor(({ message }) =>
      message.t === "membership" && message.name === "alice"
    );

    const contents = randomBytes(300_000);
    await Deno.writeFile(join(chat.dir, "plans.bin"), contents);
    await alice.write(`/file bob ${chat.dir}/plans.bin\n`);
    await alice.waitFor(/File plans\.bin sent to bob successfully\./);
    assert.deepEqual(
      await Deno.readFile(join(chat.dir, "downloads-bob", "plans.bin")),
      contents,
    );

    await Deno.writeFile(
      join(chat.dir, "group.bin"),
      contents.subarray(0, 70_000),
    );
    await alice.write(`/groupfile team ${chat.dir}/group.bin\n`);
    const { message } = await probe.waitFor(({ message }) =>
      message.t === "file_offer"
    );
    const offer = message as FileOfferNotice;
    assert.equal(offer.key, undefined, "the offer carries a readable key");
    assert.match(offer.key_id ?? "", /^[0-9a-f]{32}$/);
    const taken = await inbox.take(offer, WAIT_MS);
    assert.ok("key" in taken, JSON.stringify(taken));
    const key = taken.key;
    // The name travels with the key; the server saw a placeholder.
    assert.equal(offer.name, HIDDEN_FILE_NAME);
    assert.equal(taken.name, "group.bin");
    client.post({ t: "file_decline", xfer: offer.xfer });
    await bob.waitFor(/Saved to .*group\.bin/);
    assert.deepEqual(
      await Deno.readFile(join(chat.dir, "downloads-bob", "group.bin")),
      contents.subarray(0, 70_000),
    );

    await alice.write("/quit\n");
    await bob.write("/quit\n");
    await alice.finish();
    await bob.finish();
    await probe.quit();
    probe = null;
    server.kill("SIGTERM");
    await server.finish();
    const stored = await allBytes(chat.data);
    const log = server.stdout + server.stderr;
    assert.ok(stored.length > 0);
    const latin1 = new TextDecoder("latin1").decode(key);
    for (const form of [toHex(key), toBase64(key), latin1]) {
      assert.ok(!stored.includes(form), "the database holds the file key");
      assert.ok(!log.includes(form), "the log holds the file key");
    }
    for (const output of [alice.stdout + alice.stderr, bob.stdout]) {
      assert.doesNotMatch(output, /host of the server can read/);
    }
  } finally {
    if (probe !== null) await probe.quit().catch(() => {});
  }
});

Deno.test("chat connect puts the file key and name in the offer only for a recipient without end-to-end keys, takes such an offer from one, and tells its user the host can read that file", async () => {
  await using chat = await ServedChat.start("chat-e2e-files-keyless-");
  let oldtimer: TestClient | null = null;
  try {
    await chat.serve();
    // An older client: it never publishes end-to-end keys.
    const client = await ChatClient.connect(chat.url, {
      pinnedSpki: await chat.pinnedSpki(),
    });
    assert.equal((await client.register("oldtimer")).t, "welcome");
    oldtimer = new TestClient(client);
    const alice = chat.connect("alice", { acceptFiles: true });
    await alice.waitFor(/SUCCESS: Username registered\./);
    await Deno.writeTextFile(join(chat.dir, "notes.txt"), "meeting at noon\n");
    await alice.write(`/file oldtimer ${chat.dir}/notes.txt\n`);
    const { message } = await oldtimer.waitFor(({ message }) =>
      message.t === "file_offer"
    );
    const offer = message as FileOfferNotice;
    assert.match(offer.key ?? "", /^[0-9a-f]{64}$/);
    // Its name too: a client without end-to-end keys has no other way to it.
    assert.equal(offer.name, "notes.txt");
    client.post({ t: "file_decline", xfer: offer.xfer });
    await alice.waitForStderr(
      /WARNING: oldtimer has not published end-to-end keys: notes\.txt is not end-to-end encrypted, and the host of the server can read it and its name/,
    );
    // A name nobody has (a typo) gets the server's refusal alone: no
    // warning about the keys of a file that never went.
    await alice.write(`/file ghost ${chat.dir}/notes.txt\n`);
    await alice.waitForStderr(/ERROR: User 'ghost' is not online\./);
    assert.doesNotMatch(alice.stderr, /ghost has not published/);

    // The other way: oldtimer's offer carries its key and name readably;
    // alice takes it (oldtimer never used end-to-end keys with her) and is
    // told the host can read it.
    const contents = new TextEncoder().encode("the old way\n");
    const key = newFileKey();
    const ready = await client.request({
      t: "file_offer",
      name: "old.txt",
      size: contents.length,
      to: "alice",
      ...fileKeyForOffer(key),
    });
    assert.equal(ready.t, "file_ready", JSON.stringify(ready));
    if (ready.t !== "file_ready") return;
    const cipher = await FileCipher.create(key, ready.xfer, contents.length);
    client.post(
      { t: "file_chunk", xfer: ready.xfer, offset: 0 },
      await cipher.seal({ index: 0, offset: 0 }, contents),
      true,
    );
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", contents),
    );
    client.post(
      {
        t: "file_end",
        xfer: ready.xfer,
        sha256: await cipher.keyedDigest(digest.toHex()),
      },
      undefined,
      true,
    );
    await alice.waitFor(
      /oldtimer has no end-to-end keys: old\.txt is not end-to-end encrypted, and the host of the server can read it/,
    );
    await alice.waitFor(/Saved to .*old\.txt/);
    assert.deepEqual(
      await Deno.readFile(join(chat.dir, "downloads-alice", "old.txt")),
      contents,
    );
    await alice.write("/quit\n");
    await alice.finish();
  } finally {
    if (oldtimer !== null) await oldtimer.quit().catch(() => {});
  }
});
