/**
 * TcpWebSocketConnection against a hostile server written here over a raw
 * TCP listener: it answers the upgrade as it likes and sends whatever bytes
 * a test gives it, and it reads the client's frames as they are on the wire
 * (masks included).
 */

import assert from "node:assert/strict";
import {
  MAX_MESSAGE_BYTES,
  TcpWebSocketConnection,
} from "../../src/transport/tcp_websocket.ts";
import { CloseCode, type CloseInfo } from "../../src/transport/connection.ts";
import { HandshakeError } from "../../src/crypto/handshake.ts";
import { openChannel } from "../../src/transport/secure_channel.ts";
import {
  acceptFor,
  WebSocketUpgradeError,
} from "../../src/transport/websocket_upgrade.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One frame as the client put it on the wire. */
interface ClientFrame {
  fin: boolean;
  opcode: number;
  mask: Uint8Array;
  /** Unmasked. */
  payload: Uint8Array;
}

/** The server's end of one connection. */
class RawPeer {
  #pending = new Uint8Array(0);

  constructor(readonly conn: Deno.TcpConn) {}

  /** Reads the client's request head; resolves with its header fields. */
  async readRequest(): Promise<Map<string, string>> {
    for (;;) {
      const text = decoder.decode(this.#pending);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#pending = this.#pending.subarray(end + 4);
        const fields = new Map<string, string>();
        const [requestLine, ...lines] = text.slice(0, end).split("\r\n");
        fields.set(":request", requestLine!);
        for (const line of lines) {
          const colon = line.indexOf(":");
          fields.set(
            line.slice(0, colon).toLowerCase(),
            line.slice(colon + 1).trim(),
          );
        }
        return fields;
      }
      if (!await this.#fill()) {
        throw new Error("client went before its request");
      }
    }
  }

  /** Answers the upgrade: 101 with a right accept unless told otherwise. */
  async accept(
    key: string,
    { accept, extra = [] }: { accept?: string; extra?: string[] } = {},
  ): Promise<void> {
    await this.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept ?? await acceptFor(key)}\r\n` +
        extra.map((line) => `${line}\r\n`).join("") + "\r\n",
    );
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** The client's next frame, or null once it closed the connection. */
  async readFrame(): Promise<ClientFrame | null> {
    for (;;) {
      const frame = this.#parse();
      if (frame !== null) return frame;
      if (!await this.#fill()) return null;
    }
  }

  /** Reads frames until the client's close frame; resolves with its code and reason. */
  async readClose(): Promise<{ code: number; reason: string }> {
    for (;;) {
      const frame = await this.readFrame();
      if (frame === null) throw new Error("no close frame before the end");
      if (frame.opcode !== 0x8) continue;
      return {
        code: (frame.payload[0]! << 8) | frame.payload[1]!,
        reason: decoder.decode(frame.payload.subarray(2)),
      };
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  #parse(): ClientFrame | null {
    const b = this.#pending;
    if (b.length < 2) return null;
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = (b[2]! << 8) | b[3]!;
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      length = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(2));
      at = 10;
    }
    assert.ok((b[1]! & 0x80) !== 0, "a client frame must be masked");
    if (b.length < at + 4 + length) return null;
    const mask = b.slice(at, at + 4);
    const payload = b.slice(at + 4, at + 4 + length);
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.#pending = b.subarray(at + 4 + length);
    return { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, mask, payload };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let read: number | null;
    try {
      read = await this.conn.read(chunk);
    } catch {
      return false;
    }
    if (read === null) return false;
    const joined = new Uint8Array(this.#pending.length + read);
    joined.set(this.#pending);
    joined.set(chunk.subarray(0, read), this.#pending.length);
    this.#pending = joined;
    return true;
  }
}

/** A listener on an ephemeral port that hands over each connection. */
class RawServer {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #peers: RawPeer[] = [];

  get url(): string {
    return `ws://127.0.0.1:${this.#listener.addr.port}/chat?x=1`;
  }

  async next(): Promise<RawPeer> {
    const peer = new RawPeer(await this.#listener.accept());
    this.#peers.push(peer);
    return peer;
  }

  [Symbol.dispose](): void {
    for (const peer of this.#peers) peer.close();
    this.#listener.close();
  }
}

/** A client connected to `server`, and the server's end, upgraded. */
async function connected(
  server: RawServer,
  options: { maxInboxBytes?: number } = {},
): Promise<{ client: TcpWebSocketConnection; peer: RawPeer }> {
  const opening = TcpWebSocketConnection.open(server.url, options);
  const peer = await server.next();
  const request = await peer.readRequest();
  await peer.accept(request.get("sec-websocket-key")!);
  return { client: await opening, peer };
}

/** A frame as a server would send it (unmasked), or as a hostile one. */
function serverFrame(
  opcode: number,
  payload: Uint8Array | string,
  { fin = true, bits = 0, masked = false, length }: {
    fin?: boolean;
    bits?: number;
    masked?: boolean;
    length?: number;
  } = {},
): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const announced = length ?? body.length;
  const lengthBytes = announced < 126 ? 0 : announced < 65536 ? 2 : 8;
  const maskBytes = masked ? 4 : 0;
  const out = new Uint8Array(2 + lengthBytes + maskBytes + body.length);
  out[0] = (fin ? 0x80 : 0) | bits | opcode;
  const view = new DataView(out.buffer);
  if (lengthBytes === 0) out[1] = announced;
  else if (lengthBytes === 2) {
    out[1] = 126;
    view.setUint16(2, announced);
  } else {
    out[1] = 127;
    view.setBigUint64(2, BigInt(announced));
  }
  if (masked) out[1]! |= 0x80;
  out.set(body, 2 + lengthBytes + maskBytes);
  return out;
}

