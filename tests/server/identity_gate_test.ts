import assert from "node:assert/strict";
import { fromBase64, randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import {
  identityChallengeMessage,
  identityFingerprint,
  legacyIdentityChallengeMessage,
  signChallenge,
} from "../../src/crypto/identity.ts";
import {
  type GateResult,
  type IdentityBindings,
  IdentityGate,
  MemoryBindings,
  OUTDATED_CLIENT,
  unprovableNames,
} from "../../src/server/identity_gate.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { testIdentity } from "../_helpers/chat.ts";
import {
  FORGED_KEY,
  FORGED_SIGNATURE,
  SMALL_ORDER_KEYS,
} from "../_helpers/small_order.ts";

const TH = randomBytes(32);

function register(key: Uint8Array, name = "alice") {
  return { t: "register" as const, id: 1, name, key: toBase64(key) };
}

function reply(result: GateResult): ServerMessage {
  assert.equal(result.kind, "reply", JSON.stringify(result));
  return (result as Extract<GateResult, { kind: "reply" }>).message;
}

Deno.test("IdentityGate.begin refuses every small-order key with an identity error, before any challenge", async () => {
  for (const key of SMALL_ORDER_KEYS) {
    const gate = new IdentityGate(new MemoryBindings(), TH);
    assert.deepEqual(reply(await gate.begin(register(key))), {
      t: "error",
      re: 1,
      code: "identity",
      text:
        "ERROR: Bad identity key: the key is a point of small order, for which anyone can forge a signature",
    });
    // Nothing is pending: a proof that follows has nothing to prove.
    const proof = reply(
      await gate.prove({
        t: "prove",
        id: 2,
        signature: toBase64(FORGED_SIGNATURE),
      }),
    );
    assert.equal(
      proof.t === "error" && proof.text,
      "ERROR: Nothing to prove: register first",
    );
  }
});

Deno.test("IdentityGate.begin refuses a non-canonical key encoding", async () => {
  const key = new Uint8Array(32).fill(0xff);
  key[0] = 0xf0;
  key[31] = 0x7f;
  const gate = new IdentityGate(new MemoryBindings(), TH);
  const message = reply(await gate.begin(register(key)));
  assert.equal(
    message.t === "error" && message.text,
    "ERROR: Bad identity key: the key is not canonically encoded",
  );
});

Deno.test("the issue's forgery does not take a name: key 01 00..00 is refused and the name stays free", async () => {
  const bindings = new MemoryBindings();
  const gate = new IdentityGate(bindings, TH);
  const message = reply(await gate.begin(register(FORGED_KEY)));
  assert.equal(message.t, "error");
  assert.equal(bindings.fingerprintOf("alice"), null);
});

Deno.test("IdentityGate accepts a normal key's revision-2 proof and announces proof 2 in its challenge", async () => {
  const identity = await testIdentity();
  const gate = new IdentityGate(new MemoryBindings(), TH);
  const challenge = reply(await gate.begin(register(identity.publicRaw)));
  assert.ok(challenge.t === "challenge", JSON.stringify(challenge));
  assert.equal(challenge.proof, 2);
  const signature = await signChallenge(
    identity,
    identityChallengeMessage({
      publicKey: identity.publicRaw,
      transcriptHash: TH,
      challenge: fromBase64(challenge.nonce),
      name: "alice",
    }),
  );
  const result = await gate.prove({
    t: "prove",
    id: 2,
    signature: toBase64(signature),
  });
  assert.equal(result.kind, "proven");
  assert.equal(
    result.kind === "proven" && result.fingerprint,
    identity.fingerprint,
  );
});

Deno.test("IdentityGate tells a client that signs the revision-1 message to update, and does not accept it", async () => {
  const identity = await testIdentity();
  const bindings = new MemoryBindings();
  const gate = new IdentityGate(bindings, TH);
  const challenge = reply(await gate.begin(register(identity.publicRaw)));
  assert.ok(challenge.t === "challenge");
  const fields = {
    transcriptHash: TH,
    challenge: fromBase64(challenge.nonce),
    name: "alice",
  };
  const legacy = await signChallenge(
    identity,
    legacyIdentityChallengeMessage(fields),
  );
  assert.deepEqual(
    reply(
      await gate.prove({ t: "prove", id: 2, signature: toBase64(legacy) }),
    ),
    { t: "error", re: 2, code: "identity", text: OUTDATED_CLIENT },
  );
  assert.equal(bindings.fingerprintOf("alice"), null);
  // A proof that is neither gets the plain text.
  await gate.begin(register(identity.publicRaw));
  const bad = reply(
    await gate.prove({
      t: "prove",
      id: 3,
      signature: toBase64(randomBytes(64)),
    }),
  );
  assert.equal(
    bad.t === "error" && bad.text,
    "ERROR: The identity proof did not verify",
  );
});

Deno.test("unprovableNames finds names bound to every small-order or non-canonical key, and no other", async () => {
  const users = [
    { name: "jojo", fingerprint: (await testIdentity()).fingerprint },
    { name: "nobody", fingerprint: null },
    ...await Promise.all(SMALL_ORDER_KEYS.map(async (key, i) => ({
      name: `small${i}`,
      fingerprint: await identityFingerprint(key),
    }))),
    {
      name: "noncanonical",
      fingerprint: await identityFingerprint(
        Uint8Array.of(0xf0, ...new Uint8Array(30).fill(0xff), 0xff),
      ),
    },
  ];
  const found = (await unprovableNames(users)).map((u) => u.name);
  assert.deepEqual(found, [
    ...SMALL_ORDER_KEYS.map((_, i) => `small${i}`),
    "noncanonical",
  ]);
});

/** Bindings whose cluster-wide claim answers `claim`. */
class ClaimingBindings extends MemoryBindings {
  claims: string[] = [];
  constructor(readonly answer: (fingerprint: string) => Promise<string>) {
    super();
  }
  claim(_name: string, nameKey: string, fingerprint: string): Promise<string> {
    this.claims.push(nameKey);
    return this.answer(fingerprint);
  }
}

async function proveAlice(gate: IdentityGate): Promise<GateResult> {
  const identity = await testIdentity();
  const challenge = reply(await gate.begin(register(identity.publicRaw)));
  assert.ok(challenge.t === "challenge");
  const signature = await signChallenge(
    identity,
    identityChallengeMessage({
      publicKey: identity.publicRaw,
      transcriptHash: TH,
      challenge: fromBase64(challenge.nonce),
      name: "alice",
    }),
  );
  return await gate.prove({
    t: "prove",
    id: 2,
    signature: toBase64(signature),
  });
}

Deno.test("IdentityGate.prove claims the name where bindings are shared (a cluster) and proceeds when it is this key's", async () => {
  const bindings = new ClaimingBindings((fingerprint) =>
    Promise.resolve(fingerprint)
  );
  const result = await proveAlice(new IdentityGate(bindings, TH));
  assert.equal(result.kind, "proven");
  assert.deepEqual(bindings.claims, ["alice"]);
});

Deno.test("IdentityGate.prove refuses a name another node bound to another key, and says the server failed when the claim cannot be made", async () => {
  const other = "SHA256:" + "B".repeat(43);
  const taken = reply(
    await proveAlice(
      new IdentityGate(
        new ClaimingBindings(() => Promise.resolve(other)),
        TH,
      ),
    ),
  );
  assert.deepEqual(taken, {
    t: "error",
    re: 2,
    code: "identity",
    text: `ERROR: The name 'alice' belongs to another identity key (${other})`,
  });
  const failed = reply(
    await proveAlice(
      new IdentityGate(
        new ClaimingBindings(() => Promise.reject(new Error("no NATS"))),
        TH,
      ),
    ),
  );
  assert.equal(failed.t === "error" && failed.code, "internal");
});

Deno.test("IdentityGate.begin asks the cluster when its own copy binds the name to another key, and goes by its answer", async () => {
  const stale = "SHA256:" + "C".repeat(43);
  const other = "SHA256:" + "B".repeat(43);
  /** A copy binding alice to `stale`; the cluster answers `owner`. */
  const gate = (owner: () => Promise<string | null>) => {
    const copy = new Map([["alice", stale]]);
    const rechecks: string[] = [];
    const bindings: IdentityBindings = {
      fingerprintOf: (key) => copy.get(key) ?? null,
      bind(_name, key, fingerprint) {
        if (!copy.has(key)) copy.set(key, fingerprint);
      },
      claim: (_name, _key, fingerprint) => Promise.resolve(fingerprint),
      async recheck(_name, key) {
        rechecks.push(key);
        const answer = await owner();
        if (answer === null) copy.delete(key);
        else copy.set(key, answer);
        return answer;
      },
    };
    return { gate: new IdentityGate(bindings, TH), rechecks };
  };
  // Released elsewhere: this key may take it.
  const released = gate(() => Promise.resolve(null));
  assert.equal((await proveAlice(released.gate)).kind, "proven");
  assert.deepEqual(released.rechecks, ["alice"]);
  // Bound to a third key elsewhere: refused, naming that one.
  const taken = reply(
    await gate(() => Promise.resolve(other)).gate.begin(
      register((await testIdentity()).publicRaw),
    ),
  );
  assert.match(
    taken.t === "error" ? taken.text : "",
    new RegExp(`belongs to another identity key \\(${other}\\)`),
  );
  // The cluster cannot be asked: the server says so, and binds nothing.
  const failed = reply(
    await gate(() => Promise.reject(new Error("no NATS"))).gate.begin(
      register((await testIdentity()).publicRaw),
    ),
  );
  assert.equal(failed.t === "error" && failed.code, "internal");
});

Deno.test("IdentityGate.recheck refuses a proven sign-in whose free name another key bound after the proof, and passes the same key's", async () => {
  const bindings = new MemoryBindings();
  // Two connections (two gates, one set of bindings) prove "alice" with two
  // keys while the name is free: both pass.
  const first = await proveAlice(new IdentityGate(bindings, TH));
  const secondGate = new IdentityGate(bindings, TH);
  const second = await proveAlice(secondGate);
  assert.ok(first.kind === "proven" && second.kind === "proven");
  assert.equal(secondGate.recheck(second), null, "still free: it may go on");
  // The first registers and binds the name.
  new IdentityGate(bindings, TH).bindIfFree("alice", first.fingerprint!);
  const refused = secondGate.recheck(second);
  assert.deepEqual(refused?.message, {
    t: "error",
    re: 2,
    code: "identity",
    text:
      `ERROR: The name 'alice' belongs to another identity key (${first.fingerprint})`,
  });
  assert.equal(secondGate.recheck(first), null, "its own key's sign-in");
});
