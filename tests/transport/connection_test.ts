import assert from "node:assert/strict";
import { Inbox, WebSocketConnection } from "../../src/transport/connection.ts";

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
