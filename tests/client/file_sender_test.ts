/**
 * FileSender against a real server: what it says about an offer, and when.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

/** sophia signed in with a FileSender, and her 1000-byte notes.txt. */
async function sophia(server: { url: string; spki: Uint8Array }) {
  const dir = await Deno.makeTempDir({ prefix: "chat-file-sender-" });
  const path = join(dir, "notes.txt");
  await Deno.writeTextFile(path, "x".repeat(1000));
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const reply = await client.register("sophia", await testIdentity());
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return {
    path,
    sender: new FileSender(client),
    async [Symbol.asyncDispose]() {
      await client.quit();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// Seen following the README: `/file ghost notes.txt` said "Offering
// notes.txt (1000 B) to ghost; waiting for an answer." and then that ghost is
// not online; the offer never went anywhere.
Deno.test("FileSender says it is offering a file only once the server passed the offer on, not for one it refused outright", async () => {
  await using server = await startTestServer();
  await using me = await sophia(server);
  const said: string[] = [];
  const outcome = await me.sender.send(
    { to: "ghost" },
    me.path,
    () => {},
    (name) => said.push(`offering ${name}`),
  );
  assert.deepEqual(outcome, {
    kind: "refused",
    text: "ERROR: User 'ghost' is not online.",
    code: "no_such_user",
  });
  const group = await me.sender.send(
    { group: "nogroup" },
    me.path,
    () => {},
    (name) => said.push(`offering ${name}`),
  );
  assert.equal(group.kind, "refused");
  assert.deepEqual(said, []);
});

Deno.test("FileSender says it is offering a file before the recipient's answer, once, when the offer reached them", async () => {
  await using server = await startTestServer();
  const jojo = await TestClient.connect(server, "jojo", await testIdentity());
  try {
    await using me = await sophia(server);
    const said: string[] = [];
    const sending = me.sender.send(
      { to: "jojo" },
      me.path,
      () => {},
      (name) => said.push(`offering ${name}`),
      (declined) => said.push(...declined.map((d) => `${d.name} declined`)),
    );
    const offer = await jojo.waitFor((m) => m.message.t === "file_offer");
    assert.ok(offer.message.t === "file_offer");
    jojo.client.post({ t: "file_decline", xfer: offer.message.xfer });
    const outcome = await sending;
    assert.equal(outcome.kind, "refused", JSON.stringify(outcome));
    assert.deepEqual(said, ["offering notes.txt"]);
  } finally {
    await jojo.quit();
  }
});

// A file's /transfers number stays with it between its steps: /cancel of it
// while its key goes out, before its offer, stops it there (before, it was
// in no list then, and its number said it had ended).
Deno.test("FileSender.stopFile stops a file whose key is going out before its offer is made", async () => {
  await using server = await startTestServer();
  const jojo = await TestClient.connect(server, "jojo", await testIdentity());
  const dir = await Deno.makeTempDir({ prefix: "chat-file-sender-" });
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.equal(
      (await client.register("sophia", await testIdentity())).t,
      "welcome",
    );
    const path = join(dir, "notes.txt");
    await Deno.writeTextFile(path, "x".repeat(1000));
    const keyGoing = Promise.withResolvers<void>();
    const keyGone = Promise.withResolvers<void>();
    const sender = new FileSender(client, async (_target, key, name) => {
      keyGoing.resolve();
      await keyGone.promise;
      return {
        kind: "shared",
        fields: { key_id: "k1", ...fileKeyForOffer(key), name },
        lines: [],
      };
    });
    const sending = sender.send(
      { to: "jojo" },
      path,
      () => {},
      () => {},
      () => {},
      () => {},
      () => {},
      undefined,
      7,
    );
    await keyGoing.promise;
    assert.deepEqual(sender.offers(), []);
    assert.deepEqual(sender.filesUnderWay(), [7]);
    assert.equal(sender.stopFile(7), "offer");
    assert.equal(sender.stopFile(7), null, "stopping already");
    keyGone.resolve();
    const outcome = await sending;
    assert.equal(outcome.kind, "cancelled", JSON.stringify(outcome));
    assert.ok(outcome.kind === "cancelled" && outcome.byYou === true);
    assert.deepEqual(sender.filesUnderWay(), []);
    assert.equal(sender.stopFile(7), null);
  } finally {
    await client.quit();
    await jojo.quit();
    await Deno.remove(dir, { recursive: true });
  }
});
