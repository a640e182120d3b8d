import assert from "node:assert/strict";
import {
  parsePresenceRecord,
  presenceRecord,
} from "../../../src/server/cluster/presence_record.ts";
import type { Session } from "../../../src/server/session.ts";

const FINGERPRINT = "SHA256:" + "A".repeat(43);

const session: Session = {
  id: 7,
  name: "Alice",
  nameKey: "alice",
  connectedAt: 100,
  lastMessageAt: 200,
  fingerprint: FINGERPRINT,
  away: "lunch",
  acks: true,
  ackCeiling: null,
};

Deno.test("presenceRecord and parsePresenceRecord carry what /list shows", () => {
  assert.deepEqual(parsePresenceRecord(presenceRecord(session, "n1")), {
    name: "Alice",
    nameKey: "alice",
    node: "n1",
    connectedAt: 100,
    lastMessageAt: 200,
    fingerprint: FINGERPRINT,
    away: "lunch",
  });
});

Deno.test("parsePresenceRecord refuses a record with a bad field", () => {
  const good = JSON.parse(
    new TextDecoder().decode(presenceRecord(session, "n1")),
  );
  for (
    const change of [
      { name: "a b" },
      { node: "n.1" },
      { connectedAt: "now" },
      { lastMessageAt: -1 },
      { fingerprint: "MD5:x" },
      { away: "x".repeat(10_000) },
    ]
  ) {
    const bytes = new TextEncoder().encode(
      JSON.stringify({ ...good, ...change }),
    );
    assert.throws(
      () => parsePresenceRecord(bytes),
      TypeError,
      JSON.stringify(change),
    );
  }
  assert.throws(() => parsePresenceRecord(new Uint8Array([0xff])), TypeError);
});
