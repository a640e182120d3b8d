import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { encodeMessage } from "../../src/protocol/codec.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";

function hasControl(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f");
}

Deno.test("ChatClient.ended gives a server's goodbye sanitised for the terminal", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  channel.send({
    t: "bye",
    reason: "violation",
    text: "Disconnected by the server\x1b[2J\x1b]0;pwned\x07\u202e",
  });
  const ending = await client.ended;
  assert.equal(ending.clean, true);
  assert.equal(ending.bye, "violation");
  assert.match(ending.reason, /^Disconnected by the server/);
  for (const char of ["\x1b", "\x07", "\u202e"]) {
    assert.ok(!ending.reason.includes(char), ending.reason);
  }
});

Deno.test("ChatClient.ended sanitises a protocol error that quotes the server", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  // A header that is not JSON: the parse error quotes it.
  const message = encodeMessage({ t: "pong", re: 1 });
  const header = '{"t":"pong","re":1}';
  const hostile = "\x1b[2J\x1b]0;pwned\x07".padEnd(header.length, "x");
  const at = new TextDecoder().decode(message).indexOf(header);
  message.set(new TextEncoder().encode(hostile), at);
  channel.sendEncoded(message);
  const ending = await client.ended;
  assert.equal(ending.clean, false);
  assert.match(ending.reason, /pwned/, "the error quotes the header");
  assert.ok(!hasControl(ending.reason), ending.reason);
});
