/**
 * A hostile server against a real `chat connect` (issue 17; docs/PROTOCOL.md
 * 11.7): a server written here from the protocol, not ours, that signs the
 * client in, takes its published keys, and then delivers Alice's genuine
 * end-to-end messages along with altered, replayed and relabelled copies.
 * Only the genuine ones may be shown as messages; every other one is an
 * error on stderr.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { toBase64 } from "../../src/crypto/bytes.ts";
import {
  type E2eSession,
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import {
  IDENTITY_PROOF_VERSION,
  identityFingerprint,
} from "../../src/crypto/identity.ts";
import { decodeBundle, type PrekeyBundle } from "../../src/crypto/prekeys.ts";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import { encodeContent } from "../../src/client/e2e_sessions.ts";
import { parseClientMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { testKeys } from "../_helpers/chat.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { testIdentity } from "../_helpers/chat.ts";

/**
 * Plays the server's part of sign-in and key publishing; resolves with the
 * bundle the client published (with its first one-time key).
 */
function serve(channel: SecureChannel): Promise<PrekeyBundle> {
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
              nonce: toBase64(crypto.getRandomValues(new Uint8Array(32))),
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
            break;
        }
      }
    }
  })().catch(published.reject);
  return published.promise;
}

Deno.test("chat connect shows a hostile server's altered, replayed and relabelled end-to-end messages as errors, never as messages", async () => {
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-hostile-" });
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
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
    const bundle = await serve(await server.session);
    const channel = await server.session;

    // Alice, from the protocol: X3DH with bob's published bundle.
    const alice = await createKeyring(await testIdentity());
    const fingerprint = await identityFingerprint(alice.identity.publicRaw);
    let session: E2eSession = await initiateSession({
      identity: alice.identity.publicRaw,
      dh: alice.bundle.dh,
      dhPair: alice.secrets.dh,
    }, bundle);
    const seal = async (text: string) => {
      const out = await sealEnvelope(
        session,
        encodeContent({ type: "text", from: "alice", to: "bob", text }),
      );
      session = out.session;
      return out.envelope;
    };
    let id = 0;
    const deliver = (body: Uint8Array, from = "alice") => {
      id++;
      channel.send({
        t: "e2e_private",
        from,
        fingerprint,
        ts: Date.now(),
        id,
        seq: id,
      }, body);
    };

    const first = await seal("first genuine");
    deliver(first, "carol"); // Alice's message, relabelled as carol's
    deliver(first, "ev\x1b[2Jil"); // and under a name that clears screens
    deliver(first); // genuine
    deliver(first); // replayed under a new id
    const second = await seal("second genuine");
    const altered = second.slice();
    altered[altered.length - 5]! ^= 0x40;
    deliver(altered);
    deliver(second);
    deliver(await seal("third genuine"));

    await bob.waitFor(/Private message from alice: third genuine/);
    await bob.write("/quit\n");
    await bob.finish();
    const shown = bob.stdout.split("\n").filter((line) =>
      line.includes("Private message")
    );
    assert.deepEqual(shown, [
      "Private message from alice: first genuine",
      "Private message from alice: second genuine",
      "Private message from alice: third genuine",
    ]);
    const errors = bob.stderr.split("\n").filter((line) =>
      line.startsWith("ERROR: A private message from")
    );
    assert.equal(errors.length, 4, bob.stderr);
    assert.match(
      errors[0]!,
      /from carol could not be opened.*written by alice/,
    );
    assert.match(errors[1]!, /from ev\^\[\[2Jil could not be opened/);
    assert.match(errors[2]!, /from alice could not be opened/);
    assert.match(errors[3]!, /from alice could not be opened/);
    assert.ok(!bob.stderr.includes("\x1b"), "an escape reached the terminal");
    bob = null;
  } finally {
    if (bob !== null) {
      bob.kill("SIGKILL");
      await bob.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
