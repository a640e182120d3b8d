/**
 * What the server and the clients keep of a received frame's plaintext
 * after the frame is done with: on a real server, real clients.
 *
 * A channel with OpenSSL opens a frame where it came (the plaintext is a
 * view of the frame, session_cipher.ts FrameOpener.tryOpenNow) and frees
 * the frame with the batch (SecureChannel.recycle); from 16 KiB up a freed
 * frame reads as empty bytes (bytes.ts releaseBuffer). A body kept past
 * that without a copy (stored for a user who is away, held for the disk,
 * shown again as history, a file chunk written later) would come out empty
 * or wrong, and only for frames of those sizes: so every size is sent, the
 * bodies are read back from every place that keeps them, and the reader is
 * slow.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChatClient } from "../../src/client/chat_client.ts";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { fileAead, frameAead } from "../../src/crypto/native_aead.ts";
import { MAX_BATCH_BYTES } from "../../src/protocol/limits.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { openTerminalConnection } from "../../src/transport/tcp_websocket.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import type { Identity } from "../../src/crypto/identity.ts";

/** Bytes of the longest text sent (4,000 characters, most of them `€`). */
const TEXT_BYTES = 11_900;

const LIMITS = {
  connectionLimits: {
    messagesPerSecond: 1_000_000,
    messageBurst: 1_000_000,
    messagesPerSecondPerAddress: 1_000_000,
    messageBurstPerAddress: 1_000_000,
  },
};

/** `text` of exactly `bytes` bytes: ASCII `label`, then `€` and `x`. */
function filler(label: string, bytes: number): string {
  const rest = bytes - label.length;
  assert.ok(rest >= 0 && bytes <= TEXT_BYTES, `${bytes}`);
  return label + "€".repeat(Math.floor(rest / 3)) + "x".repeat(rest % 3);
}

/** Sizes of texts to `to` that make about `total` bytes of one batch. */
function textsFor(total: number, to: string): number[] {
  const overhead = encodeMessage({ t: "msg", to, id: 100 }).byteLength;
  const sizes: number[] = [];
  let left = total;
  while (left > TEXT_BYTES + overhead + 64) {
    sizes.push(TEXT_BYTES);
    left -= TEXT_BYTES + overhead;
  }
  sizes.push(Math.max(left - overhead, 16));
  return sizes;
}

/** Plaintext sizes of the frames sent, around where paths change. */
const FRAMES = [
  1_000,
  16_384 - 64,
  16_384,
  16_384 + 64,
  32_768,
  65_536,
  262_144,
  MAX_BATCH_BYTES - 6_000,
];

/** A `chat connect` client: its own transport, OpenSSL for every frame. */
async function terminal(
  server: TestServer,
  name: string,
  identity?: Identity,
): Promise<TestClient> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    openConnection: (url) => openTerminalConnection(url),
    smallFrames: frameAead,
  });
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return new TestClient(client);
}

/**
 * A reader that waits a timer tick before each frame: the server's frames
 * pile up behind it. (holdReading asks again after each wait: null is
 * "read now".)
 */
function slowReader(client: ChatClient): void {
  let waited = false;
  client.holdReading(() => {
    waited = !waited;
    return waited ? new Promise((resolve) => setTimeout(resolve, 1)) : null;
  });
}

function texts(
  peer: TestClient,
  from: string,
  t: "private" | "public",
  history: boolean,
): string[] {
  return peer.inbox
    .filter(({ message }) =>
      message.t === t && "from" in message && message.from === from &&
      ("history" in message && message.history === true) === history
    )
    .map(({ text }) => text);
}

