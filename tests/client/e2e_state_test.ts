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
  keepSession,
  MAX_ARCHIVED,
  MAX_ARCHIVED_CHARS,
  MAX_PEER_SESSIONS,
  MAX_SEEN_INITS,
  MAX_SEEN_INITS_IN_ALL,
  MAX_SKIPPED_KEYS_IN_ALL,
  noteInit,
  shrinkE2eState,
} from "../../src/client/e2e_state.ts";
import {
  archiveGroupMessage,
  MAX_GROUP_ARCHIVED,
  MAX_GROUP_ARCHIVED_CHARS,
  MAX_GROUP_SKIPPED_KEYS_IN_ALL,
  MAX_OWN_CHAINS,
  MAX_RECEIVED_CHAINS_IN_ALL,
} from "../../src/client/group_sessions.ts";
import {
  MAX_HELD_BYTES,
  MAX_HELD_MESSAGES,
  MAX_KEY_CHANGES,
} from "../../src/client/e2e_sessions.ts";
import { MAX_MEMBERS_SHOWN } from "../../src/protocol/limits.ts";
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

/** A real session (one message sealed on it, its first message's init kept). */
async function realSession() {
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
  const { session } = await sealEnvelope(fresh, Uint8Array.of(1, 2, 3));
  return { identity: bob.bundle.identity, session, fresh };
}

Deno.test("keepSession keeps sessions with at most MAX_PEER_SESSIONS peers: a classmate's accounts each starting one forget the least recently used, not a peer the user talks to", async () => {
  const { identity, session } = await realSession();
  const state = emptyE2eState();
  const peer = { identity, session, previous: [] };
  keepSession(state, "s alice", peer);
  for (let i = 0; i < MAX_PEER_SESSIONS - 1; i++) {
    keepSession(state, `s old${i}`, peer);
  }
  // alice writes (or is written to) again: the most recently used.
  keepSession(state, "s alice", peer);
  for (let i = 0; i < 2 * MAX_PEER_SESSIONS; i++) {
    keepSession(state, `s mallory${i}`, peer);
    if (i % 500 === 0) keepSession(state, "s alice", peer);
  }
  assert.equal(state.sessions.size, MAX_PEER_SESSIONS);
  assert.ok(state.sessions.has("s alice"));
  assert.ok(!state.sessions.has("s old0"));
  assert.ok(state.sessions.has(`s mallory${2 * MAX_PEER_SESSIONS - 1}`));
  // The order (use) is saved and read back.
  const decoded = decodeE2eState(encodeE2eState(state));
  assert.deepEqual([...decoded.sessions.keys()], [...state.sessions.keys()]);
});

Deno.test("noteInit remembers at most MAX_SEEN_INITS_IN_ALL first-message EKs for all peers together; a peer with a few keeps them", () => {
  const state = emptyE2eState();
  for (let i = 0; i < 3; i++) noteInit(state, "s alice", `a${i}`);
  const peers = Math.ceil(MAX_SEEN_INITS_IN_ALL / MAX_SEEN_INITS) + 5;
  for (let p = 0; p < peers; p++) {
    for (let i = 0; i < MAX_SEEN_INITS; i++) {
      noteInit(state, `s mallory${p}`, `${p}.${i}`);
    }
  }
  let total = 0;
  for (const seen of state.seenInits.values()) total += seen.length;
  assert.ok(total <= MAX_SEEN_INITS_IN_ALL, `${total}`);
  assert.deepEqual(state.seenInits.get("s alice"), ["a0", "a1", "a2"]);
  // The newest of each are kept.
  const last = state.seenInits.get(`s mallory${peers - 1}`)!;
  assert.equal(last.at(-1), `${peers - 1}.${MAX_SEEN_INITS - 1}`);
});

