/**
 * A hostile server against a real `chat connect` receiving files (issue 17;
 * docs/PROTOCOL.md 11.10): a server written here from the protocol, not
 * ours, delivers Alice's genuine end-to-end file key with its offer, then
 * drops a key, hands a genuine key over with another file's offer, and puts a
 * readable key of its own into an offer from Alice. Only the genuine file is
 * saved; every other offer fails with a line that says why, and nothing of
 * those files is written.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes } from "../../src/crypto/bytes.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import {
  encodeFileSecret,
  fileSecretLabel,
  newFileKeyId,
} from "../../src/client/file_key_share.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { until } from "../_helpers/bystanders.ts";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";

Deno.test("chat connect refuses a file whose end-to-end key a hostile server dropped, swapped or replaced with a readable one, and saves only the genuine file", async () => {
  const answers: ClientMessage[] = [];
  const answered = new Map<number, PromiseWithResolvers<ClientMessage>>();
  const answerOf = (xfer: number) => {
    if (!answered.has(xfer)) answered.set(xfer, Promise.withResolvers());
    return answered.get(xfer)!.promise;
  };
  await using run = await startHostileE2e(
    "chat-e2e-hostile-files-",
    (dir) => ["--downloads", join(dir, "downloads"), "--accept-files", "all"],
    (message) => {
      if (!message.t.startsWith("file_")) return;
      answers.push(message);
      if ("xfer" in message) {
        answerOf(message.xfer);
        answered.get(message.xfer)!.resolve(message);
      }
    },
  );
  const { bob, channel, alice } = run;
  const downloads = join(run.dir, "downloads");

  /** Alice's genuine key for `name` of `size` bytes, delivered end to end. */
  const sendKey = async (name: string, size: number) => {
    const key = newFileKey();
    const keyId = newFileKeyId();
    alice.deliver(
      channel,
      await alice.seal({
        type: "secret",
        from: "alice",
        to: "bob",
        label: fileSecretLabel(keyId),
        secret: encodeFileSecret(key, name, size),
      }),
    );
    return { key, keyId };
  };
  const offer = (
    xfer: number,
    name: string,
    size: number,
    key: { key_id: string } | { key: string },
  ) =>
    channel.send({
      t: "file_offer",
      xfer,
      from: "alice",
      name,
      size,
      fingerprint: alice.fingerprint,
      timeout: 90_000,
      ...key,
    });

  // 1: genuine, its offer's name rewritten by the server: the file is
  // saved under the name that came end to end with its key, which opens
  // its chunks.
  const contents = randomBytes(5000);
  const genuine = await sendKey("genuine.bin", contents.length);
  offer(1, "invoice.exe", contents.length, { key_id: genuine.keyId });
  assert.equal((await answerOf(1)).t, "file_accept");
  const cipher = await FileCipher.create(genuine.key, 1, contents.length);
  channel.send(
    { t: "file_chunk", xfer: 1, offset: 0 },
    await cipher.seal({ index: 0, offset: 0 }, contents),
    true,
  );
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", contents),
  );
  channel.send(
    {
      t: "file_end",
      xfer: 1,
      sha256: await cipher.keyedDigest(digest.toHex()),
    },
    undefined,
    true,
  );
  await bob.waitFor(/Saved to .*genuine\.bin/);
  assert.ok(!bob.stdout.includes("invoice.exe"), bob.stdout);
  await until(
    () => answers.some((m) => m.t === "file_done" && m.xfer === 1 && m.ok),
    "bob's file_done for the genuine file",
  );

  // 5 (first: an offer shown holds its place among the lines, so one sent
  // after 2's would wait for 2's key): a readable key with a key id too (as
  // if Alice had no keys of Bob's) is refused as at 4 below, and at once
  // (a timeout below 10 s), not after waiting for a key.
  const asked = Date.now();
  offer(5, "both.bin", 10, {
    key_id: newFileKeyId(),
    ...fileKeyForOffer(newFileKey()),
  });
  const both = await answerOf(5);
  assert.ok(Date.now() - asked < 8000, "waited for a key never sent");
  // 2: the key dropped: the offer names a key that never comes.
  offer(2, "dropped.bin", 100, { key_id: newFileKeyId() });
  // 3: a genuine key of Alice's, for another file (of 11 bytes), with
  // this offer of 10.
  const other = await sendKey("small.txt", 11);
  offer(3, "swapped.bin", 10, { key_id: other.keyId });
  // 4: Alice uses end-to-end keys, yet the offer holds a readable key.
  offer(4, "readable.bin", 10, fileKeyForOffer(newFileKey()));

  const refusals = [...await Promise.all([2, 3, 4].map(answerOf)), both];
  for (const refusal of refusals) {
    assert.equal(refusal.t, "file_done", JSON.stringify(refusal));
    assert.equal((refusal as { ok: boolean }).ok, false);
  }
  const reasons = refusals.map((r) => (r as { reason: string }).reason);
  assert.match(reasons[0]!, /its key did not arrive end to end from alice/);
  assert.match(reasons[1]!, /for another file/);
  assert.match(reasons[2]!, /readable by the server, but alice uses/);
  assert.match(reasons[3]!, /readable by the server, but alice uses/);
  // The names of offers whose names were to come end to end are the
  // server's word: not shown.
  for (
    const line of [
      /ERROR: A file from alice was not received: Cannot take a file from alice: its key did not arrive/,
      /ERROR: A file from alice was not received: Cannot take a file from alice: the key sent for it end to end is for another file/,
      /ERROR: File readable\.bin from alice was not received: Cannot take 'readable\.bin'/,
    ]
  ) await bob.waitForStderr(line);
  assert.doesNotMatch(bob.stdout + bob.stderr, /dropped\.bin|swapped\.bin/);
  assert.ok(
    !answers.some((m) => m.t === "file_accept" && m.xfer !== 1),
    "a file without its genuine key was accepted",
  );

  await bob.write("/quit\n");
  await bob.finish();
  const saved = [...Deno.readDirSync(downloads)].map((e) => e.name)
    .filter((name) => !name.startsWith("."));
  assert.deepEqual(saved, ["genuine.bin"]);
  assert.deepEqual(
    await Deno.readFile(join(downloads, "genuine.bin")),
    contents,
  );
});
