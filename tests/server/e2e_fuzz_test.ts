/**
 * Property tests of the server's end-to-end handlers (docs/PROTOCOL.md 11.2,
 * 11.7) on hostile input: bundles mutated field by field (wrong types,
 * lengths, ids, duplicates, too many keys, not JSON, not UTF-8, too large),
 * and `e2e_msg` with any body size, recipient and fingerprint, through the
 * router with a real in-memory store.
 *
 * The router never throws; each request gets exactly one reply, to its
 * sender, with a listed code; what the directory hands out afterwards is
 * always a well-formed bundle with at most one one-time key, and it never
 * holds more than the cap; an envelope reaches only the user named, byte for
 * byte. Seeds are fixed (tests/_helpers/fuzz.ts: FUZZ_SEED, FUZZ_SCALE).
 */

import assert from "node:assert/strict";
import { identityFingerprint } from "../../src/crypto/identity.ts";
import {
  decodeBundle,
  encodeBundle,
  generatePrekeys,
} from "../../src/crypto/prekeys.ts";
import { MAX_E2E_MESSAGE_BYTES } from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { MAX_STORED_ONE_TIME } from "../../src/server/e2e_keys.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { connect, type Delivered, route } from "../_helpers/delivered.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";
import { forAll, type Rng } from "../_helpers/fuzz.ts";

const BOB = 1;
const ALICE = 2;
const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const NONE = new Uint8Array(0);
const BOB_ID = await seededIdentity(0x0b);
const BOB_FP = await identityFingerprint(BOB_ID.publicRaw);
const ALICE_FP = "SHA256:" + "a".repeat(43);
const VALID = encodeBundle(
  (await generatePrekeys(BOB_ID, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 5,
  })).bundle,
);

function withState(fn: (state: ServerState) => void): void {
  const store = openStore(":memory:");
  try {
    const state = new ServerState({}, store);
    for (
      const [id, name, fp] of [[BOB, "bob", BOB_FP], [
        ALICE,
        "alice",
        ALICE_FP,
      ]] as const
    ) {
      connect(state, id);
      route(
        state,
        id,
        { t: "register", id: 0, name, key: KEY, acks: true },
        NONE,
        id,
      );
      state.setFingerprint(id, fp);
    }
    fn(state);
  } finally {
    store.close();
  }
}

/** Values that are wrong for some field, or right for another. */
function hostileValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => null,
    () => -1,
    () => 1.5,
    () => 2 ** 32,
    () => Number.MAX_SAFE_INTEGER + 2,
    () => rng.int(2 ** 32),
    () => "",
    () => "not base64 !!",
    () =>
      btoa(
        String.fromCharCode(...rng.bytes(rng.pick([31, 32, 33, 63, 64, 65]))),
      ),
    () => "A".repeat(rng.length(5000)),
    () => [],
    () => ({}),
    () => [[[[[[[[]]]]]]]],
    () => true,
    () => ({ id: 0, key: VALID.dh.key, sig: VALID.dh.sig }),
    () => structuredClone(VALID.one_time),
  ])();
}

let nextId = 100;

/** A bundle with a few fields broken, or something that is no bundle. */
function hostileBody(rng: Rng): Uint8Array {
  const roll = rng.int(10);
  if (roll === 0) return rng.bytes(rng.length(40_000));
  if (roll === 1) {
    return new Uint8Array(32 * 1024 + 1 + rng.int(100)).fill(0x20);
  }
  const bundle = structuredClone(VALID) as unknown as Record<string, unknown>;
  // Fresh ids (the server does not check signatures), or repeated ones.
  bundle.one_time = VALID.one_time.slice(0, rng.int(6)).map((key) => ({
    ...key,
    id: rng.chance(0.9) ? nextId++ : 7,
  }));
  if (roll === 2) {
    // Many one-time keys, ids possibly repeated.
    const keys = VALID.one_time;
    bundle.one_time = Array.from({ length: rng.int(150) }, (_, i) => ({
      ...keys[i % keys.length]!,
      id: rng.chance(0.1) ? 7 : 1000 + i,
    }));
  }
  for (let edits = rng.chance(0.5) ? 0 : rng.range(1, 3); edits > 0; edits--) {
    const path = rng.pick([
      ["identity"],
      ["dh"],
      ["dh", "id"],
      ["dh", "key"],
      ["dh", "sig"],
      ["signed"],
      ["signed", "id"],
      ["signed", "key"],
      ["signed", "sig"],
      ["one_time"],
      ["one_time", "0"],
      ["one_time", "0", "id"],
      ["one_time", "0", "key"],
      ["__proto__"],
      ["extra"],
    ]);
    let at: Record<string, unknown> = bundle;
    for (const step of path.slice(0, -1)) {
      const inner = at[step];
      if (typeof inner !== "object" || inner === null) break;
      at = inner as Record<string, unknown>;
    }
    if (rng.chance(0.2)) delete at[path.at(-1)!];
    else at[path.at(-1)!] = hostileValue(rng);
  }
  const text = JSON.stringify(bundle);
  const bytes = new TextEncoder().encode(text);
  if (rng.chance(0.05)) bytes[rng.int(bytes.length)] = 0xff; // not UTF-8
  return bytes;
}