function closeBody(code: number, reason = ""): Uint8Array {
  const text = encoder.encode(reason);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

Deno.test("acceptFor gives RFC 6455's own example accept", async () => {
  assert.equal(
    await acceptFor("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
});

Deno.test("TcpWebSocketConnection asks for the upgrade with a random key, and the path and query of its URL", async () => {
  using server = new RawServer();
  const keys: string[] = [];
  for (let i = 0; i < 2; i++) {
    const { client, peer } = await (async () => {
      const opening = TcpWebSocketConnection.open(server.url);
      const peer = await server.next();
      const request = await peer.readRequest();
      assert.equal(request.get(":request"), "GET /chat?x=1 HTTP/1.1");
      assert.equal(request.get("upgrade"), "websocket");
      assert.equal(request.get("sec-websocket-version"), "13");
      const key = request.get("sec-websocket-key")!;
      assert.equal(atob(key).length, 16);
      keys.push(key);
      await peer.accept(key);
      return { client: await opening, peer };
    })();
    client.close();
    await peer.readClose();
    peer.close();
    await client.closed;
  }
  assert.notEqual(keys[0], keys[1]);
});

Deno.test("TcpWebSocketConnection masks every frame with a fresh random key, and the server reads what was sent", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  const sent: Uint8Array[] = [];
  for (const size of [0, 5, 125, 126, 1000, 65535, 65536, 300_000]) {
    const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const message = new Uint8Array(size);
    for (let at = 0; at < size; at += bytes.length) {
      message.set(bytes.subarray(0, size - at), at);
    }
    sent.push(message.slice());
    client.send(message);
    // Bytes are copied at send: the caller may reuse its buffer at once.
    message.fill(0xee);
  }
  client.send("text, ünïcode");
  const masks = new Set<string>();
  for (const expected of sent) {
    const frame = (await peer.readFrame())!;
    assert.equal(frame.opcode, 0x2);
    assert.equal(frame.fin, true);
    assert.deepEqual(frame.payload, expected);
    assert.notDeepEqual(frame.mask, new Uint8Array(4), "a zero mask");
    masks.add(frame.mask.join(","));
  }
  const text = (await peer.readFrame())!;
  assert.equal(text.opcode, 0x1);
  assert.equal(decoder.decode(text.payload), "text, ünïcode");
  masks.add(text.mask.join(","));
  assert.equal(masks.size, sent.length + 1, "a mask used twice");
  client.close();
  await peer.readClose();
  peer.close();
  await client.closed;
});

Deno.test("TcpWebSocketConnection keeps sends in order and counts them in bufferedAmount while the server does not read", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  const size = 1024 * 1024;
  const count = 32;
  for (let i = 0; i < count; i++) client.send(new Uint8Array(size).fill(i));
  // No write can have finished yet: every frame counts, header and all.
  assert.equal(client.bufferedAmount, count * (size + 14));
  for (let i = 0; i < count; i++) {
    const frame = (await peer.readFrame())!;
    assert.equal(frame.payload.length, size);
    assert.equal(frame.payload[0], i);
    assert.equal(frame.payload[size - 1], i);
  }
  client.close();
  await peer.readClose();
  peer.close();
  await client.closed;
  assert.equal(client.bufferedAmount, 0);
});

Deno.test("TcpWebSocketConnection reads messages split anywhere across reads, fragmented, and with pings between fragments", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  const big = crypto.getRandomValues(new Uint8Array(60_000));
  const bigger = new Uint8Array(MAX_MESSAGE_BYTES);
  bigger.set(big);
  const wire = [
    serverFrame(0x2, big),
    serverFrame(0x1, "héllo, ", { fin: false }),
    serverFrame(0x9, "are you there"),
    serverFrame(0x0, "wörld", { fin: false }),
    serverFrame(0x0, "!"),
    serverFrame(0x2, bigger.subarray(0, 500_000), { fin: false }),
    serverFrame(0x0, bigger.subarray(500_000)),
  ];
  const all = new Uint8Array(wire.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const frame of wire) {
    all.set(frame, at);
    at += frame.length;
  }
  // Cut into pieces of odd sizes, through headers and payloads alike.
  for (let from = 0, step = 1; from < all.length; step = step * 7 % 40_009) {
    await peer.write(all.subarray(from, from + step));
    from += step;
  }
  assert.deepEqual(await client.receive(), big);
  assert.equal(await client.receive(), "héllo, wörld!");
  const pong = (await peer.readFrame())!;
  assert.equal(pong.opcode, 0xa);
  assert.equal(decoder.decode(pong.payload), "are you there");
  assert.deepEqual(await client.receive(), bigger);
  client.close();
  await peer.readClose();
  peer.close();
  await client.closed;
});

