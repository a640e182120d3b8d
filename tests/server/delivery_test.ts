import assert from "node:assert/strict";
import {
  BULK_FRAME_VERSION,
  FrameOpener,
  FrameSealer,
} from "../../src/crypto/session_cipher.ts";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { decodeHeader } from "../../src/protocol/message_framing.ts";
import { Delivery, type DeliveryOptions } from "../../src/server/delivery.ts";
import type { Outbound } from "../../src/server/outbound.ts";
import { route } from "../../src/server/router.ts";
import type { ConnId } from "../../src/server/state.ts";
import { SecureChannel } from "../../src/transport/secure_channel.ts";
import { JOJO, NANA, NONE, room, SOPHIA } from "../_helpers/router_room.ts";
import { RecordingConnection } from "../_helpers/recording_connection.ts";

const encoder = new TextEncoder();

/** One connection's two ends in memory: the server's channel, the peer's reader. */
class Peer {
  readonly conn = new RecordingConnection();
  readonly channel: SecureChannel;
  readonly #opener: FrameOpener;
  #read = 0;
  /** Plaintext bytes of the frames read so far. */
  bytes = 0;

  constructor() {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    this.channel = new SecureChannel(this.conn, {
      sender: new FrameSealer(secret),
      receiver: new FrameOpener(secret),
      transcriptHash: new Uint8Array(32),
    });
    this.#opener = new FrameOpener(secret);
  }

