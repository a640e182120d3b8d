/**
 * Registered clients over the terminal client's own transport
 * (openTerminalConnection: TcpWebSocketConnection, ws:// or wss://), and
 * the chat that tests over it send both ways.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { openTerminalConnection } from "../../src/transport/tcp_websocket.ts";
import { TestClient, type TestServer } from "./chat.ts";

/**
 * `name`, registered at `url` (the server's ws:// address unless given)
 * over openTerminalConnection, trusting `caCerts` besides the default store.
 */
export async function terminalClient(
  server: TestServer,
  name: string,
  { url = server.url, caCerts }: { url?: string; caCerts?: string[] } = {},
): Promise<TestClient> {
  const client = await ChatClient.connect(url, {
    pinnedSpki: server.spki,
    openConnection: (url) =>
      openTerminalConnection(url, caCerts === undefined ? {} : { caCerts }),
  });
  const reply = await client.register(name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return new TestClient(client);
}

/**
 * Each of `texts` said by `alice` (registered as alice) and heard by `bob`
 * from her, then sent by `bob` to her privately and heard: a round each way,
 * in turn.
 */
export async function chatBothWays(
  alice: TestClient,
  bob: TestClient,
  texts: string[],
): Promise<void> {
  for (const text of texts) {
    const said = await alice.client.say(text);
    assert.equal(said.t, "ok", JSON.stringify(said));
    const heard = await bob.waitFor((m) =>
      m.message.t === "public" && m.text === text
    );
    assert.equal(heard.message.t === "public" && heard.message.from, "alice");
    const sent = await bob.client.msg("alice", text);
    assert.equal(sent.t, "ok", JSON.stringify(sent));
    await alice.waitFor((m) => m.message.t === "private" && m.text === text);
  }
}
