/**
 * A hostile server that welcomes a client under another name than the one
 * it asked for: what a client keeps per name (its end-to-end keyring,
 * sessions and lock, e2e_paths.ts `e2e_keys_<fingerprint>_<name>`) follows
 * the welcome, so the server would pick which of the user's files are
 * opened and written.
 */

import assert from "node:assert/strict";
import { ChatClient, wasUnanswered } from "../../src/client/chat_client.ts";
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import { IDENTITY_PROOF_VERSION } from "../../src/crypto/identity.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";

/** Signs in as `asked` to a server that welcomes it as `welcomed`. */
async function signInWelcomedAs(asked: string, welcomed: string) {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  void (async () => {
    for (;;) {
      const batch = await channel.receive();
      if (batch === null) return;
      for (const { header } of batch) {
        const message = parseClientMessage(header);
        if (message.t === "register") {
          channel.send({
            t: "challenge",
            re: message.id,
            nonce: toBase64(randomBytes(32)),
            proof: IDENTITY_PROOF_VERSION,
          });
        } else if (message.t === "prove") {
          channel.send({
            t: "welcome",
            re: message.id,
            name: welcomed,
            text: "SUCCESS: Username registered.",
          });
        }
      }
    }
  })();
  const reply = await client.register(asked);
  if (reply.t === "welcome") {
    await client.quit();
    return { reply, ending: null };
  }
  return { reply, ending: await client.ended };
}

Deno.test("ChatClient.register takes a welcome for the name asked for, in any case", async () => {
  const { reply } = await signInWelcomedAs("alice", "Alice");
  assert.deepEqual(reply.t === "welcome" && reply.name, "Alice");
});

Deno.test("ChatClient.register refuses a welcome for another name: the server broke the protocol", async () => {
  const { reply, ending } = await signInWelcomedAs("alice", "bob");
  assert.equal(reply.t, "error");
  assert.ok(wasUnanswered(reply));
  assert.equal(ending?.brokeProtocol, true);
  assert.match(ending.reason, /Welcomed as 'bob', not as 'alice' as asked/);
});
