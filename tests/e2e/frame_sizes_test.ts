/**
 * Frames of the sizes where the code changes paths, on real connections to
 * a real server, every kind of client at once, each sending its next frame
 * before the last is through: every message arrives intact and in order,
 * and no connection drops.
 *
 * Why these sizes: a frame's path changes at them, and a buffer released,
 * reused or changed while a path still reads it would show only there.
 * - 4 KiB of plaintext: node:crypto seals and opens up to it at once,
 *   WebCrypto above it, a promise later (native_aead.ts SMALL_FRAME_LIMIT),
 *   so a large frame and the small one after it are sealed on two paths.
 * - 16 KiB: buffers from it up are freed at once (bytes.ts releaseBuffer):
 *   sealed frames, plaintexts, the server's reads (ws_read_release.ts) and
 *   its written send buffers; the terminal client reads a frame above it
 *   straight into a buffer of its own (tcp_websocket.ts DIRECT_READ_BYTES).
 * - Powers of two: the server's send buffers come in these size classes
 *   (send_buffers.ts), reused once written.
 * - 64 KiB: a WebSocket frame's length takes 8 bytes from there.
 * - 1 MiB: the largest batch; more is cut into two frames.
 * - A peer whose network stalls: the server's writes to it are not taken
 *   at once, and its send buffers are written back only later.
 * Exact sizes depend on a request's id, so each is swept a few bytes either
 * side.
 */

import assert from "node:assert/strict";
import {
  type AddressInfo,
  connect as connectTcp,
  createServer,
  type Socket,
} from "node:net";
import { ChatClient, type Ending } from "../../src/client/chat_client.ts";
import { frameAead, nativeSmallFrames } from "../../src/crypto/native_aead.ts";
import type { SmallFrameAead } from "../../src/crypto/session_cipher.ts";
import { MAX_BATCH_BYTES } from "../../src/protocol/limits.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { openTerminalConnection } from "../../src/transport/tcp_websocket.ts";
import { TestClient, type TestServer } from "../_helpers/chat.ts";
import { startTestServer } from "../_helpers/chat.ts";

/**
 * Bytes of the longest text sent: near the most 4,000 characters hold,
 * nearly all `€` (3 bytes), a label and up to 2 bytes of `x` among them.
 */
const TEXT_BYTES = 11_900;

interface Kind {
  name: string;
  /** Over the terminal client's transport (else Deno's own WebSocket). */
  tcp: boolean;
  /** Its synchronous AES-GCM, or none: WebCrypto for every frame. */
  smallFrames: SmallFrameAead | null;
  /**
   * Through a {@link StallingRelay}, which stops reading either way while
   * this peer's predecessor sends it its largest rounds: the server's
   * writes to it fill the kernel's buffers and wait with the socket's
   * handle, not taken at once (direct_write.ts "pending").
   */
  relayed?: true;
}

const KINDS: readonly Kind[] = [
  // A browser's: every frame through WebCrypto.
  { name: "web", tcp: false, smallFrames: null },
  // Up to 4 KiB at once, above through WebCrypto.
  { name: "webnode", tcp: false, smallFrames: nativeSmallFrames },
  // `chat connect`'s.
  { name: "tcp", tcp: true, smallFrames: frameAead },
  { name: "tcpnode", tcp: true, smallFrames: nativeSmallFrames },
  { name: "stalled", tcp: true, smallFrames: frameAead, relayed: true },
];

/**
 * A TCP relay to the server that can stop reading: a network that stops
 * taking the server's bytes, and the client's, for a while (as a machine
 * under load does). Bytes are passed on as they are, both ways.
 */
class StallingRelay {
  readonly #listener = createServer((down) => this.#relay(down));
  readonly #sockets = new Set<Socket>();
  #stalled = false;

  private constructor(readonly serverPort: number) {}

  static async start(serverPort: number): Promise<StallingRelay> {
    const relay = new StallingRelay(serverPort);
    await new Promise<void>((resolve) =>
      relay.#listener.listen(0, "127.0.0.1", resolve)
    );
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#listener.address() as AddressInfo).port}`;
  }

  /** Stops (true) or resumes (false) reading, from either end. */
  stall(stalled: boolean): void {
    this.#stalled = stalled;
    for (const socket of this.#sockets) {
      if (stalled) socket.pause();
      else socket.resume();
    }
  }

