/**
 * Found attacking as a classmate (hostile31): `/list` names at most 2000
 * users, but counted only users, not bytes. Each user's away reason may be
 * 200 characters, and 200 control characters are 1200 bytes of JSON escapes
 * (`\u0001`): with some 200 such users online, the `users` reply was over the
 * 256 KiB a header may be, the server could not encode it (its log said so)
 * and sent nothing, and every `/list` (the terminal's, the web page's user
 * list) went unanswered for everyone until they left. A few classmates'
 * accounts (64 connections an address) were enough.
 *
 * The users here all connect from loopback; the per-address limits are lifted
 * as if they came from several addresses.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { MAX_AWAY_CHARS } from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const AWAY_USERS = 210;

Deno.test("startServer: /list with many long away reasons fits in one reply, the rest counted in more", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      maxConnectionsPerAddress: 1000,
      handshakesPerSecond: 1000,
      handshakeBurst: 1000,
      messagesPerSecondPerAddress: 1000,
      messageBurstPerAddress: 1000,
    },
  });
  const signIn = async (name: string) => {
    const client = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    assert.equal((await client.register(name)).t, "welcome");
    return client;
  };
  const clients: ChatClient[] = [];
  try {
    // Eight at a time: as many handshakes as one address may have going.
    for (let i = 0; i < AWAY_USERS; i += 8) {
      const batch = await Promise.all(
        Array.from(
          { length: Math.min(8, AWAY_USERS - i) },
          (_, j) => signIn(`away${i + j}`),
        ),
      );
      clients.push(...batch);
      for (const client of batch) {
        const reply = await client.request({
          t: "away",
          reason: "\x01".repeat(MAX_AWAY_CHARS),
        });
        assert.equal(reply.t, "ok", JSON.stringify(reply));
      }
    }
    const victim = await signIn("victim");
    clients.push(victim);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      victim.request({ t: "list" }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `no answer to list; the server's log: ${
                  server.logs.filter((line) => /encode/.test(line))
                }`,
              ),
            ),
          WAIT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer)) as ServerMessage;
    assert.equal(reply.t, "users", JSON.stringify(reply).slice(0, 200));
    if (reply.t !== "users") return;
    assert.ok((reply.more ?? 0) > 0, `more: ${reply.more}`);
    assert.equal(reply.users.length + (reply.more ?? 0), AWAY_USERS + 1);
    assert.equal(reply.users[0]!.away, "\x01".repeat(MAX_AWAY_CHARS));
  } finally {
    await Promise.all(clients.map((client) => client.quit()));
  }
});
