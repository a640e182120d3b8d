/**
 * `file_ready` answers a group file's sender once every member answered,
 * naming each who did not take it with their reason: up to 100 printable
 * characters, and 100 quotes are 200 bytes of JSON. With 998 such decliners
 * (a group of 1000, the most allowed) the header was 255.6 KB of the 256 KiB
 * a header may be; with a larger group it could not be encoded, and the
 * sender never heard (its file never went). The list is cut to what fits,
 * the rest counted in `declined_more`.
 *
 * All connect from loopback; the per-address limits are lifted as if they
 * came from several addresses, and the group limit raised, as a host may.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { MAX_HEADER_BYTES } from "../../src/protocol/limits.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { startTestServer } from "../_helpers/chat.ts";

const DECLINERS = 1030;
const REASON = '"'.repeat(100);

Deno.test("startServer: file_ready to a group of 1030 hostile decliners fits in one header, the rest counted in declined_more", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      maxConnectionsPerAddress: 2000,
      handshakesPerSecond: 0,
      handshakeBurst: 2000,
      messagesPerSecondPerAddress: 0,
      messageBurstPerAddress: 2000,
      newNameBurstPerAddress: 2000,
    },
    limits: {
      maxMembersPerGroup: DECLINERS + 10,
      groupsJoinedPerHourPerAddress: 0,
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
    const sender = await signIn("sender");
    clients.push(sender);
    assert.equal(
      (await sender.request({ t: "create", group: "big" })).t,
      "ok",
    );
    const taker = await signIn("taker");
    clients.push(taker);
    assert.equal((await taker.request({ t: "join", group: "big" })).t, "ok");
    taker.onMessage(({ message }) => {
      if (message.t === "file_offer") {
        taker.post({ t: "file_accept", xfer: message.xfer });
      }
    });
    // Eight at a time: as many handshakes as one address may have going.
    for (let i = 0; i < DECLINERS; i += 8) {
      const batch = await Promise.all(
        Array.from(
          { length: Math.min(8, DECLINERS - i) },
          // The longest names: 32 characters.
          (_, j) => signIn(`d${i + j}`.padEnd(32, "x")),
        ),
      );
      clients.push(...batch);
      for (const client of batch) {
        const joined = await client.request({ t: "join", group: "big" });
        assert.equal(joined.t, "ok", JSON.stringify(joined));
        client.onMessage(({ message }) => {
          if (message.t === "file_offer") {
            client.post({
              t: "file_cancel",
              xfer: message.xfer,
              reason: REASON,
            });
          }
        });
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      sender.request({
        t: "file_offer",
        name: "x.bin",
        size: 10,
        group: "big",
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `no answer to file_offer; the server's log: ${
                  server.logs.filter((line) => /encode/.test(line))
                }`,
              ),
            ),
          30_000,
        );
      }),
    ]).finally(() => clearTimeout(timer)) as ServerMessage;
    assert.equal(reply.t, "file_ready", JSON.stringify(reply).slice(0, 200));
    if (reply.t !== "file_ready") return;
    assert.deepEqual(reply.recipients, ["taker"]);
    const header = new TextEncoder().encode(JSON.stringify(reply)).byteLength;
    assert.ok(header <= MAX_HEADER_BYTES, `${header} bytes`);
    assert.ok((reply.declined_more ?? 0) > 0, `${reply.declined_more}`);
    assert.equal(
      (reply.declined ?? []).length + (reply.declined_more ?? 0),
      DECLINERS,
    );
    assert.equal(reply.declined?.[0]?.reason, REASON);
  } finally {
    await Promise.all(clients.map((client) => client.quit()));
  }
});