  #relay(down: Socket): void {
    const up = connectTcp(this.serverPort, "127.0.0.1");
    for (const socket of [down, up]) {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.#sockets.delete(socket);
        down.destroy();
        up.destroy();
      });
    }
    down.on("data", (chunk: Uint8Array) => up.write(chunk));
    up.on("data", (chunk: Uint8Array) => down.write(chunk));
    if (this.#stalled) this.stall(true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#listener.close(resolve));
  }
}

/** `text`'s bytes: ASCII `label`, then `€` and `x` up to exactly `bytes`. */
function filler(label: string, bytes: number): string {
  const rest = bytes - label.length;
  assert.ok(rest >= 0 && bytes <= TEXT_BYTES, `${bytes}`);
  return label + "€".repeat(Math.floor(rest / 3)) + "x".repeat(rest % 3);
}

/**
 * Bytes of texts to send in one turn (one frame: a batch is its messages
 * back to back) for a frame whose plaintext is `total` bytes, to `to`
 * (whose name sets the header's length; ids taken as 3 digits).
 */
function textsFor(total: number, to: string): number[] {
  const overhead = encodeMessage({ t: "msg", to, id: 100 }).byteLength;
  const sizes: number[] = [];
  let left = total;
  while (left > TEXT_BYTES + overhead + 64) {
    sizes.push(TEXT_BYTES);
    left -= TEXT_BYTES + overhead;
  }
  sizes.push(left - overhead);
  return sizes;
}

/** Plaintext sizes of one frame to send, each swept `spread` either side. */
const TARGETS: readonly { total: number; spread: number }[] = [
  { total: 4096, spread: 3 },
  { total: 16384 - 25, spread: 2 },
  { total: 16384, spread: 2 },
  { total: 32768 - 29, spread: 1 },
  { total: 65536 - 25, spread: 2 },
];

/** A running client and what it sent and got. */
interface Peer {
  kind: Kind;
  test: TestClient;
  /** The texts it sent its successor in the ring, in order. */
  sent: string[];
  /** The texts it said to the room, in order. */
  said: string[];
}