Deno.test("TcpWebSocketConnection reads the next frame of a handed-back buffer's length into it, and others into fresh buffers", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  // A frame larger than the 64 KiB read buffer is read into a buffer of
  // its own, as a file chunk is.
  const random = (n: number) => {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) {
      crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
    }
    return bytes;
  };
  const first = random(140_000);
  const second = random(140_000);
  const shorter = random(100_000);
  const third = random(140_000);
  await peer.write(serverFrame(0x2, first));
  const got1 = await client.receive() as Uint8Array<ArrayBuffer>;
  assert.deepEqual(got1, first);
  const buffer = got1.buffer;
  client.reuse(buffer);
  await peer.write(serverFrame(0x2, second));
  const got2 = await client.receive() as Uint8Array<ArrayBuffer>;
  assert.deepEqual(got2, second);
  assert.ok(got2.buffer === buffer, "the handed-back buffer was not reused");
  client.reuse(got2.buffer);
  // Handed back twice (a caller's mistake): still one frame per buffer.
  client.reuse(got2.buffer);
  // Another length: a fresh buffer, the spare kept for a later frame.
  await peer.write(serverFrame(0x2, shorter));
  const got3 = await client.receive() as Uint8Array<ArrayBuffer>;
  assert.deepEqual(got3, shorter);
  assert.ok(got3.buffer !== buffer, "a frame of another length in it");
  await peer.write(serverFrame(0x2, third));
  const got4 = await client.receive() as Uint8Array<ArrayBuffer>;
  assert.deepEqual(got4, third);
  assert.ok(got4.buffer === buffer, "the spare was not kept for its length");
  client.close();
  await peer.readClose();
  peer.close();
  await client.closed;
});

