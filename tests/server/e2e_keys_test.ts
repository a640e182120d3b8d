import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import { encodeBundle, generatePrekeys } from "../../src/crypto/prekeys.ts";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  MAX_BUNDLE_BYTES,
  MAX_STORED_ONE_TIME,
} from "../../src/server/e2e_keys.ts";
import {
  connect,
  type Delivered as Outbound,
  route,
} from "../_helpers/delivered.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import {
  CACHED_BUNDLES,
  PrekeyDirectory,
} from "../../src/server/prekey_directory.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";

const BOB = 1;
const ALICE = 2;
const BOB_ID = await seededIdentity(0x0b);
const BOB_FINGERPRINT = await identityFingerprint(BOB_ID.publicRaw);
const ALICE_FINGERPRINT = "SHA256:" + "a".repeat(43);
const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);

/** Bob (with his identity's fingerprint) and Alice online. */
function room(): ServerState {
  const state = new ServerState({}, memoryStore());
  for (const [id, name] of [[BOB, "Bob"], [ALICE, "alice"]] as const) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
  }
  state.setFingerprint(BOB, BOB_FINGERPRINT);
  state.setFingerprint(ALICE, ALICE_FINGERPRINT);
  return state;
}

function send(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  body: Uint8Array = NONE,
): Outbound[] {
  return route(state, from, message, body, 1000);
}

/** Bob's DH key and signed prekey, the same in every bundle (as his client's). */
const BOB_KEYS = (await generatePrekeys(BOB_ID, {
  signedId: 1,
  firstOneTimeId: 0,
  oneTimeCount: 0,
})).bundle;

async function bundleBody(firstOneTimeId: number, count: number) {
  const { oneTime } = (await generatePrekeys(BOB_ID, {
    signedId: 1,
    firstOneTimeId,
    oneTimeCount: count,
  })).bundle;
  const bundle = { ...BOB_KEYS, oneTime };
  return {
    bundle,
    body: new TextEncoder().encode(JSON.stringify(encodeBundle(bundle))),
  };
}

function bundleOf(out: Outbound[]): unknown {
  assert.equal(out.length, 1);
  return JSON.parse(new TextDecoder().decode(out[0]!.body));
}

Deno.test("e2e_keys stores a bundle and e2e_bundle hands each one-time key out once", async () => {
  const state = room();
  const { bundle, body } = await bundleBody(10, 2);
  assert.deepEqual(send(state, BOB, { t: "e2e_keys", id: 5 }, body), [{
    to: [BOB],
    message: { t: "e2e_keys", re: 5, one_time: 2 },
  }]);
  const encoded = encodeBundle(bundle);
  // Each requester takes at most one (one_time_takers.ts): three of them.
  const carol = 3;
  const dave = 4;
  for (const [id, name] of [[carol, "carol"], [dave, "dave"]] as const) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
    state.setFingerprint(id, `SHA256:${name[0]!.repeat(43)}`);
  }
  for (
    const [from, expected] of [
      [ALICE, [encoded.one_time[0]]],
      [carol, [encoded.one_time[1]]],
      [dave, []],
    ] as const
  ) {
    const out = send(state, from, { t: "e2e_bundle", id: 6, name: "BOB" });
    assert.deepEqual(out[0]!.to, [from]);
    assert.deepEqual(out[0]!.message, {
      t: "e2e_bundle",
      re: 6,
      name: "Bob",
      fingerprint: BOB_FINGERPRINT,
    });
    assert.deepEqual(bundleOf(out), { ...encoded, one_time: expected });
  }
  assert.equal(state.prekeys.oneTimeCount("bob"), 0);
});

Deno.test("e2e_keys tops up one-time keys, refusing reused ids and more than the cap", async () => {
  const state = room();
  const first = await bundleBody(0, 60);
  assert.deepEqual(
    send(state, BOB, { t: "e2e_keys", id: 1 }, first.body)[0]!.message,
    { t: "e2e_keys", re: 1, one_time: 60 },
  );
  const reused = await bundleBody(59, 1);
  assert.deepEqual(
    send(state, BOB, { t: "e2e_keys", id: 2 }, reused.body)[0]!.message,
    {
      t: "error",
      re: 2,
      code: "bad_request",
      text: "ERROR: One-time key 59 is already published",
    },
  );
  const tooMany = await bundleBody(60, MAX_STORED_ONE_TIME - 59);
  assert.deepEqual(
    send(state, BOB, { t: "e2e_keys", id: 3 }, tooMany.body)[0]!.message,
    {
      t: "error",
      re: 3,
      code: "limit",
      text:
        "ERROR: The server keeps at most 100 one-time keys per user; it holds 60",
    },
  );
  const topUp = await bundleBody(60, MAX_STORED_ONE_TIME - 60);
  assert.deepEqual(
    send(state, BOB, { t: "e2e_keys", id: 4 }, topUp.body)[0]!.message,
    { t: "e2e_keys", re: 4, one_time: MAX_STORED_ONE_TIME },
  );
  // An empty top-up asks for the count.
  const none = await bundleBody(0, 0);
  assert.deepEqual(
    send(state, BOB, { t: "e2e_keys", id: 5 }, none.body)[0]!.message,
    { t: "e2e_keys", re: 5, one_time: MAX_STORED_ONE_TIME },
  );
});

