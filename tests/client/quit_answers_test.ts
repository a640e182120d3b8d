/**
 * Leaving while a line is on its way: the server may have stored it and
 * passed it on, so quit waits (at most QUIT_ACK_MS) for its answer before
 * the goodbye. Before, quit said goodbye and closed at once, and the line's
 * request was failed as not sent (the terminal and the web page then said
 * `ERROR: Not sent`) although the others had read it: typed again, it was a
 * second message. A real handshake with a server the test answers by hand.
 */

import assert from "node:assert/strict";
import { ChatClient, QUIT_ACK_MS } from "../../src/client/chat_client.ts";
import {
  type HostileServer,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";

/** The next message of kind `t` the client sends on `channel`. */
async function next(
  channel: SecureChannel,
  t: ClientMessage["t"],
): Promise<ClientMessage> {
  for (;;) {
    const batch = await channel.receive();
    if (batch === null) throw new Error(`the connection ended before a ${t}`);
    for (const { header } of batch) {
      const message = header as ClientMessage;
      if (message.t === t) return message;
    }
  }
}

/**
 * A client of `server` with a public line (`text`) on its way: read by the
 * server, not answered. `channel`: the server's end of its connection.
 */
async function lineOnItsWay(server: HostileServer, text: string) {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const channel = await server.session;
    const reply = client.request({ t: "say" }, new TextEncoder().encode(text));
    const say = await next(channel, "say");
    return { client, channel, reply, say };
  } catch (error) {
    client.abort();
    throw error;
  }
}

Deno.test("quit waits for the answer to a line on its way before its goodbye: the line is answered, not failed as not sent", async () => {
  await using server = await startHostileServer();
  const { client, channel, reply, say } = await lineOnItsWay(
    server,
    "bye all",
  );
  try {
    const quitting = client.quit();
    // The server answers once the client is leaving: before the fix its
    // goodbye had gone and the line had been failed by then.
    channel.send({ t: "ok", re: (say as { id: number }).id, text: "" });
    const answer = await reply;
    assert.equal(answer.t, "ok", JSON.stringify(answer));
    await next(channel, "bye");
    await quitting;
  } finally {
    client.abort();
  }
});

Deno.test("quit waits at most QUIT_ACK_MS for a line's answer that never comes, then leaves and says it was not sent", async () => {
  await using server = await startHostileServer();
  const { client, channel, reply } = await lineOnItsWay(server, "unanswered");
  try {
    const started = performance.now();
    const quitting = client.quit();
    await next(channel, "bye");
    assert.ok(
      performance.now() - started >= QUIT_ACK_MS - 50,
      "the goodbye went before the wait for the answer",
    );
    await quitting;
    assert.equal((await reply).t, "error");
  } finally {
    client.abort();
  }
});
