/**
 * A hostile server against a real `chat connect` in a group (issue 17 item 3;
 * docs/PROTOCOL.md 11.11): a server written here from the protocol, not ours,
 * signs bob in, delivers alice's genuine sender key over the 1:1 channel and
 * her genuine group messages, along with altered, replayed, relabelled and
 * moved copies, and one sealed on a chain a member made up with alice's
 * chain key but its own signing key. Only the genuine ones may be shown as
 * group messages; every other one is an error on stderr.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import {
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import {
  IDENTITY_PROOF_VERSION,
  identityFingerprint,
} from "../../src/crypto/identity.ts";
import { decodeBundle, type PrekeyBundle } from "../../src/crypto/prekeys.ts";
import {
  encodeSenderKey,
  newSenderChain,
  type OwnChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import { encodeContent } from "../../src/client/e2e_sessions.ts";
import {
  encodeGroupContent,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import { parseClientMessage } from "../../src/protocol/codec.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { testIdentity, testKeys } from "../_helpers/chat.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";
import { ChatProcess } from "../_helpers/process.ts";

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
            break;
        }
      }
    }
  })().catch(published.reject);
  return published.promise;
}

Deno.test("chat connect shows a hostile server's altered, replayed, relabelled, moved and forged group messages as errors, never as messages", async () => {
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-hostile-group-" });
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

    // Alice, from the protocol: her chain for team, sent to bob end to end.
    const alice = await createKeyring(await testIdentity());
    const fingerprint = await identityFingerprint(alice.identity.publicRaw);
    const session = await initiateSession({
      identity: alice.identity.publicRaw,
      dh: alice.bundle.dh,
      dhPair: alice.secrets.dh,
    }, bundle);
    let chain: OwnChain = await newSenderChain();
    const keyMessage = await sealEnvelope(
      session,
      encodeContent({
        type: "secret",
        from: "alice",
        to: "bob",
        label: SENDER_KEY_LABEL_PREFIX + "team",
        secret: encodeSenderKey(chain),
      }),
    );
    let id = 0;
    id++;
    channel.send({
      t: "e2e_private",
      from: "alice",
      fingerprint,
      ts: Date.now(),
      id,
      seq: id,
    }, keyMessage.envelope);
    const seal = async (text: string) => {
      const out = await sealGroupMessage(
        chain,
        encodeGroupContent({ from: "alice", group: "team", text }),
      );
      chain = out.chain;
      return out.message;
    };
    const deliver = (body: Uint8Array, from = "alice", group = "team") => {
      id++;
      channel.send({
        t: "e2e_group",
        group,
        from,
        fingerprint,
        ts: Date.now(),
        id,
        seq: id,
      }, body);
    };

    const first = await seal("first genuine");
    deliver(first);
    deliver(first); // replayed under a new id
    const second = await seal("second genuine");
    const altered = second.slice();
    altered[30]! ^= 0x40;
    deliver(altered);
    deliver(second);
    // A member holding alice's chain key seals with its own signing key.
    const forged = await sealGroupMessage(
      { ...chain, signingSeed: new Uint8Array(32).fill(7) },
      encodeGroupContent({ from: "alice", group: "team", text: "forged" }),
    );
    deliver(forged.message);
    deliver(await seal("third genuine"));

    await bob.waitFor(
      /\[Receive group team message from alice\]: third genuine/,
    );
    // Relabelled and moved copies wait for keys that never come (10 s).
    deliver(first, "carol");
    deliver(first, "alice", "other");
    await bob.waitForStderr(/from alice in other could not be opened/, 20_000);
    await bob.waitForStderr(/from carol in team could not be opened/, 20_000);
    await bob.write("/quit\n");
    await bob.finish();
    const shown = bob.stdout.split("\n").filter((line) =>
      line.includes("[Receive group")
    );
    assert.deepEqual(shown, [
      "[Receive group team message from alice]: first genuine",
      "[Receive group team message from alice]: second genuine",
      "[Receive group team message from alice]: third genuine",
    ]);
    const errors = bob.stderr.split("\n").filter((line) =>
      line.startsWith("ERROR: A group message from")
    );
    assert.equal(errors.length, 5, bob.stderr);
    assert.match(errors[0]!, /from alice in team .*already read/);
    assert.match(errors[1]!, /from alice in team .*not signed/);
    assert.match(errors[2]!, /from alice in team .*not signed/);
    assert.doesNotMatch(bob.stdout, /forged/);
    bob = null;
  } finally {
    if (bob !== null) {
      bob.kill("SIGKILL");
      await bob.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