Deno.test("e2e_keys with a new DH key or signed prekey drops the one-time keys held, and takes the new ones even with the same ids", async () => {
  const state = room();
  const first = await bundleBody(0, 5);
  send(state, BOB, { t: "e2e_keys", id: 1 }, first.body);
  assert.equal(state.prekeys.oneTimeCount("bob"), 5);
  const carol = 3;
  connect(state, carol);
  route(
    state,
    carol,
    {
      t: "register",
      id: 0,
      name: "carol",
      key: KEY,
    },
    NONE,
    carol,
  );
  state.setFingerprint(carol, "SHA256:" + "c".repeat(43));
  for (
    const lost of [
      // A client that lost its keys: new DH key and signed prekey.
      (await generatePrekeys(BOB_ID, {
        signedId: 1,
        firstOneTimeId: 0,
        oneTimeCount: 0,
      })).bundle,
      // Only a new signed prekey (the weekly one, or a client's own rule).
      {
        ...BOB_KEYS,
        signed: (await generatePrekeys(BOB_ID, {
          signedId: 2,
          firstOneTimeId: 0,
          oneTimeCount: 0,
        })).bundle.signed,
      },
    ]
  ) {
    // The empty top-up a client sends first: the old keys are gone.
    const empty = new TextEncoder().encode(
      JSON.stringify(encodeBundle(lost)),
    );
    assert.deepEqual(
      send(state, BOB, { t: "e2e_keys", id: 2 }, empty)[0]!.message,
      { t: "e2e_keys", re: 2, one_time: 0 },
    );
    const handed = bundleOf(
      send(state, carol, { t: "e2e_bundle", id: 3, name: "bob" }),
    ) as { one_time: unknown[]; signed: unknown };
    assert.deepEqual(handed.one_time, []);
    assert.deepEqual(handed.signed, encodeBundle(lost).signed);
    // Its new one-time keys, numbered from 0 again, are not refused.
    const { oneTime } = (await generatePrekeys(BOB_ID, {
      signedId: 1,
      firstOneTimeId: 0,
      oneTimeCount: 3,
    })).bundle;
    const fresh = new TextEncoder().encode(
      JSON.stringify(encodeBundle({ ...lost, oneTime })),
    );
    assert.deepEqual(
      send(state, BOB, { t: "e2e_keys", id: 4 }, fresh)[0]!.message,
      { t: "e2e_keys", re: 4, one_time: 3 },
    );
  }
});

Deno.test("e2e_keys refuses malformed or oversized bodies and keeps what it held", async () => {
  const state = room();
  const good = await bundleBody(0, 1);
  send(state, BOB, { t: "e2e_keys", id: 1 }, good.body);
  const json = encodeBundle(good.bundle);
  const cases: [Uint8Array, string, string][] = [
    [NONE, "bad_request", "ERROR: Bad bundle: the body is not UTF-8 JSON"],
    [
      Uint8Array.of(0xff),
      "bad_request",
      "ERROR: Bad bundle: the body is not UTF-8 JSON",
    ],
    [
      new TextEncoder().encode(JSON.stringify({ ...json, identity: "AA==" })),
      "bad_request",
      "ERROR: Bad bundle: 'identity' must be 32 bytes in base64",
    ],
    [
      new Uint8Array(MAX_BUNDLE_BYTES + 1),
      "too_large",
      "ERROR: A bundle is at most 32768 bytes",
    ],
  ];
  for (const [body, code, text] of cases) {
    assert.deepEqual(send(state, BOB, { t: "e2e_keys", id: 2 }, body), [{
      to: [BOB],
      message: { t: "error", re: 2, code, text },
    }]);
  }
  assert.equal(state.prekeys.oneTimeCount("bob"), 1);
});

Deno.test("e2e_bundle of a user who published nothing is no_keys", () => {
  const state = room();
  assert.deepEqual(
    send(state, BOB, { t: "e2e_bundle", id: 3, name: "alice" }),
    [{
      to: [BOB],
      message: {
        t: "error",
        re: 3,
        code: "no_keys",
        text: "ERROR: alice has not published end-to-end keys",
      },
    }],
  );
});