/** Sends `bytes` to a fresh client and resolves with how the client closed. */
async function hostile(bytes: Uint8Array): Promise<{
  sent: { code: number; reason: string };
  closed: CloseInfo;
  localCloseReason: string | null;
  received: unknown[];
}> {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  await peer.write(serverFrame(0x2, "before"));
  await peer.write(bytes);
  const sent = await peer.readClose();
  // The client does not wait for an answer to a protocol error.
  assert.equal(await peer.readFrame(), null);
  const closed = await client.closed;
  const received: unknown[] = [];
  for (let data; (data = await client.receive()) !== null;) received.push(data);
  return {
    sent,
    closed,
    localCloseReason: client.localCloseReason,
    received,
  };
}

Deno.test("TcpWebSocketConnection refuses a frame longer than the largest message before reading any of it (1009)", async () => {
  for (
    const length of [MAX_MESSAGE_BYTES + 1, 2 ** 31, 2 ** 53, 2 ** 63]
  ) {
    // Only the header: a client that waited for the payload would hang.
    const header = serverFrame(0x2, new Uint8Array(0), { length });
    if (length === 2 ** 63) header.set([0x80, 0, 0, 0, 0, 0, 0, 0], 2);
    const result = await hostile(header);
    assert.equal(result.sent.code, CloseCode.tooBig, `length ${length}`);
    assert.equal(result.closed.code, CloseCode.tooBig);
    // What came before the bad frame is still read.
    assert.deepEqual(result.received, [encoder.encode("before")]);
    assert.match(result.localCloseReason!, /broke the WebSocket protocol/);
    // What the user is told the server sent.
    assert.equal(
      result.closed.violation,
      `a frame of ${
        length < 2 ** 53 ? length : "over 2^53"
      } bytes, over the ${MAX_MESSAGE_BYTES} left for its message`,
    );
  }
});

Deno.test("TcpWebSocketConnection counts a fragmented message's fragments together against the limit", async () => {
  const first = serverFrame(0x2, new Uint8Array(MAX_MESSAGE_BYTES - 10), {
    fin: false,
  });
  const second = serverFrame(0x0, new Uint8Array(0), { length: 11 });
  const result = await hostile(new Uint8Array([...first, ...second]));
  assert.equal(result.sent.code, CloseCode.tooBig);
});

Deno.test("TcpWebSocketConnection closes with 1002 on frames a server may not send", async () => {
  const cases: [string, Uint8Array][] = [
    ["a masked frame", serverFrame(0x2, "hi", { masked: true })],
    ["reserved bit 1", serverFrame(0x2, "hi", { bits: 0x40 })],
    ["reserved bit 3", serverFrame(0x2, "hi", { bits: 0x10 })],
    ["opcode 3", serverFrame(0x3, "hi")],
    ["opcode 0xb", serverFrame(0xb, "hi")],
    ["a fragmented ping", serverFrame(0x9, "hi", { fin: false })],
    ["a fragmented close", serverFrame(0x8, closeBody(1000), { fin: false })],
    ["a ping of 126 bytes", serverFrame(0x9, new Uint8Array(126))],
    ["a continuation of nothing", serverFrame(0x0, "hi")],
    [
      "a new message inside a fragmented one",
      new Uint8Array([
        ...serverFrame(0x1, "a", { fin: false }),
        ...serverFrame(0x2, "b"),
      ]),
    ],
    ["a close with a 1-byte payload", serverFrame(0x8, new Uint8Array([3]))],
    ["a close with code 1005", serverFrame(0x8, closeBody(1005))],
    ["a close with code 999", serverFrame(0x8, closeBody(999))],
    ["a close with code 2000", serverFrame(0x8, closeBody(2000))],
  ];
  for (const [what, bytes] of cases) {
    const result = await hostile(bytes);
    assert.equal(result.sent.code, CloseCode.protocolError, what);
    assert.equal(result.closed.code, CloseCode.protocolError, what);
    assert.deepEqual(result.received, [encoder.encode("before")], what);
    // Said as what the server sent, and the same reason as in the close.
    assert.match(result.closed.violation!, /^an? /, what);
    assert.equal(result.closed.violation, result.sent.reason, what);
  }
});

