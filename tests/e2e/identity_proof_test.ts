/**
 * Identity proofs over a real server and real sockets (issue 14): a key of
 * small order gets nowhere, a client that signs the first proof format is told
 * to update, and normal clients keep registering.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import {
  legacyIdentityChallengeMessage,
  signChallenge,
} from "../../src/crypto/identity.ts";
import { OUTDATED_CLIENT } from "../../src/server/identity_gate.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import {
  FORGED_KEY,
  FORGED_SIGNATURE,
  SMALL_ORDER_KEYS,
} from "../_helpers/small_order.ts";

Deno.test("a server refuses the issue's forged key (01 00..00 with R = 01 00..00, S = 0) and every small-order key; the name stays free for its owner", async () => {
  await using server = await startTestServer();
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const refused = await raw.request({
    t: "register",
    name: "alice",
    key: toBase64(FORGED_KEY),
  });
  assert.deepEqual(
    { t: refused.t, code: refused.t === "error" && refused.code },
    { t: "error", code: "identity" },
  );
  assert.equal(
    refused.t === "error" && refused.text,
    "ERROR: Bad identity key: the key is a point of small order, for which anyone can forge a signature",
  );
  // The forged signature has no registration to complete.
  const proof = await raw.request({
    t: "prove",
    signature: toBase64(FORGED_SIGNATURE),
  });
  assert.equal(
    proof.t === "error" && proof.text,
    "ERROR: Nothing to prove: register first",
  );
  for (const key of SMALL_ORDER_KEYS) {
    const reply = await raw.request({
      t: "register",
      name: "alice",
      key: toBase64(key),
    });
    assert.equal(reply.t === "error" && reply.code, "identity");
  }
  // The connection is still usable, and alice registers with a real key.
  assert.equal((await raw.register("mallory")).t, "welcome");
  const alice = await TestClient.connect(server, "alice");
  await alice.quit();
});

Deno.test("a client that signs the revision-1 identity proof is told to update, and its name is not bound", async () => {
  await using server = await startTestServer();
  await using raw = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const identity = await testIdentity();
  const challenge = await raw.request({
    t: "register",
    name: "olduser",
    key: toBase64(identity.publicRaw),
  });
  assert.ok(challenge.t === "challenge", JSON.stringify(challenge));
  assert.equal(challenge.proof, 2);
  const signature = await signChallenge(
    identity,
    legacyIdentityChallengeMessage({
      transcriptHash: raw.keys.transcriptHash,
      challenge: fromBase64(challenge.nonce),
      name: "olduser",
    }),
  );
  const reply = await raw.request({
    t: "prove",
    signature: toBase64(signature),
  });
  assert.deepEqual(
    { t: reply.t, text: reply.t === "error" && reply.text },
    { t: "error", text: OUTDATED_CLIENT },
  );
  // Not bound: another key can still take the name.
  const other = await TestClient.connect(server, "olduser");
  await other.quit();
});

Deno.test("ChatClient.register refuses a hand-built identity with a small-order key without sending it", async () => {
  await using server = await startTestServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const real = await testIdentity();
    const reply = await client.register("alice", {
      ...real,
      publicRaw: FORGED_KEY,
    });
    assert.deepEqual(reply, {
      t: "error",
      re: null,
      code: "identity",
      text:
        "ERROR: Bad identity key: the key is a point of small order, for which anyone can forge a signature",
    });
    // Nothing reached the server: the session is still unregistered and
    // registers normally.
    assert.equal((await client.register("alice", real)).t, "welcome");
  } finally {
    await client.quit();
  }
});
