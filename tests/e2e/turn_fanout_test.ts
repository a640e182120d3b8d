/**
 * Several senders' frames arriving together (issue 21, the 4-in-flight
 * fan-out cells): every recipient must get every message once, each
 * sender's in order, all recipients in the same order, and each sender its
 * `ok`s; and the runs read in one turn of the event loop reach a recipient in
 * one frame (one seal, one socket write), which is what keeps the write
 * path's cost per delivery down when each sender has few messages in flight.
 */

import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { decodeBatch, packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { TcpChatPeer } from "../_helpers/raw_tcp.ts";

const SENDERS = 4;
const RECIPIENTS = 3;
/** Rounds of one frame per sender, all sent at once, each waiting for its oks. */
const ROUNDS = 30;
/** Messages in each sender's frame (people typing: a few in flight). */
const PER_FRAME = 3;

/** What one peer read: public texts (in order), oks, frames with any public. */
interface Reading {
  texts: string[];
  /** For each frame that held public messages, the senders in it. */
  frames: Set<string>[];
  oks: Set<number>;
}

/** Reads everything `peer` is sent until it is dropped. */
function read(peer: TcpChatPeer): { reading: Reading; done: Promise<void> } {
  const reading: Reading = { texts: [], frames: [], oks: new Set() };
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for (;;) {
        const frame = await peer.tcp.readBinary(60_000);
        const plaintext = await peer.keys.receiver.open(frame);
        const from = new Set<string>();
        for (const { header, body } of decodeBatch(plaintext)) {
          const message = parseServerMessage(header);
          if (message.t === "ok") reading.oks.add(message.re);
          if (message.t === "public") {
            const text = decoder.decode(body);
            reading.texts.push(text);
            from.add(text.split(":")[0]!);
          }
        }
        if (from.size > 0) reading.frames.push(from);
      }
    } catch {
      // Dropped at the end of the test (or a read timed out: the counts
      // below say what was missing).
    }
  })();
  return { reading, done };
}

/** Resolves once `ready()` holds; fails past `timeoutMs`. */
async function until(
  ready: () => boolean,
  what: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("startServer delivers runs from several senders read in one turn to every recipient once, in order", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const senders: TcpChatPeer[] = [];
  const recipients: TcpChatPeer[] = [];
  const readers: ReturnType<typeof read>[] = [];
  try {
    for (let i = 0; i < RECIPIENTS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      assert.equal((await peer.register(`r${i}`)).t, "welcome");
      recipients.push(peer);
    }
    for (let i = 0; i < SENDERS; i++) {
      const peer = await TcpChatPeer.connect(server.port, server.spki);
      assert.equal((await peer.register(`s${i}`)).t, "welcome");
      senders.push(peer);
    }
    for (const peer of [...senders, ...recipients]) readers.push(read(peer));
    const senderReadings = readers.slice(0, SENDERS).map((r) => r.reading);
    const recipientReadings = readers.slice(SENDERS).map((r) => r.reading);

    let id = 1000;
    for (let round = 0; round < ROUNDS; round++) {
      // Every sender's frame sealed first, then all written back to back:
      // they reach the server together, as in a busy room.
      const ids: number[] = [];
      const frames = await Promise.all(senders.map((peer, s) => {
        const encoded: Uint8Array[] = [];
        for (let k = 0; k < PER_FRAME; k++) {
          ids.push(id);
          encoded.push(
            encodeMessage(
              { t: "say", id: id++ },
              utf8Encode(`s${s}:${round}:${k}`),
            ),
          );
        }
        const [batch] = packBatches(encoded);
        return peer.keys.sender.seal(batch!);
      }));
      const sent = await Promise.all(
        frames.map((frame, s) => senders[s]!.sendFrame(frame)),
      );
      assert.ok(sent.every(Boolean), "a sender was cut off");
      // Closed loop, as the bench's senders: the next frame once all are
      // confirmed.
      await until(
        () =>
          senderReadings.every((r, s) =>
            ids.slice(s * PER_FRAME, (s + 1) * PER_FRAME).every((one) =>
              r.oks.has(one)
            )
          ),
        () => `the oks of round ${round}`,
      );
    }

    const total = SENDERS * ROUNDS * PER_FRAME;
    await until(
      () => recipientReadings.every((r) => r.texts.length >= total),
      () =>
        `recipients have ${
          recipientReadings.map((r) => r.texts.length).join(", ")
        } of ${total}`,
    );
    for (const [r, reading] of recipientReadings.entries()) {
      assert.equal(reading.texts.length, total, `r${r}: no more, no fewer`);
      for (let s = 0; s < SENDERS; s++) {
        const want = [];
        for (let round = 0; round < ROUNDS; round++) {
          for (let k = 0; k < PER_FRAME; k++) want.push(`s${s}:${round}:${k}`);
        }
        assert.deepEqual(
          reading.texts.filter((t) => t.startsWith(`s${s}:`)),
          want,
          `r${r} from s${s}: each once, in order`,
        );
      }
      // One order for the room: everyone sees the same interleaving.
      assert.deepEqual(reading.texts, recipientReadings[0]!.texts);
    }
    // Runs read in one turn reach a recipient in one frame (its channel
    // flushes in a microtask, after every run of the turn was routed): one
    // seal and one socket write for several senders' messages. Frames sent
    // back to back by one process are read in one turn nearly always; a
    // round read over several turns only splits its frame.
    for (const [r, reading] of recipientReadings.entries()) {
      const mixed = reading.frames.filter((from) => from.size > 1).length;
      assert.ok(
        mixed > 0,
        `r${r}: no frame of ${reading.frames.length} held several senders' messages`,
      );
    }
    // A sender sees the others' messages, once each, in the room's order.
    for (const [s, reading] of senderReadings.entries()) {
      assert.deepEqual(
        reading.texts,
        recipientReadings[0]!.texts.filter((t) => !t.startsWith(`s${s}:`)),
        `s${s} sees the others in the room's order`,
      );
    }
  } finally {
    for (const peer of [...senders, ...recipients]) peer.drop();
    await Promise.all(readers.map((r) => r.done));
  }
});