Deno.test("openChannel over TcpWebSocketConnection says what a server that broke the WebSocket protocol during the handshake sent", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  const opening = openChannel(client, {});
  await peer.write(serverFrame(0x1, "hi", { masked: true }));
  await assert.rejects(
    opening,
    (error: unknown) =>
      error instanceof HandshakeError &&
      error.message ===
        "the server broke the WebSocket protocol during the handshake (it sent a masked frame)",
  );
  await client.closed;
});

Deno.test("TcpWebSocketConnection closes with 1007 on text that is not UTF-8", async () => {
  for (
    const bytes of [
      serverFrame(0x1, new Uint8Array([0x68, 0xc3])),
      serverFrame(0x1, new Uint8Array([0xed, 0xa0, 0x80])), // a surrogate
      serverFrame(0x8, new Uint8Array([...closeBody(1000), 0xff])),
    ]
  ) {
    const result = await hostile(bytes);
    assert.equal(result.sent.code, 1007);
    assert.match(
      result.closed.violation!,
      /^a (text message|close reason) that is not UTF-8$/,
    );
  }
});

Deno.test("TcpWebSocketConnection closes with 1008 on a message in too many fragments", async () => {
  const parts = [serverFrame(0x2, "x", { fin: false })];
  for (let i = 0; i < 100; i++) {
    parts.push(serverFrame(0x0, "", { fin: false }));
  }
  const result = await hostile(
    new Uint8Array(parts.flatMap((part) => [...part])),
  );
  assert.equal(result.sent.code, CloseCode.policyViolation);
});

Deno.test("TcpWebSocketConnection answers the server's close with its code, keeps what came before, and ends", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  await peer.write(serverFrame(0x1, "last words"));
  await peer.write(serverFrame(0x8, closeBody(1001, "going away")));
  assert.deepEqual(await peer.readClose(), { code: 1001, reason: "" });
  assert.equal(await peer.readFrame(), null, "the client ends the connection");
  assert.deepEqual(await client.closed, {
    code: 1001,
    reason: "going away",
    violation: null,
  });
  assert.equal(await client.receive(), "last words");
  assert.equal(await client.receive(), null);
  // Nothing goes once closed.
  client.send("late");
  assert.equal(client.bufferedAmount, 0);
});

Deno.test("TcpWebSocketConnection.close sends its code and reason and waits for the server's close", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  await peer.write(serverFrame(0x1, "unread"));
  client.close(4008, "too much unread data");
  assert.deepEqual(await peer.readClose(), {
    code: 4008,
    reason: "too much unread data",
  });
  // What was not read is dropped when this side closes.
  assert.equal(await client.receive(), null);
  await peer.write(serverFrame(0x1, "after the close"));
  await peer.write(serverFrame(0x8, closeBody(4008)));
  // The server's close is what it ends with.
  assert.deepEqual(await client.closed, {
    code: 4008,
    reason: "",
    violation: null,
  });
  assert.equal(await peer.readFrame(), null);
});

Deno.test("TcpWebSocketConnection cuts off a server whose unread messages pass the inbox limit", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server, { maxInboxBytes: 1000 });
  await peer.write(serverFrame(0x2, new Uint8Array(600)));
  await peer.write(serverFrame(0x2, new Uint8Array(600)));
  assert.deepEqual(await peer.readClose(), {
    code: CloseCode.overloaded,
    reason: "too much unread data",
  });
  assert.equal(client.localCloseReason, "it sent more than could be processed");
  assert.equal(await client.receive(), null);
  await peer.write(serverFrame(0x8, closeBody(CloseCode.overloaded)));
  await client.closed;
});

