import assert from "node:assert/strict";
import {
  initiateSession,
  sealEnvelope,
} from "../../src/crypto/e2e_envelope.ts";
import { generatePrekeys } from "../../src/crypto/prekeys.ts";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import {
  archive,
  decodeE2eState,
  emptyE2eState,
  encodeE2eState,
  MAX_ARCHIVED,
  MAX_SEEN_INITS,
  noteInit,
} from "../../src/client/e2e_state.ts";
import {
  decodeSenderKey,
  encodeSenderKey,
  newSenderChain,
} from "../../src/crypto/sender_key.ts";
import { MAX_E2E_STATE_BYTES } from "../../src/client/e2e_state_file.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";

Deno.test("encodeE2eState and decodeE2eState keep sessions, archive, verifications and held key changes, with their private and group messages in order", async () => {
  const alice = await createKeyring(await seededIdentity(0x0a));
  const bob = await generatePrekeys(await seededIdentity(0x0b), {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 1,
  });
  const fresh = await initiateSession({
    identity: alice.identity.publicRaw,
    dh: alice.bundle.dh,
    dhPair: alice.secrets.dh,
  }, bob.bundle);
  // One message on: a skipped key would be kept too.
  const { session } = await sealEnvelope(fresh, Uint8Array.of(1, 2, 3));
  const state = emptyE2eState();
  state.sessions.set("SHA256:s bob", {
    identity: bob.bundle.identity,
    session,
    previous: [fresh],
  });
  archive(state, {
    server: "SHA256:s",
    id: 41,
    from: "alice",
    to: "bob",
    ts: 1767225600000,
    text: "hello",
  });
  state.verified.set("SHA256:s bob", "SHA256:bobkey");
  state.changes.set("SHA256:s carol", {
    name: "Carol",
    fingerprint: "SHA256:new",
    previous: "SHA256:old",
    outgoing: [{ text: "are you there?", cid: "0".repeat(32) }],
    incoming: [{
      message: {
        t: "e2e_private",
        from: "Carol",
        fingerprint: "SHA256:new",
        ts: 1767225600000,
        id: 42,
        seq: 2,
      },
      body: Uint8Array.of(1, 2, 3),
    }, {
      // A group message whose sender key came in a held one, after it.
      message: {
        t: "e2e_group",
        group: "haha",
        from: "Carol",
        fingerprint: "SHA256:new",
        ts: 1767225600001,
        id: 43,
        seq: 3,
      },
      body: Uint8Array.of(4, 5),
    }],
  });
  const back = decodeE2eState(encodeE2eState(state));
  assert.deepEqual(back, state);
  assert.throws(() => decodeE2eState('{"version":2}'), /unknown version/);
});

Deno.test("archive keeps the newest MAX_ARCHIVED messages", () => {
  const state = emptyE2eState();
  for (let id = 1; id <= MAX_ARCHIVED + 2; id++) {
    archive(state, { server: "s", id, from: "a", to: "b", ts: id, text: "" });
  }
  assert.equal(state.archive.size, MAX_ARCHIVED);
  assert.equal(state.archive.has("s 1"), false);
  assert.equal(state.archive.has("s 3"), true);
});

Deno.test("encodeE2eState keeps group chains; a state written before groups were end to end decodes with none", async () => {
  const state = emptyE2eState();
  const chain = await newSenderChain();
  state.groups.own.set("SHA256:s team", {
    chain,
    sentTo: [{ name: "bob", key: "SHA256:bob" }],
  });
  state.groups.received.set("SHA256:s team bob", [
    {
      ...decodeSenderKey(encodeSenderKey(chain)),
      skipped: new Map([[3, new Uint8Array(32).fill(5)]]),
    },
  ]);
  const back = decodeE2eState(encodeE2eState(state));
  assert.deepEqual(back.groups, state.groups);
  const old = JSON.parse(encodeE2eState(emptyE2eState()));
  delete old.groups;
  assert.deepEqual(decodeE2eState(JSON.stringify(old)).groups.own.size, 0);
});

Deno.test("archive keeps the state file small however large the messages a peer sends", () => {
  const state = emptyE2eState();
  // The longest text a message holds, of characters JSON writes as \u0001:
  // 800 of them would make a 77 MB file, past what loadE2eState reads.
  const text = "\x01".repeat(16_000);
  for (let id = 1; id <= 800; id++) {
    archive(state, {
      server: "s",
      id,
      from: "mallory",
      to: "bob",
      ts: id,
      text,
    });
  }
  const encoded = encodeE2eState(state);
  assert.ok(
    encoded.length < MAX_E2E_STATE_BYTES / 2,
    `${encoded.length} characters`,
  );
  // The newest are kept.
  assert.ok(state.archive.has("s 800"));
  assert.ok(!state.archive.has("s 1"));
});

Deno.test("noteInit remembers first-message EKs per peer, at most MAX_SEEN_INITS, across encode and decode", () => {
  const state = emptyE2eState();
  for (let i = 0; i <= MAX_SEEN_INITS; i++) {
    noteInit(state, "s alice", i.toString(16).padStart(64, "0"));
  }
  noteInit(state, "s alice", "1".padStart(64, "0")); // already there
  noteInit(state, "s bob", "f".repeat(64));
  const back = decodeE2eState(encodeE2eState(state));
  const alice = back.seenInits.get("s alice")!;
  assert.equal(alice.length, MAX_SEEN_INITS);
  assert.equal(alice[0], "1".padStart(64, "0")); // the oldest went
  assert.deepEqual(back.seenInits.get("s bob"), ["f".repeat(64)]);
  // A file from before seen_inits existed still reads.
  const old = JSON.parse(encodeE2eState(emptyE2eState()));
  delete old.seen_inits;
  assert.equal(decodeE2eState(JSON.stringify(old)).seenInits.size, 0);
});
