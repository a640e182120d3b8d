/**
 * A page of what waited (docs/PROTOCOL.md 5.3) is not taken for the answer
 * of a `history` request (5.9) when the `ack` that brings it was held over
 * the rate: the server applies held acks on their own once the rate allows
 * (connection_loop.ts), between two frames of the client, so such a page
 * comes whenever, not only right after an `ack` the client just sent. A
 * real server and store, the reference ChatClient, and a TCP relay between
 * them that holds what the client sends while the page comes (the network
 * being slow one way).
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

/** A TCP relay to `port` whose client-to-server direction can be held. */
function startRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let held: Uint8Array[] | null = null;
  let upstream: Deno.TcpConn | null = null;
  const conns: Deno.Conn[] = [];
  const pumps: Promise<void>[] = [];
  const pump = async (
    from: Deno.Conn,
    write: (bytes: Uint8Array) => Promise<void>,
  ) => {
    try {
      for await (const chunk of from.readable) await write(chunk);
    } catch {
      // The other side went.
    }
  };
  const writeAll = async (to: Deno.Conn, bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) {
      at += await to.write(bytes.subarray(at));
    }
  };
  pumps.push((async () => {
    const client = await listener.accept();
    const server = await Deno.connect({ hostname: "127.0.0.1", port });
    upstream = server;
    conns.push(client, server);
    await Promise.all([
      pump(server, (bytes) => writeAll(client, bytes)),
      pump(client, async (bytes) => {
        if (held !== null) held.push(bytes.slice());
        else await writeAll(server, bytes);
      }),
    ]);
  })());
  return {
    url: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    /** From now on, what the client sends waits here. */
    hold() {
      held = [];
    },
    /** What waited goes on, and what follows. */
    async release() {
      const waiting = held ?? [];
      held = null;
      for (const bytes of waiting) {
        let at = 0;
        while (at < bytes.length) {
          at += await upstream!.write(bytes.subarray(at));
        }
      }
    },
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await Promise.all(pumps);
    },
  };
}

Deno.test("a page of what waited that an ack held over the rate brings is not taken for the answer of a history request sent before it came", async () => {
  await using stack = new AsyncDisposableStack();
  const store = openStore(":memory:");
  stack.defer(() => store.close());
  const key = await testIdentity();
  {
    await using away = await startTestServer({ store });
    await (await TestClient.connect(away, "sophia", key)).quit();
  }
  // Two pages: 64 bodies of 16 KiB fill the first (1 MiB, router.ts
  // MAX_MISSED_BYTES), and 64 messages are acknowledged at once (no
  // timer); the 65th is the next page.
  store.transaction(() => {
    store.ensureUser("termy", "termy", 1);
    for (let n = 1; n <= 65; n++) {
      store.appendMessage({
        kind: "private",
        toKey: "sophia",
        ts: n,
        fromKey: "termy",
        fromName: "termy",
        body: new TextEncoder().encode(
          n === 65 ? "the next page" : "x".repeat(16 * 1024),
        ),
        recipients: [{ userKey: "sophia", delivered: false }],
      });
    }
  });
  // One message every two seconds, the sign-in's two (register, prove) at once: the ack of the
  // first page is held, and applied on its own about two seconds in.
  const server = stack.use(
    await startTestServer({
      store,
      connectionLimits: { messagesPerSecond: 0.5, messageBurst: 2 },
    }),
  );
  const relay = startRelay(server.port);
  stack.defer(() => relay.close());
  const client = await ChatClient.connect(relay.url, {
    pinnedSpki: server.spki,
  });
  stack.defer(() => client.abort());
  const privates: { id: number; answers: number | undefined }[] = [];
  const firstPage = Promise.withResolvers<void>();
  const nextPage = Promise.withResolvers<void>();
  client.onMessage(({ message, answers }) => {
    if (message.t !== "private") return;
    privates.push({ id: message.id!, answers });
    if (privates.length === 64) firstPage.resolve();
    if (privates.length === 65) nextPage.resolve();
  });
  assert.equal((await client.register("sophia", key)).t, "welcome");
  await firstPage.promise;
  // Its ack went at the 64th (it is held by the server); a round trip to
  // be sure, refused over the rate.
  assert.equal((await client.request({ t: "list" })).t, "error");
  // A request after that ack (after a ping): refused over the rate too.
  const first = await client.request({ t: "history", target: "termy" });
  assert.equal(first.t, "error");
  // The next one waits on the way, while the held ack brings the page.
  relay.hold();
  const second = client.request({ t: "history", target: "termy" });
  await nextPage.promise;
  const page = privates.at(-1)!;
  assert.equal(page.id, privates[63]!.id + 1);
  assert.equal(
    page.answers,
    undefined,
    "the page was taken for the answer of the history request",
  );
  await relay.release();
  await second;
  await client.quit();
});
