/**
 * What a peer sends must not write control characters into the server's log:
 * V8's error for invalid JSON quotes the input, and the server logs why it
 * closed a connection. A peer that only finished the handshake (no account)
 * sends a frame whose header starts with ESC and holds a newline and a fake
 * log line.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { waitForLog } from "../_helpers/bystanders.ts";
import { decodeBatch } from "../../src/protocol/batch_framing.ts";
import { decodeHeader } from "../../src/protocol/message_framing.ts";
import { sanitizedLog } from "../../src/server/serve.ts";

const encoder = new TextEncoder();
const EVIL =
  "\x1b]0;owned\x07\x1b[2J\n2099-01-01 00:00:00 admin registered from 127.0.0.1 (fake)";

/** One message whose header is `json` (PROTOCOL.md 3.4), with no body. */
function batchOf(json: string): Uint8Array {
  const header = encoder.encode(json);
  const batch = new Uint8Array(8 + header.byteLength);
  new DataView(batch.buffer).setUint32(0, header.byteLength);
  batch.set(header, 8);
  return batch;
}

Deno.test("a peer cannot write control characters into the server log", async () => {
  await using server = await startTestServer();
  const raw = await RawClient.connect(server.url, { pinnedSpki: server.spki });
  raw.send(await raw.sealPlaintext(batchOf(EVIL)));
  await raw.waitClosed();
  const line = await waitForLog(server, /Malformed batch/);
  assert.match(line, /^[\x20-\x7e]*$/);
});

Deno.test("a header that is not JSON is refused without quoting it", () => {
  for (
    const decode of [
      () => decodeBatch(batchOf(EVIL)),
      () => decodeHeader(encoder.encode(EVIL)),
    ]
  ) {
    try {
      decode();
      throw new Error("decoded");
    } catch (error) {
      assert.match(String(error), /Header is not valid JSON/);
      assert.match(String(error), /^[\x20-\x7e]*$/);
    }
  }
});

Deno.test("every line the server logs is made safe to show, whatever it quotes", () => {
  const lines: string[] = [];
  sanitizedLog((line) => lines.push(line))(`closing x: ${EVIL}`);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^[\x20-\x7e]*$/);
  assert.match(lines[0]!, /^closing x: \^\[\]0;owned\^G\^\[\[2J\^J2099/);
});
