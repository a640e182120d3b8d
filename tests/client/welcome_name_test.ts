/**
 * A hostile server that welcomes a client under another name than the one
 * it asked for: what a client keeps per name (its end-to-end keyring,
 * sessions and lock, e2e_paths.ts `e2e_keys_<fingerprint>_<name>`) follows
 * the welcome, so the server would pick which of the user's files are
 * opened and written.
 */

import assert from "node:assert/strict";
import { ChatClient, wasUnanswered } from "../../src/client/chat_client.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";

/** Signs in as `asked` to a server that welcomes it as `welcomed`. */
async function signInWelcomedAs(asked: string, welcomed: string) {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  void answerSignIn(await server.session, { name: welcomed });
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
