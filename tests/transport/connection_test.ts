import assert from "node:assert/strict";
import {
  Inbox,
  INBOX_MESSAGE_OVERHEAD_BYTES,
  WebSocketConnection,
} from "../../src/transport/connection.ts";

/** Just enough of the WebSocket API to drive the adapter's event handling. */
class StandInSocket extends EventTarget {
  readyState: number = WebSocket.OPEN;
  binaryType = "blob";
  bufferedAmount = 0;
  sent: unknown[] = [];
  send(data: unknown): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
  }
  receive(data: string | ArrayBuffer): void {
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
  closedByPeer(): void {
    this.readyState = WebSocket.CLOSED;
    this.dispatchEvent(new CloseEvent("close", { code: 1000, reason: "bye" }));
  }
}

function connection(): [WebSocketConnection, StandInSocket] {
  const socket = new StandInSocket();
  return [
    new WebSocketConnection(socket as unknown as WebSocket, "test:1"),
    socket,
  ];
}

Deno.test("WebSocketConnection keeps what the peer sent before it closed", async () => {
  const [conn, socket] = connection();
  socket.receive("one");
  socket.receive(new Uint8Array([2]).buffer);
  socket.closedByPeer();
  assert.equal(await conn.receive(), "one");
  assert.deepEqual(await conn.receive(), new Uint8Array([2]));
  assert.equal(await conn.receive(), null);
  assert.deepEqual(await conn.closed, {
    code: 1000,
    reason: "bye",
    violation: null,
  });
});

Deno.test("WebSocketConnection drops unread messages when this side closes", async () => {
  const [conn, socket] = connection();
  socket.receive("unread");
  conn.close();
  assert.equal(await conn.receive(), null);
});

Deno.test("WebSocketConnection cuts off a peer whose unread messages pass the inbox limit", async () => {
  const socket = new StandInSocket();
  const conn = new WebSocketConnection(
    socket as unknown as WebSocket,
    "test:1",
    { maxInboxBytes: 1000 },
  );
  socket.receive(new Uint8Array(600).buffer);
  socket.receive(new Uint8Array(600).buffer);
  assert.equal(conn.localCloseReason, "it sent more than could be processed");
  assert.equal(socket.readyState, WebSocket.CLOSED);
  assert.equal(await conn.receive(), null);
});

Deno.test("WebSocketConnection holds sends until a CONNECTING socket opens", () => {
  const socket = new StandInSocket();
  socket.readyState = WebSocket.CONNECTING;
  const conn = new WebSocketConnection(
    socket as unknown as WebSocket,
    "test:1",
  );
  conn.send("early");
  assert.deepEqual(socket.sent, []);
  socket.readyState = WebSocket.OPEN;
  socket.dispatchEvent(new Event("open"));
  assert.deepEqual(socket.sent, ["early"]);
});

Deno.test("Inbox counts each message it keeps, an empty one too, against its limit", () => {
  const inbox = new Inbox(64 * 1024);
  let kept = 0;
  while (inbox.push(new Uint8Array(0))) {
    kept++;
    assert.ok(kept < 64 * 1024, "empty messages are kept without bound");
  }
  inbox.end(false);
  const strings = new Inbox(64 * 1024);
  let texts = 0;
  while (strings.push("")) {
    texts++;
    assert.ok(texts < 64 * 1024, "empty texts are kept without bound");
  }
});

Deno.test("Inbox.roomBelow pauses a reader past the limit until reading halves what waits, and frees it when the inbox ends", async () => {
  // Each counts 100 bytes against the inbox: 36 of its own and the overhead.
  const hundred = () => new Uint8Array(100 - INBOX_MESSAGE_OVERHEAD_BYTES);
  const inbox = new Inbox(1024 * 1024);
  for (let i = 0; i < 4; i++) inbox.push(hundred());
  assert.equal(inbox.roomBelow(400), null, "400 bytes wait: not past 400");
  inbox.push(hundred());
  const paused = inbox.roomBelow(400);
  assert.ok(paused !== null, "500 bytes wait: past 400");
  let resumed = false;
  void paused.then(() => (resumed = true));
  await inbox.receive();
  await inbox.receive();
  await Promise.resolve();
  assert.equal(resumed, false, "300 bytes still wait: more than half of 400");
  await inbox.receive();
  await paused;
  assert.equal(inbox.bytes, 200);

  for (let i = 0; i < 5; i++) inbox.push(hundred());
  const ending = inbox.roomBelow(400);
  assert.ok(ending !== null);
  inbox.end(false);
  await ending;
  assert.equal(inbox.roomBelow(400), null, "an ended inbox pauses no one");

  // A reader held on purpose reads on up to the limit (readPastPause).
  const held = new Inbox(1024 * 1024);
  for (let i = 0; i < 5; i++) held.push(hundred());
  const waiting = held.roomBelow(400);
  assert.ok(waiting !== null);
  held.readPastPause(true);
  await waiting;
  assert.equal(held.roomBelow(400), null, "past the pause while held");
  held.readPastPause(false);
  assert.ok(held.roomBelow(400) !== null, "paused again once let go");
});
