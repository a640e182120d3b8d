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
import {
  createKeyring,
  E2eKeyError,
  fetchBundle,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import { E2eSessions } from "../../src/client/e2e_sessions.ts";
import { emptyE2eState } from "../../src/client/e2e_state.ts";
import {
  FileKeyInbox,
  HIDDEN_FILE_NAME,
} from "../../src/client/file_key_share.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import { randomBytes, toBase64, toHex } from "../../src/crypto/bytes.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import { TestClient, testIdentity } from "../_helpers/chat.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

function connect(dir: string, port: string, user: string): ChatProcess {
  return new ChatProcess([
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    user,
    "--downloads",
    join(dir, `downloads-${user}`),
    "--accept-files",
    "all",
  ], { env: { XDG_CONFIG_HOME: join(dir, `config-${user}`) } });
}

async function pinned(dir: string): Promise<Uint8Array> {
  return (await importPublicKeyPem(
    await Deno.readTextFile(`${dir}/public.pem`),
  )).spki;
}

/** Waits (with a deadline) until `name` has published keys. */
async function waitForKeys(client: ChatClient, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetchBundle(client, name);
      return;
    } catch (error) {
      if (!(error instanceof E2eKeyError) || error.code !== "no_keys") {
        throw error;
      }
    }
    if (Date.now() > deadline) assert.fail(`${name} published no keys`);
    await client.request({ t: "ping" });
  }
}

/** Every file under `path`, as text (latin1), joined. */
async function allBytes(path: string): Promise<string> {
  let out = "";
  for await (const entry of Deno.readDir(path)) {
    const full = join(path, entry.name);
    if (entry.isFile) {
      out += new TextDecoder("latin1").decode(await Deno.readFile(full));
    } else if (entry.isDirectory) out += await allBytes(full);
  }
  return out;
}

Deno.test("chat connect sends file keys end to end: offers carry a key id, never the key, which is in neither the server's database nor its log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-files-" });
  const processes: ChatProcess[] = [];
  let probe: TestClient | null = null;
  try {
    await makeKeys(dir);
    const server = serveProcess(dir, 0, "--data", `${dir}/data`);
    processes.push(server);
    const port = await listeningPort(server);

    // Carol: a member built from the library, with end-to-end keys, who
    // looks at the offers she gets and the keys that come end to end.
    const identity = await testIdentity();
    const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
      pinnedSpki: await pinned(dir),
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

    const bob = connect(dir, port, "bob");
    const alice = connect(dir, port, "alice");
    processes.push(bob, alice);
    await bob.waitFor(/SUCCESS: Username registered\./);
    await alice.waitFor(/SUCCESS: Username registered\./);
    await waitForKeys(client, "bob");
    await waitForKeys(client, "alice");
    await bob.write("/join team\n");
    await alice.write("/join team\n");
    await probe.waitFor(({ message }) =>
      message.t === "membership" && message.name === "alice"
    );

    const contents = randomBytes(300_000);
    await Deno.writeFile(join(dir, "plans.bin"), contents);
    await alice.write(`/file bob ${dir}/plans.bin\n`);
    await alice.waitFor(/File plans\.bin sent to bob successfully\./);
    assert.deepEqual(
      await Deno.readFile(join(dir, "downloads-bob", "plans.bin")),
      contents,
    );

    await Deno.writeFile(join(dir, "group.bin"), contents.subarray(0, 70_000));
    await alice.write(`/groupfile team ${dir}/group.bin\n`);
    const { message } = await probe.waitFor(({ message }) =>
      message.t === "file_offer"
    );
    const offer = message as FileOfferNotice;
    assert.equal(offer.key, undefined, "the offer carries a readable key");
    assert.match(offer.key_id ?? "", /^[0-9a-f]{32}$/);
    const taken = await inbox.take(offer, 10_000);
    assert.ok("key" in taken, JSON.stringify(taken));
    const key = taken.key;
    // The name travels with the key; the server saw a placeholder.
    assert.equal(offer.name, HIDDEN_FILE_NAME);
    assert.equal(taken.name, "group.bin");
    client.post({ t: "file_decline", xfer: offer.xfer });
    await bob.waitFor(/Saved to .*group\.bin/);
    assert.deepEqual(
      await Deno.readFile(join(dir, "downloads-bob", "group.bin")),
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
    const stored = await allBytes(join(dir, "data"));
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
    for (const p of processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect puts the file key and name in the offer only for a recipient without end-to-end keys, takes such an offer from one, and tells its user the host can read that file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-files-keyless-" });
  const processes: ChatProcess[] = [];
  let oldtimer: TestClient | null = null;
  try {
    await makeKeys(dir);
    const server = serveProcess(dir);
    processes.push(server);
    const port = await listeningPort(server);
    // An older client: it never publishes end-to-end keys.
    const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
      pinnedSpki: await pinned(dir),
    });
    assert.equal((await client.register("oldtimer")).t, "welcome");
    oldtimer = new TestClient(client);
    const alice = connect(dir, port, "alice");
    processes.push(alice);
    await alice.waitFor(/SUCCESS: Username registered\./);
    await Deno.writeTextFile(join(dir, "notes.txt"), "meeting at noon\n");
    await alice.write(`/file oldtimer ${dir}/notes.txt\n`);
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
      await Deno.readFile(join(dir, "downloads-alice", "old.txt")),
      contents,
    );
    await alice.write("/quit\n");
    await alice.finish();
  } finally {
    if (oldtimer !== null) await oldtimer.quit().catch(() => {});
    for (const p of processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