Deno.test("TcpWebSocketConnection stops reading while its inbox is full, so a server that sends faster than it is read waits instead of being cut off", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  // 32 MiB, four times the inbox's 8 MiB limit, read more slowly than it
  // comes: the socket's buffers fill and the server's write waits (before,
  // the inbox took it all until the limit cut the server off with 4008).
  const count = 512;
  const frames = new Uint8Array(count * (64 * 1024 + 10));
  let at = 0;
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(64 * 1024).fill(i % 251);
    const frame = serverFrame(0x2, payload);
    frames.set(frame, at);
    at += frame.length;
  }
  const writing = peer.write(frames.subarray(0, at));
  for (let i = 0; i < count; i++) {
    // A slow reader: one message per turn of the event loop, where the
    // socket's reader gets a turn's worth of reads (TurnBudget, 20 ms).
    await new Promise((resolve) => setTimeout(resolve, 0));
    const data = await client.receive();
    assert.ok(data instanceof Uint8Array, `message ${i} of ${count}`);
    assert.equal(data.length, 64 * 1024);
    assert.equal(data[0], i % 251);
  }
  await writing;
  assert.equal(client.localCloseReason, null);
  await peer.write(serverFrame(0x8, closeBody(1000)));
  assert.equal(await client.receive(), null);
  await client.closed;
});

Deno.test("TcpWebSocketConnection reports a server that drops the connection without a close as 1006", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  await peer.write(serverFrame(0x2, "kept"));
  peer.close();
  assert.deepEqual(await client.closed, {
    code: 1006,
    reason: "",
    violation: null,
  });
  assert.deepEqual(await client.receive(), encoder.encode("kept"));
  assert.equal(await client.receive(), null);
});

/** Opens a client against a server that answers the upgrade with `answer`. */
async function refused(
  answer: (peer: RawPeer, key: string) => Promise<void>,
  options: { upgradeTimeoutMs?: number } = {},
): Promise<WebSocketUpgradeError> {
  using server = new RawServer();
  const opening = TcpWebSocketConnection.open(server.url, options);
  // Caught from here on: the server's answer may come before the assertion.
  const outcome = opening.then(
    () => assert.fail("the upgrade was accepted"),
    (error: unknown) => error,
  );
  const peer = await server.next();
  const request = await peer.readRequest();
  await answer(peer, request.get("sec-websocket-key")!);
  const error = await outcome;
  assert.ok(error instanceof WebSocketUpgradeError, String(error));
  // The client closed the socket.
  assert.equal(await peer.readFrame(), null);
  return error;
}

Deno.test("TcpWebSocketConnection.open refuses an upgrade with the wrong Sec-WebSocket-Accept", async () => {
  const error = await refused((peer) =>
    peer.accept("", { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" })
  );
  assert.match(error.message, /Sec-WebSocket-Accept does not match/);
});

Deno.test("TcpWebSocketConnection.open refuses a 101 without Upgrade: websocket, or with an extension not asked for", async () => {
  let error = await refused((peer) =>
    peer.write(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: x\r\n\r\n",
    )
  );
  assert.match(error.message, /without 'Upgrade: websocket'/);
  error = await refused((peer, key) =>
    peer.accept(key, {
      extra: ["Sec-WebSocket-Extensions: permessage-deflate"],
    })
  );
  assert.match(
    error.message,
    /sec-websocket-extensions that was not asked for/,
  );
});

Deno.test("TcpWebSocketConnection.open says what a server that refused said, with its status", async () => {
  const refusal =
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 35\r\n\r\n";
  const body = "Refused: too many connections here\n";
  // The body in the same write, in a later one, and cut short by the timer.
  const answers = [
    (peer: RawPeer) => peer.write(refusal + body),
    async (peer: RawPeer) => {
      await peer.write(refusal);
      await peer.write(body);
    },
    (peer: RawPeer) => peer.write(refusal.replace("35", "80") + body),
  ];
  for (const answer of answers) {
    const error = await refused(answer, { upgradeTimeoutMs: 200 });
    assert.equal(error.status, 503);
    assert.match(
      error.message,
      /'HTTP\/1\.1 503 Service Unavailable' \(Refused: too many connections here\)/,
    );
  }
});

Deno.test("TcpWebSocketConnection.open refuses an answer that is not HTTP, or whose header never ends within 16 KiB", async () => {
  let error = await refused((peer) =>
    peer.write("SSH-2.0-OpenSSH_9.6\r\n\r\n")
  );
  assert.match(error.message, /did not answer with HTTP\/1\.1/);
  error = await refused((peer) =>
    peer.write(`HTTP/1.1 101 OK\r\nX: ${"a".repeat(20_000)}`)
  );
  assert.match(error.message, /over 16 KiB of header/);
  error = await refused(async (peer) => {
    await peer.write("HTTP/1.1 101 OK\r\n");
    peer.close();
  });
  assert.match(error.message, /closed the connection without answering/);
});

Deno.test("TcpWebSocketConnection.open gives up on a server that does not answer the upgrade in time", async () => {
  const error = await refused(() => Promise.resolve(), {
    upgradeTimeoutMs: 50,
  });
  assert.match(error.message, /did not answer the WebSocket upgrade within/);
});

Deno.test("TcpWebSocketConnection keeps one pong queued, for the latest ping, however fast a server that reads nothing pings", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server);
  // 200,000 pings of 125 bytes (25 MB), each numbered, written while the
  // server reads none of the pongs: one per ping kept would be 26 MB.
  const count = 200_000;
  const perWrite = 4000;
  const one = serverFrame(0x9, new Uint8Array(125)).length;
  const flood = new Uint8Array(one * perWrite);
  for (let i = 0; i < perWrite; i++) {
    flood.set(serverFrame(0x9, new Uint8Array(125)), i * one);
  }
  const view = new DataView(flood.buffer);
  for (let sent = 0; sent < count; sent += perWrite) {
    for (let i = 0; i < perWrite; i++) view.setUint32(i * one + 2, sent + i);
    await peer.write(flood);
  }
  await peer.write(serverFrame(0x2, "after the pings"));
  // Every ping was taken before this.
  assert.deepEqual(await client.receive(), encoder.encode("after the pings"));
  assert.ok(
    client.bufferedAmount < 64 * 1024,
    `${client.bufferedAmount} bytes of pongs queued`,
  );
  client.close();
  // The pongs in order, the last for the last ping.
  let last = -1;
  for (;;) {
    const frame = (await peer.readFrame())!;
    if (frame.opcode === 0x8) break;
    assert.equal(frame.opcode, 0xa);
    const n = new DataView(frame.payload.buffer).getUint32(0);
    assert.ok(n > last, `pong ${n} after pong ${last}`);
    last = n;
  }
  assert.equal(last, count - 1);
  await peer.write(serverFrame(0x8, closeBody(1000)));
  await client.closed;
});

