import assert from "node:assert/strict";
import { fileReady } from "../../src/server/transfers.ts";
import { encodeHeader } from "../../src/protocol/message_framing.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";

/** A 32-character name, the longest, distinct for each `i`. */
function longName(i: number): string {
  return `m${String(i).padStart(31, "0")}`;
}

function takers(count: number, claims: boolean) {
  return Array.from({ length: count }, (_, i) => ({
    name: longName(i),
    ...(claims
      ? { claim: { offset: 7_340_032_000 + i, sha256: "a".repeat(64) } }
      : {}),
  }));
}

function readBack(message: ReturnType<typeof fileReady>) {
  // The server's own encoder: it throws past MAX_HEADER_BYTES, and the
  // sender then never hears.
  const parsed = parseServerMessage(
    JSON.parse(new TextDecoder().decode(encodeHeader(message))),
  );
  assert.equal(parsed.t, "file_ready");
  if (parsed.t !== "file_ready") throw new Error("unreachable");
  return parsed;
}

Deno.test("fileReady names every taker and passes on every resume claim when they fit", () => {
  const ready = readBack(fileReady(3, 9, takers(10, true), []));
  assert.equal(ready.recipients.length, 10);
  assert.equal(ready.resume?.length, 10);
  assert.equal(ready.accepted_more, undefined);
});

Deno.test("fileReady drops the resume claims of 1500 takers rather than make a header too large to encode", () => {
  const ready = readBack(fileReady(3, 9, takers(1500, true), []));
  // Names alone fit (about 35 bytes each): all named, the data from 0.
  assert.equal(ready.recipients.length, 1500);
  assert.equal(ready.resume, undefined);
  assert.equal(ready.accepted_more, undefined);
});

Deno.test("fileReady names no more takers than fit, counts the others in accepted_more, the decliners still counted", () => {
  const declined = [{ name: "dee", reason: "declined" }];
  const ready = readBack(fileReady(3, 9, takers(10_000, true), declined));
  assert.ok(ready.recipients.length > 5000, `${ready.recipients.length}`);
  assert.equal(ready.resume, undefined);
  assert.equal(ready.recipients.length + (ready.accepted_more ?? 0), 10_000);
  assert.deepEqual(
    ready.recipients,
    takers(10_000, false).slice(0, ready.recipients.length).map((t) => t.name),
  );
  assert.equal(
    (ready.declined?.length ?? 0) + (ready.declined_more ?? 0),
    1,
  );
});