Deno.test("bodies of frames of every size come out intact live to a slow reader, stored for a user who was away, and as history", async () => {
  await using temp = await tempDir("chat-frame-lifetime-");
  // On disk, as `chat serve` keeps it: the sender's replies wait for the
  // disk (Delivery.deliverRun), and history is read from the file.
  const store = openStore(`${temp.path}/chat.db`);
  await using server = await startTestServer({ ...LIMITS, store });
  const carolKey = await testIdentity();
  // Carol is known, then away: what is sent to her waits in the store.
  const away = await terminal(server, "carol", carolKey);
  await away.quit();
  const ann = await terminal(server, "ann");
  const bob = await terminal(server, "bob");
  slowReader(bob.client);
  const toBob: string[] = [];
  const toCarol: string[] = [];
  const said: string[] = [];
  let n = 0;
  for (const total of FRAMES) {
    // One frame: texts to bob, one to carol, one to the room, in one turn.
    const replies: Promise<{ t: string }>[] = [];
    for (const bytes of textsFor(total, "bob")) {
      const text = filler(`${n++}:${bytes}:`, bytes);
      toBob.push(text);
      replies.push(ann.client.msg("bob", text));
    }
    const stored = filler(`${n++}:carol:`, 3_000 + (n % 7));
    toCarol.push(stored);
    replies.push(ann.client.msg("carol", stored));
    const line = filler(`${n++}:room:`, 2_000 + (n % 5));
    said.push(line);
    replies.push(ann.client.say(line));
    for (const reply of await Promise.all(replies)) {
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    }
  }
  await bob.waitFor(({ text }) => text === toBob.at(-1), 30_000);
  await bob.waitFor(({ text }) => text === said.at(-1), 30_000);
  assert.deepEqual(texts(bob, "ann", "private", false), toBob);
  assert.deepEqual(texts(bob, "ann", "public", false), said);
  // What waited for carol comes from the store at her sign-in.
  const carol = await terminal(server, "carol", carolKey);
  await carol.waitFor(({ text }) => text === toCarol.at(-1), 30_000);
  assert.deepEqual(
    carol.inbox
      .filter(({ message }) => message.t === "private")
      .map(({ text }) => text),
    toCarol,
  );
  // And the room's lines, again, as history.
  const reply = await carol.client.request({ t: "history", limit: 100 });
  assert.equal(reply.t, "ok", JSON.stringify(reply));
  assert.deepEqual(texts(carol, "ann", "public", true), said);
  await Promise.all([ann.quit(), bob.quit(), carol.quit()]);
  await server.shutdown();
  store.close();
});

for (const slow of [false, true]) {
  Deno.test(
    `a file goes byte for byte to a ${
      slow ? "slow" : "fast"
    } reader while chat of every frame size goes both ways`,
    () => fileAmongChat(slow),
  );
}

/**
 * A fast reader reads the next frames while earlier chunks are still being
 * written (a chunk's frame freed or read into again too soon shows then); a
 * slow one has the server's frames pile up.
 */
async function fileAmongChat(slow: boolean): Promise<void> {
  await using temp = await tempDir("chat-frame-lifetime-");
  const root = temp.path;
  await using server = await startTestServer(LIMITS);
  const ann = await terminal(server, "ann");
  const bob = await terminal(server, "bob");
  if (slow) slowReader(bob.client);
  new FileReceiver(bob.client, {
    downloadsDir: `${root}/downloads`,
    maxFileBytes: 1024 ** 3,
    open: false,
    openWith: null,
    consent: () => Promise.resolve("accept"),
    print: () => {},
    fileAead,
  });
  const bytes = new Uint8Array(6 * 1024 * 1024);
  for (let at = 0; at < bytes.length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(`${root}/data.bin`, bytes);
  const sender = new FileSender(ann.client, null, fileAead);
  const sent = sender.send({ to: "bob" }, `${root}/data.bin`);
  // Chat both ways meanwhile, frames of every size, each side's texts in
  // frames of their own among the chunks.
  const sentBy = new Map<TestClient, string[]>([[ann, []], [bob, []]]);
  let n = 0;
  for (const total of FRAMES) {
    for (const [from, to] of [[ann, "bob"], [bob, "ann"]] as const) {
      const replies: Promise<{ t: string }>[] = [];
      for (const size of textsFor(total, to)) {
        const text = filler(`${n++}:${size}:`, size);
        sentBy.get(from)!.push(text);
        replies.push(from.client.msg(to, text));
      }
      for (const reply of await Promise.all(replies)) {
        assert.equal(reply.t, "ok", JSON.stringify(reply));
      }
    }
  }
  const outcome = await sent;
  assert.equal(outcome.kind, "finished", JSON.stringify(outcome));
  const digest = (data: Uint8Array) =>
    createHash("sha256").update(data).digest("hex");
  assert.equal(
    digest(await Deno.readFile(`${root}/downloads/data.bin`)),
    digest(bytes),
  );
  await bob.waitFor(({ text }) => text === sentBy.get(ann)!.at(-1), 30_000);
  await ann.waitFor(({ text }) => text === sentBy.get(bob)!.at(-1), 30_000);
  assert.deepEqual(texts(bob, "ann", "private", false), sentBy.get(ann));
  assert.deepEqual(texts(ann, "bob", "private", false), sentBy.get(bob));
  await Promise.all([ann.quit(), bob.quit()]);
}