Deno.test("e2e_keys needs a proven identity key, and a new key replaces the old bundle", async () => {
  const state = new ServerState({}, memoryStore());
  connect(state, BOB);
  route(state, BOB, { t: "register", id: 0, name: "Bob", key: KEY }, NONE, 1);
  const { body } = await bundleBody(0, 3);
  assert.equal(
    send(state, BOB, { t: "e2e_keys", id: 1 }, body)[0]!.message.t,
    "error",
  );
  state.setFingerprint(BOB, BOB_FINGERPRINT);
  send(state, BOB, { t: "e2e_keys", id: 2 }, body);
  assert.equal(state.prekeys.oneTimeCount("bob"), 3);
  // The name changed hands (the operator released it): nothing of the old
  // key's bundle is kept, not even its one-time keys.
  state.setFingerprint(BOB, "SHA256:" + "n".repeat(43));
  const next = await bundleBody(0, 1);
  send(state, BOB, { t: "e2e_keys", id: 3 }, next.body);
  assert.equal(state.prekeys.oneTimeCount("bob"), 1);
});

Deno.test("e2e_keys before registering is not_registered", async () => {
  const state = new ServerState({}, memoryStore());
  connect(state, 9);
  const { body } = await bundleBody(0, 1);
  assert.equal(
    (send(state, 9, { t: "e2e_keys", id: 1 }, body)[0]!.message as {
      code: string;
    }).code,
    "not_registered",
  );
});

Deno.test("PrekeyDirectory keeps bundles in the store: after a restart each one-time key still goes out once", async () => {
  const store = openStore(":memory:");
  try {
    const before = new ServerState({}, store);
    const { body } = await bundleBody(10, 3);
    for (const [id, name] of [[BOB, "Bob"], [ALICE, "alice"]] as const) {
      connect(before, id);
      route(before, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
    }
    before.setFingerprint(BOB, BOB_FINGERPRINT);
    before.setFingerprint(ALICE, ALICE_FINGERPRINT);
    send(before, BOB, { t: "e2e_keys", id: 1 }, body);
    const first = bundleOf(
      send(before, ALICE, { t: "e2e_bundle", id: 2, name: "bob" }),
    ) as { one_time: { id: number }[] };
    assert.deepEqual(first.one_time.map((k) => k.id), [10]);

    // A new server state on the same store: a restart.
    const after = new ServerState({}, store);
    connect(after, ALICE);
    route(
      after,
      ALICE,
      { t: "register", id: 0, name: "alice", key: KEY },
      NONE,
      1,
    );
    after.setFingerprint(ALICE, ALICE_FINGERPRINT);
    const out = send(after, ALICE, { t: "e2e_bundle", id: 3, name: "BOB" });
    assert.equal(out[0]!.message.t, "e2e_bundle");
    assert.deepEqual(
      out[0]!.message.t === "e2e_bundle" &&
        [out[0]!.message.name, out[0]!.message.fingerprint],
      ["Bob", BOB_FINGERPRINT],
    );
    const second = bundleOf(out) as { one_time: { id: number }[] };
    assert.deepEqual(second.one_time.map((k) => k.id), [11]);
    assert.equal(after.prekeys.oneTimeCount("bob"), 1);
  } finally {
    store.close();
  }
});

Deno.test("e2e_bundle needs a proven identity key: an unproven connection cannot use up one-time keys", async () => {
  const state = room();
  const { body } = await bundleBody(0, 2);
  send(state, BOB, { t: "e2e_keys", id: 1 }, body);
  const stranger = 3;
  connect(state, stranger);
  route(
    state,
    stranger,
    { t: "register", id: 0, name: "stranger", key: KEY },
    NONE,
    stranger,
  );
  assert.deepEqual(
    send(state, stranger, { t: "e2e_bundle", id: 2, name: "bob" }),
    [{
      to: [stranger],
      message: {
        t: "error",
        re: 2,
        code: "identity",
        text: "ERROR: End-to-end keys need a proven identity key",
      },
    }],
  );
  assert.equal(state.prekeys.oneTimeCount("bob"), 2);
});

Deno.test("PrekeyDirectory keeps only the most recently used bundles in memory; the rest come from the store", async () => {
  const store = openStore(":memory:");
  try {
    const directory = new PrekeyDirectory(store);
    const { bundle } = await bundleBody(0, 2);
    for (let i = 0; i < CACHED_BUNDLES + 10; i++) {
      const result = directory.publish(`user${i}`, BOB_FINGERPRINT, bundle);
      assert.equal(result.kind, "stored");
    }
    assert.equal(directory.cached, CACHED_BUNDLES);
    // The first one left memory, not the store: each one-time key still
    // goes out once.
    assert.deepEqual(
      [directory.take("user0"), directory.take("user0")].map((entry) =>
        entry?.bundle.oneTime.map((one) => one.id)
      ),
      [[0], [1]],
    );
    assert.equal(directory.oneTimeCount("user0"), 0);
    assert.equal(directory.cached, CACHED_BUNDLES);
  } finally {
    store.close();
  }
});