async function connect(
  server: TestServer,
  relay: StallingRelay,
  kind: Kind,
): Promise<Peer> {
  const client = await ChatClient.connect(
    kind.relayed ? relay.url : server.url,
    {
      pinnedSpki: server.spki,
      ...(kind.tcp
        ? { openConnection: (url) => openTerminalConnection(url) }
        : {}),
      ...(kind.smallFrames === null ? {} : { smallFrames: kind.smallFrames }),
    },
  );
  const reply = await client.register(kind.name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return { kind, test: new TestClient(client), sent: [], said: [] };
}

/**
 * `from` sends `to` one frame of texts of `sizes` bytes, then (its own
 * frame, sealed while the first may still be) a short line to the room,
 * and waits for every reply.
 */
async function round(from: Peer, to: Peer, sizes: number[]): Promise<void> {
  const client = from.test.client;
  const replies: Promise<unknown>[] = [];
  for (const bytes of sizes) {
    const text = filler(`${from.sent.length}:${bytes}:`, bytes);
    from.sent.push(text);
    replies.push(client.msg(to.kind.name, text));
  }
  // The flush queued by the first send runs before this continues: what
  // follows goes in a frame after it, while a large one may still be sealed.
  await null;
  const line = `room ${from.said.length}`;
  from.said.push(line);
  replies.push(client.say(line));
  replies.push(client.request({ t: "ping" }));
  for (const reply of await Promise.all(replies)) {
    const t = (reply as { t: string }).t;
    assert.ok(t === "ok" || t === "pong", JSON.stringify(reply));
  }
}

/**
 * `from` sends `to` 1 MiB or so of texts in `frames` turns, back to back,
 * without waiting for a reply (each turn's texts a frame or two); resolves
 * once every reply has come.
 */
async function flood(from: Peer, to: Peer, frames: number): Promise<void> {
  const replies: Promise<{ t: string }>[] = [];
  for (let k = 0; k < frames; k++) {
    for (const bytes of textsFor(MAX_BATCH_BYTES, to.kind.name)) {
      const text = filler(`${from.sent.length}:${bytes}:`, bytes);
      from.sent.push(text);
      replies.push(from.test.client.msg(to.kind.name, text));
    }
    // This turn's flush runs first: the next texts go in later frames.
    await null;
  }
  for (const reply of await Promise.all(replies)) {
    assert.equal(reply.t, "ok", JSON.stringify(reply));
  }
}

/**
 * `from` sends `to` a round of every size in turn. When `to` is relayed,
 * its relay stalls for the largest rounds, while `to` itself floods `next`.
 */
async function sendAll(
  from: Peer,
  to: Peer,
  next: Peer,
  relay: StallingRelay,
): Promise<void> {
  for (const { total, spread } of TARGETS) {
    for (let d = -spread; d <= spread; d++) {
      await round(from, to, textsFor(total + d, to.kind.name));
    }
  }
  // A batch of the largest size, and past it (cut in two frames). While
  // the relay stalls: to the stalled peer more than the kernel's buffers
  // hold (the server's writes wait with the socket's handle), and from it
  // a flood the server reads all at once when the relay goes on.
  if (to.kind.relayed !== true) {
    for (const extra of [0, 40_000]) {
      await round(from, to, textsFor(MAX_BATCH_BYTES + extra, to.kind.name));
    }
    return;
  }
  relay.stall(true);
  const flooded = flood(to, next, 6);
  for (const extra of [0, 40_000, 0, 40_000, 0]) {
    await round(from, to, textsFor(MAX_BATCH_BYTES + extra, to.kind.name));
  }
  relay.stall(false);
  await flooded;
}

/** Everything `peer` got from `from`, of type `t`, in order. */
function got(peer: Peer, from: string, t: "private" | "public"): string[] {
  return peer.test.inbox
    .filter(({ message }) =>
      message.t === t && "from" in message && message.from === from &&
      !("history" in message && message.history === true)
    )
    .map(({ text }) => text);
}

function endedEarly(peer: Peer): Promise<never> {
  return peer.test.client.ended.then((ending: Ending) => {
    throw new Error(
      `${peer.kind.name}'s connection ended: ${JSON.stringify(ending)}`,
    );
  });
}

Deno.test("frames around 4 KiB, 16 KiB, the send buffers' classes, 64 KiB and 1 MiB, sent back to back by every kind of client, all arrive intact and in order", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      messagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      messagesPerSecondPerAddress: 1_000_000,
      messageBurstPerAddress: 1_000_000,
    },
  });
  await using relay = await StallingRelay.start(server.port);
  const peers: Peer[] = [];
  for (const kind of KINDS) peers.push(await connect(server, relay, kind));
  const successor = (i: number) => peers[(i + 1) % peers.length]!;
  try {
    const ended = Promise.race(peers.map(endedEarly));
    ended.catch(() => {});
    await Promise.race([
      Promise.all(
        peers.map((peer, i) =>
          sendAll(peer, successor(i), successor(i + 1), relay)
        ),
      ),
      ended,
    ]);
    // Delivery goes on after the last reply: each has all it is owed, then.
    await Promise.race([
      Promise.all(peers.map(async (peer, i) => {
        const next = successor(i);
        await next.test.waitFor(({ message, text }) =>
          message.t === "private" && text === peer.sent.at(-1)
        );
        for (const other of peers) {
          if (other === peer) continue;
          await other.test.waitFor(({ message, text }) =>
            message.t === "public" && message.from === peer.kind.name &&
            text === peer.said.at(-1)
          );
        }
      })),
      ended,
    ]);
    for (const [i, peer] of peers.entries()) {
      const next = successor(i);
      const privates = got(next, peer.kind.name, "private");
      assert.equal(privates.length, peer.sent.length, peer.kind.name);
      privates.forEach((text, k) =>
        assert.ok(
          text === peer.sent[k],
          `${peer.kind.name} -> ${next.kind.name}: message ${k} differs`,
        )
      );
      for (const other of peers) {
        if (other === peer) continue;
        assert.deepEqual(
          got(other, peer.kind.name, "public"),
          peer.said,
          `${peer.kind.name} -> ${other.kind.name} (room)`,
        );
      }
    }
    for (const peer of peers) assert.equal(peer.test.client.isOver, false);
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n` +
        `The server's log:\n${server.logs.join("\n")}`,
      { cause: error },
    );
  } finally {
    relay.stall(false);
    for (const peer of peers) await peer.test.client.quit();
  }
});