Deno.test("the end-to-end state file stays under MAX_E2E_STATE_BYTES with every part a peer can grow at its limit", async () => {
  const { identity, session, fresh } = await realSession();
  const server = "SHA256:" + "S".repeat(43);
  const longName = "n".repeat(32);
  const state = emptyE2eState();
  // Skipped keys, spread over every session (the most JSON per key).
  const perSession = Math.ceil(
    MAX_SKIPPED_KEYS_IN_ALL / (MAX_PEER_SESSIONS * 4),
  );
  const withSkipped = (base: typeof session, p: number) => ({
    ...base,
    ratchet: {
      ...base.ratchet,
      skipped: new Map(
        Array.from(
          { length: perSession },
          (_, i) =>
            [`${"k".repeat(43)}=:${p}${i}`, new Uint8Array(32)] as const,
        ),
      ),
    },
  });
  for (let p = 0; p < MAX_PEER_SESSIONS; p++) {
    keepSession(state, `${server} ${longName.slice(0, 26)}${p}`, {
      identity,
      session: withSkipped(session, p),
      previous: [fresh, fresh, fresh].map((f) => withSkipped(f, p)),
    });
  }
  for (let i = 0; i < MAX_SEEN_INITS_IN_ALL; i++) {
    noteInit(
      state,
      `${server} ${longName.slice(0, 27)}${i % 20}`,
      i.toString(16).padStart(64, "0"),
    );
  }
  // Chains, one per (group, sender) (the most JSON per chain), with the
  // skipped keys all chains keep together.
  const chain = decodeSenderKey(encodeSenderKey(await newSenderChain()));
  const skippedPerChain = Math.ceil(
    MAX_GROUP_SKIPPED_KEYS_IN_ALL / MAX_RECEIVED_CHAINS_IN_ALL,
  );
  for (let c = 0; c < MAX_RECEIVED_CHAINS_IN_ALL; c++) {
    state.groups.received.set(
      `${server} ${longName.slice(0, 27)}${c % 100} ${
        longName.slice(0, 27)
      }${c}`,
      [{
        ...chain,
        iteration: 2 ** 32,
        skipped: new Map(
          Array.from(
            { length: skippedPerChain },
            (_, i) => [2 ** 32 + i, new Uint8Array(32)] as const,
          ),
        ),
      }],
    );
  }
  // Archives of texts JSON escapes six-fold, the longest texts first, then
  // the most messages.
  const text = "\u0001".repeat(4000);
  for (let id = 0; id < MAX_ARCHIVED; id++) {
    archive(state, {
      server,
      id: 2 ** 40 + id,
      from: longName,
      to: longName,
      ts: 2 ** 41,
      text: id < MAX_ARCHIVED_CHARS / 4000 ? text : "",
      digest: "d".repeat(44),
    });
  }
  for (let id = 0; id < MAX_GROUP_ARCHIVED; id++) {
    archiveGroupMessage(state.groups, {
      server,
      id: 2 ** 40 + id,
      group: longName,
      from: longName,
      ts: 2 ** 41,
      text: id < MAX_GROUP_ARCHIVED_CHARS / 4000 ? text : "",
      digest: "d".repeat(44),
    });
  }
  // Messages held for /trust.
  const body = new Uint8Array(Math.floor(MAX_HELD_BYTES / MAX_HELD_MESSAGES));
  state.changes.set(`${server} ${longName}`, {
    name: longName,
    fingerprint: server,
    previous: server,
    outgoing: [],
    incoming: Array.from({ length: MAX_HELD_MESSAGES }, (_, id) => ({
      message: {
        t: "e2e_private" as const,
        from: longName,
        fingerprint: server,
        ts: 2 ** 41,
        id: 2 ** 40 + id,
      },
      body,
    })),
  });
  // The other changed keys waiting, and our own chains, each given to as
  // many members as a `members` reply lists.
  for (let c = 1; c < MAX_KEY_CHANGES; c++) {
    state.changes.set(`${server} ${longName.slice(0, 26)}${c}`, {
      name: `${longName.slice(0, 26)}${c}`,
      fingerprint: server,
      previous: server,
      outgoing: [],
      incoming: [],
    });
  }
  const own = await newSenderChain();
  for (let g = 0; g < MAX_OWN_CHAINS; g++) {
    state.groups.own.set(`${server} ${longName.slice(0, 26)}${g}`, {
      chain: own,
      sentTo: Array.from({ length: MAX_MEMBERS_SHOWN }, (_, m) => ({
        name: `${longName.slice(0, 26)}${m}`,
        key: server,
      })),
    });
  }
  const json = encodeE2eState(state).length;
  // Sealed: base64 of nonce, ciphertext and tag (crypto/at_rest.ts).
  const sealed = 4 * Math.ceil((json + 28) / 3) + 64;
  console.log(`worst-case state: ${json} bytes of JSON, ${sealed} sealed`);
  assert.ok(sealed <= MAX_E2E_STATE_BYTES, `${sealed} bytes`);
});

Deno.test("shrinkE2eState drops the oldest half of the archive first, then half the skipped keys, and never the sessions", async () => {
  const { identity, session } = await realSession();
  const state = emptyE2eState();
  keepSession(state, "s bob", {
    identity,
    session: {
      ...session,
      ratchet: {
        ...session.ratchet,
        skipped: new Map(
          Array.from({ length: 8 }, (_, i) => [`k${i}`, new Uint8Array(32)]),
        ),
      },
    },
    previous: [],
  });
  for (let id = 1; id <= 4; id++) {
    archive(state, {
      server: "s",
      id,
      from: "bob",
      to: "ann",
      ts: id,
      text: "hi",
    });
  }
  const skipped = () => state.sessions.get("s bob")!.session.ratchet.skipped;
  assert.deepEqual(shrinkE2eState(state), { archived: 2, skipped: 0 });
  assert.deepEqual([...state.archive.keys()], ["s 3", "s 4"]);
  assert.deepEqual(shrinkE2eState(state), { archived: 1, skipped: 0 });
  assert.deepEqual(shrinkE2eState(state), { archived: 1, skipped: 0 });
  assert.equal(state.archive.size, 0);
  assert.equal(skipped().size, 8);
  assert.deepEqual(shrinkE2eState(state), { archived: 0, skipped: 4 });
  // The oldest keys go first.
  assert.deepEqual([...skipped().keys()], ["k4", "k5", "k6", "k7"]);
  for (let i = 0; i < 3; i++) assert.ok(shrinkE2eState(state) !== null);
  assert.equal(skipped().size, 0);
  assert.equal(shrinkE2eState(state), null);
  assert.equal(state.sessions.size, 1);
});