  /** What the peer has received since last asked: headers, and bodies as text. */
  async received(): Promise<[unknown, string][]> {
    await this.channel.drain();
    const out: [unknown, string][] = [];
    for (; this.#read < this.conn.sent.length; this.#read++) {
      const frame = this.conn.sent[this.#read];
      assert.ok(frame instanceof Uint8Array);
      if (frame[0] === BULK_FRAME_VERSION) {
        // A file chunk: its header sealed, its body as it came.
        const { header, body } = await this.#opener.openBulk(frame);
        this.bytes += header.byteLength + body.byteLength;
        out.push([decodeHeader(header), new TextDecoder().decode(body)]);
        continue;
      }
      const plaintext = await this.#opener.open(frame);
      this.bytes += plaintext.byteLength;
      for (const { header, body } of decodeBatch(plaintext)) {
        out.push([header, new TextDecoder().decode(body)]);
      }
    }
    return out;
  }
}

/** sophia, jojo and nana signed in, each with a peer; a Delivery over them. */
function setup(options: Partial<DeliveryOptions> = {}) {
  const state = room();
  const peers = new Map<ConnId, Peer>(
    [SOPHIA, JOJO, NANA].map((id) => [id, new Peer()]),
  );
  const channels = new Map([...peers].map(([id, peer]) => [id, peer.channel]));
  const cutOff: ConnId[] = [];
  const logs: string[] = [];
  const delivery = new Delivery({
    state,
    channels,
    durable: () => null,
    maxBacklogBytes: 1024 * 1024,
    cutOff: (id) => cutOff.push(id),
    grew: () => {},
    log: (line) => logs.push(line),
    ...options,
  });
  const peer = (id: ConnId) => peers.get(id)!;
  return { state, delivery, peer, cutOff, logs };
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

Deno.test("Delivery.deliver sends a room message to everyone but its sender", async () => {
  const { state, delivery, peer } = setup();
  const out = route(
    state,
    SOPHIA,
    { t: "say", id: 7 },
    encoder.encode("hi all"),
    10,
  );
  delivery.deliver(out);
  const public_ = { t: "public", from: "sophia", ts: 10, id: 1, seq: 1 };
  assert.deepEqual(await peer(SOPHIA).received(), [[{
    t: "ok",
    re: 7,
    text: "",
  }, ""]]);
  assert.deepEqual(await peer(JOJO).received(), [[public_, "hi all"]]);
  assert.deepEqual(await peer(NANA).received(), [[public_, "hi all"]]);
});

Deno.test("Delivery.deliver encodes a chat message compactly for a peer that asked", async () => {
  const { delivery, peer } = setup();
  peer(JOJO).channel.readsCompactChat = true;
  const message: Outbound = {
    to: { kind: "room" },
    message: { t: "public", from: "sophia", ts: 10, id: 1, seq: 1 },
    body: encoder.encode("hi"),
  };
  delivery.deliver([message]);
  const [[compact, body]] = await peer(JOJO).received() as [[unknown, string]];
  assert.equal(body, "hi");
  // The compact form is not the JSON object the others get.
  assert.notDeepEqual(compact, message.message);
  assert.deepEqual(await peer(NANA).received(), [[message.message, "hi"]]);
});

Deno.test("Delivery.deliver encodes positions in the form each peer asked for", async () => {
  const { delivery, peer } = setup();
  for (const id of [SOPHIA, JOJO, NANA]) {
    peer(id).channel.readsCompactChat = true;
  }
  peer(JOJO).channel.readsChatPositions = "fixed";
  peer(NANA).channel.readsChatPositions = "varint";
  delivery.deliver([{
    to: { kind: "room" },
    message: { t: "public", from: "sophia", ts: 10, id: 300, seq: 200 },
    body: encoder.encode("hi"),
  }]);
  const [[none]] = await peer(SOPHIA).received() as [[unknown, string]];
  const [[fixed]] = await peer(JOJO).received() as [[unknown, string]];
  const [[varint]] = await peer(NANA).received() as [[unknown, string]];
  // Without positions the id and seq are not sent; with them, both forms
  // carry the same, the varint form in fewer bytes.
  assert.deepEqual(none, { t: "public", from: "sophia", ts: 10 });
  assert.deepEqual(fixed, varint);
  assert.ok(
    peer(NANA).bytes < peer(JOJO).bytes,
    `varints ${peer(NANA).bytes} bytes, fixed ${peer(JOJO).bytes}`,
  );
});

Deno.test("Delivery.deliver falls back to the plain compact form, then JSON, where a message cannot take the form a peer reads", async () => {
  const { delivery, peer } = setup();
  // sophia reads JSON, jojo varints, nana the plain compact form.
  for (const id of [JOJO, NANA]) peer(id).channel.readsCompactChat = true;
  peer(JOJO).channel.readsChatPositions = "varint";
  const plain = { t: "public", from: "sophia", ts: 10 } as const;
  // No position to carry: the plain compact form to jojo and nana.
  delivery.deliver([{ to: { kind: "room" }, message: plain, body: NONE }]);
  for (const id of [SOPHIA, JOJO, NANA]) {
    assert.deepEqual(await peer(id).received(), [[plain, ""]]);
  }
  const compactBytes = peer(NANA).bytes;
  assert.equal(peer(JOJO).bytes, compactBytes);
  assert.ok(compactBytes < peer(SOPHIA).bytes, "smaller than JSON");
  // A replayed message has no compact form: JSON to everyone.
  const history = { ...plain, id: 1, seq: 1, history: true } as const;
  const before = peer(SOPHIA).bytes;
  delivery.deliver([{ to: { kind: "room" }, message: history, body: NONE }]);
  for (const id of [SOPHIA, JOJO, NANA]) {
    assert.deepEqual(await peer(id).received(), [[history, ""]]);
  }
  const json = peer(SOPHIA).bytes - before;
  assert.equal(peer(JOJO).bytes - compactBytes, json);
  assert.equal(peer(NANA).bytes - compactBytes, json);
});

Deno.test("Delivery.deliverRun holds the sender's replies until durable, not the others'", async () => {
  const disk = deferred();
  const { state, delivery, peer } = setup({ durable: () => disk.promise });
  const out = route(
    state,
    SOPHIA,
    { t: "say", id: 7 },
    encoder.encode("hi"),
    10,
  );
  delivery.deliverRun(SOPHIA, out);
  assert.equal((await peer(JOJO).received()).length, 1);
  assert.deepEqual(await peer(SOPHIA).received(), []);
  // Counted as queued for the sender while it waits.
  assert.ok(delivery.queuedFor(SOPHIA) > 0);
  disk.resolve();
  await disk.promise;
  assert.deepEqual(await peer(SOPHIA).received(), [[{
    t: "ok",
    re: 7,
    text: "",
  }, ""]]);
  assert.equal(delivery.queuedFor(SOPHIA), 0);
});

Deno.test("Delivery.deliverRun keeps what comes later behind chat messages waiting for the disk", async () => {
  const disk = deferred();
  const { delivery, peer } = setup({ durable: () => disk.promise });
  const missed: Outbound = {
    to: { kind: "connection", id: NANA },
    message: {
      t: "private",
      from: "jojo",
      ts: 5,
      id: 1,
      seq: 1,
      history: true,
    },
    body: encoder.encode("while you were away"),
  };
  delivery.deliverRun(NANA, [missed]);
  // A live message for nana meanwhile (from another sender's run).
  delivery.deliver([{
    to: { kind: "user", key: "nana" },
    message: { t: "private", from: "sophia", ts: 11, id: 2, seq: 1 },
    body: encoder.encode("live"),
  }]);
  assert.deepEqual(await peer(NANA).received(), []);
  disk.resolve();
  await disk.promise;
  assert.deepEqual(
    (await peer(NANA).received()).map(([, body]) => body),
    ["while you were away", "live"],
  );
});

Deno.test("Delivery.deliverRun copies a held body that is a view of the received frame", async () => {
  const disk = deferred();
  const { delivery, peer } = setup({ durable: () => disk.promise });
  const frame = encoder.encode("xxa chunk backxx");
  const body = frame.subarray(2, 14);
  // Not a chat message: it is encoded only once the disk lets it go.
  delivery.deliverRun(SOPHIA, [{
    to: { kind: "connection", id: SOPHIA },
    message: { t: "file_chunk", xfer: 1, offset: 0 },
    body,
  }], frame.buffer);
  // The frame is reused once the run is routed.
  frame.fill(0);
  disk.resolve();
  await disk.promise;
  assert.deepEqual(await peer(SOPHIA).received(), [[
    { t: "file_chunk", xfer: 1, offset: 0 },
    "a chunk back",
  ]]);
});

Deno.test("Delivery.deliver cuts off a recipient past its backlog and tells of the others' growth", async () => {
  const grown: ConnId[] = [];
  const { delivery, peer, cutOff } = setup({
    maxBacklogBytes: 100,
    grew: (id) => grown.push(id),
  });
  delivery.deliver([{
    to: [JOJO],
    message: { t: "public", from: "sophia", ts: 1 },
    body: new Uint8Array(200),
  }, {
    to: [NANA],
    message: { t: "public", from: "sophia", ts: 1 },
    body: new Uint8Array(10),
  }]);
  assert.deepEqual(cutOff, [JOJO]);
  assert.deepEqual(grown, [NANA]);
  await peer(JOJO).received();
  await peer(NANA).received();
});

Deno.test("Delivery.deliver skips an address that reaches nobody, and logs what cannot be encoded", async () => {
  const { delivery, peer, logs } = setup();
  delivery.deliver([
    { to: { kind: "user", key: "ghost" }, message: { t: "pong", re: 1 } },
    {
      to: [JOJO],
      // A name no encoder accepts: a bug, logged, the connection kept.
      message: { t: "presence", name: "x".repeat(1 << 20), online: true },
    },
    { to: [JOJO], message: { t: "pong", re: 2 } },
  ]);
  assert.deepEqual(await peer(JOJO).received(), [[{ t: "pong", re: 2 }, ""]]);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /could not encode a 'presence' message/);
});