Deno.test("TcpWebSocketConnection counts empty messages against the inbox limit: a server cannot queue them without bound while nothing is read", async () => {
  using server = new RawServer();
  const { client, peer } = await connected(server, {
    maxInboxBytes: 64 * 1024,
  });
  // 2 bytes each on the wire; unread, each is an entry in the inbox.
  const empty = serverFrame(0x2, new Uint8Array(0));
  const flood = new Uint8Array(empty.length * 100_000);
  for (let at = 0; at < flood.length; at += empty.length) flood.set(empty, at);
  await peer.write(flood);
  await peer.write(serverFrame(0x8, closeBody(1000)));
  // Cut off before the server's own close was read.
  assert.deepEqual(await peer.readClose(), {
    code: CloseCode.overloaded,
    reason: "too much unread data",
  });
  assert.equal(client.localCloseReason, "it sent more than could be processed");
  await client.closed;
});

Deno.test("TcpWebSocketConnection reads frames that came in the same write as the server's 101", async () => {
  using server = new RawServer();
  const opening = TcpWebSocketConnection.open(server.url);
  const peer = await server.next();
  const request = await peer.readRequest();
  const head = encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${await acceptFor(
        request.get("sec-websocket-key")!,
      )}\r\n\r\n`,
  );
  const big = crypto.getRandomValues(new Uint8Array(40_000));
  const frames = [
    serverFrame(0x2, "first"),
    serverFrame(0x9, "ping"),
    serverFrame(0x2, big),
  ];
  await peer.write(
    new Uint8Array([...head, ...frames.flatMap((frame) => [...frame])]),
  );
  const client = await opening;
  assert.deepEqual(await client.receive(), encoder.encode("first"));
  assert.deepEqual(await client.receive(), big);
  const pong = (await peer.readFrame())!;
  assert.equal(pong.opcode, 0xa);
  assert.equal(decoder.decode(pong.payload), "ping");
  client.close();
  await peer.readClose();
  peer.close();
  await client.closed;
});
