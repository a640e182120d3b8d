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
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import {
  type E2eSession,
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import {
  IDENTITY_PROOF_VERSION,
  identityFingerprint,
} from "../../src/crypto/identity.ts";
import { decodeBundle, type PrekeyBundle } from "../../src/crypto/prekeys.ts";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import { encodeContent } from "../../src/client/e2e_sessions.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import {
  encodeFileSecret,
  fileSecretLabel,
  newFileKeyId,
} from "../../src/client/file_key_share.ts";
import { parseClientMessage } from "../../src/protocol/codec.ts";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { testIdentity, testKeys } from "../_helpers/chat.ts";
import { until } from "../_helpers/bystanders.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";
import { ChatProcess } from "../_helpers/process.ts";

/**
 * Plays the server's part of sign-in and key publishing; resolves with the
 * bundle the client published (with its first one-time key). Every file
 * message goes to `onFile`.
 */
function serve(
  channel: SecureChannel,
  onFile: (message: ClientMessage) => void,
): Promise<PrekeyBundle> {
  const published = Promise.withResolvers<PrekeyBundle>();
  (async () => {
    for (;;) {
      const batch = await channel.receive();
      if (batch === null) return;
      for (const { header, body } of batch) {
        const message = parseClientMessage(header);
        const answer = (reply: ServerMessage) => channel.send(reply);
        switch (message.t) {
          case "register":
            answer({
              t: "challenge",
              re: message.id,
              nonce: toBase64(randomBytes(32)),
              proof: IDENTITY_PROOF_VERSION,
            });
            break;
          case "prove":
            answer({
              t: "welcome",
              re: message.id,
              name: "bob",
              text: "SUCCESS: Username registered.",
              acks: true,
              cids: true,
            });
            break;
          case "e2e_keys": {
            const bundle = decodeBundle(
              JSON.parse(new TextDecoder().decode(body)),
            );
            answer({
              t: "e2e_keys",
              re: message.id,
              one_time: bundle.oneTime.length,
            });
            if (bundle.oneTime.length > 0) {
              published.resolve({ ...bundle, oneTime: [bundle.oneTime[0]!] });
            }
            break;
          }
          case "list":
            answer({ t: "users", re: message.id, users: [] });
            break;
          case "groups":
            answer({ t: "groups", re: message.id, groups: [] });
            break;
          case "ping":
            answer({ t: "pong", re: message.id });
            break;
          case "bye":
            channel.close();
            return;
          default:
            if (message.t.startsWith("file_")) onFile(message);
            break;
        }
      }
    }
  })().catch(published.reject);
  return published.promise;
}

Deno.test("chat connect refuses a file whose end-to-end key a hostile server dropped, swapped or replaced with a readable one, and saves only the genuine file", async () => {
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-hostile-files-" });
  const downloads = join(dir, "downloads");
  let bob: ChatProcess | null = null;
  try {
    const pub = join(dir, "server.pub");
    await Deno.writeTextFile(pub, (await testKeys()).publicPem);
    bob = new ChatProcess([
      "connect",
      server.url.replace("ws://", ""),
      "--pub",
      pub,
      "--user",
      "bob",
      "--downloads",
      downloads,
      "--accept-files",
      "all",
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
    const answers: ClientMessage[] = [];
    const answered = new Map<number, PromiseWithResolvers<ClientMessage>>();
    const answerOf = (xfer: number) => {
      if (!answered.has(xfer)) answered.set(xfer, Promise.withResolvers());
      return answered.get(xfer)!.promise;
    };
    const channel = await server.session;
    const bundle = await serve(channel, (message) => {
      answers.push(message);
      if ("xfer" in message) {
        answerOf(message.xfer);
        answered.get(message.xfer)!.resolve(message);
      }
    });

    // Alice, from the protocol: X3DH with bob's published bundle.
    const alice = await createKeyring(await testIdentity());
    const fingerprint = await identityFingerprint(alice.identity.publicRaw);
    let session: E2eSession = await initiateSession({
      identity: alice.identity.publicRaw,
      dh: alice.bundle.dh,
      dhPair: alice.secrets.dh,
    }, bundle);
    let id = 0;
    /** Alice's genuine key for `name` of `size` bytes, delivered end to end. */
    const sendKey = async (name: string, size: number) => {
      const key = newFileKey();
      const keyId = newFileKeyId();
      const out = await sealEnvelope(
        session,
        encodeContent({
          type: "secret",
          from: "alice",
          to: "bob",
          label: fileSecretLabel(keyId),
          secret: encodeFileSecret(key, name, size),
        }),
      );
      session = out.session;
      id++;
      channel.send({
        t: "e2e_private",
        from: "alice",
        fingerprint,
        ts: Date.now(),
        id,
        seq: id,
      }, out.envelope);
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
        fingerprint,
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
      { t: "file_end", xfer: 1, sha256: digest.toHex() },
      undefined,
      true,
    );
    await bob.waitFor(/Saved to .*genuine\.bin/);
    assert.ok(!bob.stdout.includes("invoice.exe"), bob.stdout);
    await until(
      () => answers.some((m) => m.t === "file_done" && m.xfer === 1 && m.ok),
      "bob's file_done for the genuine file",
    );

    // 2: the key dropped: the offer names a key that never comes.
    offer(2, "dropped.bin", 100, { key_id: newFileKeyId() });
    // 3: a genuine key of Alice's, for another file (of 11 bytes), with
    // this offer of 10.
    const other = await sendKey("small.txt", 11);
    offer(3, "swapped.bin", 10, { key_id: other.keyId });
    // 4: Alice uses end-to-end keys, yet the offer holds a readable key.
    offer(4, "readable.bin", 10, fileKeyForOffer(newFileKey()));

    const refusals = await Promise.all([2, 3, 4].map(answerOf));
    for (const refusal of refusals) {
      assert.equal(refusal.t, "file_done", JSON.stringify(refusal));
      assert.equal((refusal as { ok: boolean }).ok, false);
    }
    const reasons = refusals.map((r) => (r as { reason: string }).reason);
    assert.match(reasons[0]!, /its key did not arrive end to end from alice/);
    assert.match(reasons[1]!, /for another file/);
    assert.match(reasons[2]!, /readable by the server, but alice uses/);
    for (
      const line of [
        /ERROR: File dropped\.bin from alice was not received: Cannot take a file from alice: its key did not arrive/,
        /ERROR: File swapped\.bin from alice was not received: Cannot take a file from alice: the key sent for it end to end is for another file/,
        /ERROR: File readable\.bin from alice was not received: Cannot take 'readable\.bin'/,
      ]
    ) await bob.waitForStderr(line);
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
    bob = null;
  } finally {
    if (bob !== null) {
      bob.kill("SIGKILL");
      await bob.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
