/**
 * `history` as an amplifier: one small frame of requests asks for megabytes
 * of replies read from the store. Each case runs a real server with a real
 * store; the store is counted (not replaced) to see how much was read.
 */

import assert from "node:assert/strict";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import {
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
  MAX_TEXT_BYTES,
} from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import type { ConnectionLimits } from "../../src/server/config.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import type { Store } from "../../src/store/store.ts";
import {
  assertStillChatting,
  bystanders,
  waitForLog,
} from "../_helpers/bystanders.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";

/** The largest body the server takes: 16,000 bytes of text. */
const BIG = new Uint8Array(MAX_TEXT_BYTES).fill(0x61);
const BIG_TEXT = new TextDecoder().decode(BIG);

/** A store whose `history` calls are counted (it is the real one). */
function countingStore(): { store: Store; reads: () => number } {
  const store = openStore(":memory:");
  let reads = 0;
  const history = store.history.bind(store);
  store.history = (...args) => {
    reads++;
    return history(...args);
  };
  return { store, reads: () => reads };
}

/** Fills the public room with `count` messages of 16,000 bytes. */
async function fill(client: TestClient, count: number): Promise<void> {
  const replies = await Promise.all(
    Array.from({ length: count }, () => client.client.say(BIG_TEXT)),
  );
  assert.ok(replies.every((r) => r.t === "ok"), JSON.stringify(replies[0]));
}

/** One frame holding `count` requests for the longest history. */
async function historyBomb(peer: TcpChatPeer, count: number): Promise<void> {
  const requests = Array.from(
    { length: count },
    (_, i) =>
      encodeMessage(
        { t: "history", id: 1000 + i, limit: MAX_HISTORY } as ClientMessage,
      ),
  );
  const [batch, ...rest] = packBatches(requests);
  assert.equal(rest.length, 0);
  assert.ok(await peer.sendFrame(await peer.keys.sender.seal(batch!)));
}

const FAST: Partial<ConnectionLimits> = {
  messagesPerSecond: 0,
  messagesPerSecondPerAddress: 0,
  historyPerSecond: 0,
  historyPerSecondPerAddress: 0,
};

Deno.test("history reply holds at most MAX_HISTORY_BYTES of bodies and says that older messages were left out", async () => {
  const { store } = countingStore();
  await using server = await startTestServer({
    store,
    connectionLimits: FAST,
  });
  const writer = await TestClient.connect(server, "writer");
  await fill(writer, 40);
  const reply = await writer.client.request({ t: "history", limit: 500 });
  assert.equal(reply.t, "ok");
  assert.match(
    "text" in reply ? reply.text : "",
    /^End of history for the public room \(\d+ messages; older ones do not fit in one reply\)\.$/,
  );
  const shown = writer.inbox.filter((m) =>
    m.message.t === "public" && m.message.history === true
  );
  const bytes = shown.reduce((n, m) => n + m.text.length, 0);
  assert.ok(bytes <= MAX_HISTORY_BYTES, `${bytes} bytes of history`);
  assert.equal(shown.length, Math.floor(MAX_HISTORY_BYTES / BIG.byteLength));
  // A history that fits is still whole, and says nothing more.
  const few = await writer.client.request({ t: "history", limit: 3 });
  assert.equal(
    "text" in few ? few.text : "",
    "End of history for the public room (3 messages).",
  );
  await writer.quit();
  store.close();
});

Deno.test("startServer stops routing a frame of history requests once the sender's queue passes maxBacklogBytes, and cuts it off", async () => {
  const { store, reads } = countingStore();
  const maxBacklogBytes = 1024 * 1024;
  await using server = await startTestServer({
    store,
    connectionLimits: { ...FAST, maxBacklogBytes },
  });
  await using people = await bystanders(server);
  await fill(people.alice, 40);
  const peer = await TcpChatPeer.connect(server.port, server.spki);
  assert.equal((await peer.register("bomber")).t, "welcome");
  const before = reads();
  // It never reads from here on.
  await historyBomb(peer, 40);
  await waitForLog(
    server,
    /disconnecting bomber .*not reading your messages fast enough/,
  );
  // Each reply is at most 256 KiB: the queue passes 1 MiB at the fifth.
  const read = reads() - before;
  assert.ok(
    read <= Math.ceil(maxBacklogBytes / MAX_HISTORY_BYTES) + 1,
    `${read} history replies built for a peer that reads nothing`,
  );
  await assertStillChatting(people, "after the history bomb");
  peer.drop();
  store.close();
});

Deno.test("startServer lets a connection make only historyBurst history requests at once; the rest are told to slow down", async () => {
  const { store, reads } = countingStore();
  await using server = await startTestServer({
    store,
    connectionLimits: {
      messagesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
      historyBurst: 5,
    },
  });
  await using people = await bystanders(server);
  const peer = await TcpChatPeer.connect(server.port, server.spki);
  assert.equal((await peer.register("bomber")).t, "welcome");
  const before = reads();
  await historyBomb(peer, 40);
  // The last request's reply ends the frame's replies.
  const last = await peer.request({ t: "ping" });
  assert.equal(last.t, "pong");
  assert.equal(reads() - before, 5);
  await waitForLog(server, /slowing down bomber/);
  await assertStillChatting(people, "after the history requests");
  peer.drop();
  store.close();
});