function onlyReply(out: Delivered[], to: ConnId, re: number): Delivered {
  assert.equal(out.length, 1, JSON.stringify(out.map((o) => o.message)));
  const [reply] = out;
  assert.deepEqual(reply!.to, [to]);
  assert.equal((reply!.message as { re?: number }).re, re);
  return reply!;
}

Deno.test("e2e_keys and e2e_bundle survive hostile bundles: one reply each, and only well-formed bundles go out", () => {
  withState((state) => {
    let id = 0;
    const seen = { stored: 0, refused: 0, fetched: 0 };
    forAll("e2e_keys", 0xe2e0, 300, (rng) => {
      const body = hostileBody(rng);
      const re = ++id;
      const reply = onlyReply(
        route(state, BOB, { t: "e2e_keys", id: re }, body, 1000),
        BOB,
        re,
      );
      const message = reply.message;
      if (message.t === "error") {
        assert.ok(
          ["too_large", "bad_request", "limit"].includes(message.code),
          JSON.stringify(message),
        );
        seen.refused++;
      } else {
        assert.equal(message.t, "e2e_keys");
        seen.stored++;
        assert.ok(message.one_time <= MAX_STORED_ONE_TIME);
      }
      assert.ok(state.prekeys.oneTimeCount("bob") <= MAX_STORED_ONE_TIME);
      if (rng.chance(0.3)) {
        const fetchId = ++id;
        const got = onlyReply(
          route(
            state,
            ALICE,
            {
              t: "e2e_bundle",
              id: fetchId,
              name: rng.pick(["bob", "BOB", "nobody", "\x1b[2J"]),
            },
            NONE,
            1000,
          ),
          ALICE,
          fetchId,
        );
        if (got.message.t === "e2e_bundle") {
          const bundle = decodeBundle(
            JSON.parse(
              new TextDecoder("utf-8", { fatal: true }).decode(got.body),
            ),
          );
          assert.ok(bundle.oneTime.length <= 1);
          seen.fetched++;
          assert.equal(got.message.fingerprint, BOB_FP);
        } else {
          assert.equal(got.message.t, "error");
          assert.equal(
            got.message.t === "error" && got.message.code,
            "no_keys",
          );
        }
      }
    });
    // The generator reaches both sides of every check.
    assert.ok(
      seen.stored > 10 && seen.refused > 10 && seen.fetched > 10,
      JSON.stringify(seen),
    );
  });
});

Deno.test("e2e_msg survives any body, recipient and fingerprint: one reply, and the envelope reaches only the user named, unchanged", () => {
  withState((state) => {
    let id = 0;
    const seen = { relayed: 0, refused: 0 };
    forAll("e2e_msg", 0xe2e1, 300, (rng) => {
      const size = rng.pick([
        0,
        1,
        rng.length(20_000),
        MAX_E2E_MESSAGE_BYTES,
        MAX_E2E_MESSAGE_BYTES + 1,
      ]);
      const body = rng.bytes(size);
      const to = rng.pick([
        "alice",
        "ALICE",
        "bob",
        "nobody",
        "",
        "a".repeat(300),
        "\x1b[2J",
      ]);
      const fingerprint = rng.pick([
        ALICE_FP,
        BOB_FP,
        "",
        "SHA256:" + "z".repeat(43),
      ]);
      const re = ++id;
      const message: ClientMessage = {
        t: "e2e_msg",
        id: re,
        to,
        fingerprint,
        ...(rng.chance(0.5) ? { cid: re.toString(16).padStart(32, "0") } : {}),
      };
      const out = route(state, BOB, message, body, 1000 + re);
      const replies = out.filter((o) =>
        (o.message as { re?: number }).re === re
      );
      assert.equal(
        replies.length,
        1,
        JSON.stringify(out.map((o) => o.message)),
      );
      assert.deepEqual(replies[0]!.to, [BOB]);
      for (const other of out) {
        if (other === replies[0]) continue;
        assert.equal(other.message.t, "e2e_private");
        seen.relayed++;
        assert.deepEqual(other.to, [to.toLowerCase() === "bob" ? BOB : ALICE]);
        assert.equal(
          to.toLowerCase(),
          fingerprint === BOB_FP ? "bob" : "alice",
        );
        assert.deepEqual(other.body, body);
      }
      const reply = replies[0]!.message;
      if (reply.t === "error") {
        assert.ok(
          ["empty", "too_long", "no_such_user", "identity", "limit"].includes(
            reply.code,
          ),
          JSON.stringify(reply),
        );
        assert.ok(!reply.text.includes("\x1b"), reply.text);
        seen.refused++;
      } else {
        assert.equal(reply.t, "ok");
        assert.ok(size > 0 && size <= MAX_E2E_MESSAGE_BYTES);
      }
    });
    assert.ok(seen.relayed > 10 && seen.refused > 10, JSON.stringify(seen));
  });
});
