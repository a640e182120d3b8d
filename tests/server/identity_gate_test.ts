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
  groupNameUserRefusal,
  type IdentityBindings,
  IdentityGate,
  lookalikeRefusal,
  MemoryBindings,
  type NameClaim,
  type NameHolder,
  OUTDATED_CLIENT,
  StoreBindings,
  unprovableNames,
} from "../../src/server/identity_gate.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { testIdentity } from "../_helpers/chat.ts";
import { memoryStore } from "../_helpers/memory_store.ts";
import { ServerState } from "../../src/server/state.ts";
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
  constructor(readonly answer: (fingerprint: string) => Promise<NameClaim>) {
    super();
  }
  claim(
    _name: string,
    nameKey: string,
    fingerprint: string,
  ): Promise<NameClaim> {
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
    Promise.resolve({ kind: "bound", fingerprint })
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
        new ClaimingBindings(() =>
          Promise.resolve({ kind: "bound", fingerprint: other })
        ),
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

Deno.test("IdentityGate.prove refuses a name the cluster says looks like another key's, or is a group's, with the texts of one node", async () => {
  const lookalike = reply(
    await proveAlice(
      new IdentityGate(
        new ClaimingBindings(() =>
          Promise.resolve({ kind: "lookalike", name: "a1ice" })
        ),
        TH,
      ),
    ),
  );
  assert.deepEqual(lookalike, {
    t: "error",
    re: 2,
    code: "identity",
    text: lookalikeRefusal("alice", "a1ice"),
  });
  const group = reply(
    await proveAlice(
      new IdentityGate(
        new ClaimingBindings(() =>
          Promise.resolve({ kind: "group", name: "Alice" })
        ),
        TH,
      ),
    ),
  );
  assert.deepEqual(group, {
    t: "error",
    re: 2,
    code: "group_exists",
    text: groupNameUserRefusal("alice", "Alice"),
  });
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
      lookalikes: () => [],
      bind(_name, key, fingerprint) {
        if (!copy.has(key)) copy.set(key, fingerprint);
      },
      claim: (_name, _key, fingerprint) =>
        Promise.resolve({ kind: "bound", fingerprint }),
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

/** Signs `name` in through `gate` with `identity`: begin, then prove. */
async function proveName(
  gate: IdentityGate,
  identity: Awaited<ReturnType<typeof testIdentity>>,
  name: string,
): Promise<GateResult> {
  const first = await gate.begin(register(identity.publicRaw, name));
  if (first.kind !== "reply" || first.message.t !== "challenge") return first;
  const signature = await signChallenge(
    identity,
    identityChallengeMessage({
      publicKey: identity.publicRaw,
      transcriptHash: TH,
      challenge: fromBase64(first.message.nonce),
      name,
    }),
  );
  return await gate.prove({
    t: "prove",
    id: 2,
    signature: toBase64(signature),
  });
}

Deno.test("IdentityGate.begin refuses a new name that looks like another key's, and lets that key take look-alikes of its own", async () => {
  const bindings = new MemoryBindings();
  const owner = await testIdentity();
  const other = await testIdentity();
  bindings.bind("alice", "alice", owner.fingerprint);
  bindings.bind("mallory", "mallory", owner.fingerprint);
  for (
    const [name, like] of [
      ["a1ice", "alice"],
      ["aIice", "alice"],
      ["rnallory", "mallory"],
      ["MA11ORY", "mallory"],
    ] as const
  ) {
    const gate = new IdentityGate(bindings, TH);
    assert.deepEqual(reply(await gate.begin(register(other.publicRaw, name))), {
      t: "error",
      re: 1,
      code: "identity",
      text:
        `ERROR: The name '${name}' looks like '${like}', which belongs to another identity key; choose another name`,
    });
    assert.equal(bindings.fingerprintOf(name.toLowerCase()), null);
  }
  // Names that only share letters are anyone's.
  const gate = new IdentityGate(bindings, TH);
  assert.equal((await proveName(gate, other, "alice2")).kind, "proven");
  // The owner may have look-alikes of its own names.
  for (const name of ["a1ice", "rnallory"]) {
    const result = await proveName(
      new IdentityGate(bindings, TH),
      owner,
      name,
    );
    assert.equal(result.kind, "proven", name);
  }
});

Deno.test("IdentityGate keeps look-alike names bound before the rule: each owner signs in with theirs", async () => {
  // A server upgraded with both bound, to two keys.
  const bindings = new MemoryBindings();
  const alice = await testIdentity();
  const mallory = await testIdentity();
  bindings.bind("alice", "alice", alice.fingerprint);
  bindings.bind("a1ice", "a1ice", mallory.fingerprint);
  const kept = await proveName(
    new IdentityGate(bindings, TH),
    mallory,
    "a1ice",
  );
  assert.equal(kept.kind, "proven");
  const gate = new IdentityGate(bindings, TH);
  const own = await proveName(gate, alice, "alice");
  assert.ok(own.kind === "proven");
  assert.equal(gate.recheck(own), null);
});

Deno.test("IdentityGate.recheck refuses a proven new name when another key bound a look-alike after the proof", async () => {
  const bindings = new MemoryBindings();
  const alice = await testIdentity();
  const mallory = await testIdentity();
  // Both prove while neither name is bound: both pass.
  const aliceGate = new IdentityGate(bindings, TH);
  const malloryGate = new IdentityGate(bindings, TH);
  const first = await proveName(aliceGate, alice, "alice");
  const second = await proveName(malloryGate, mallory, "a1ice");
  assert.ok(first.kind === "proven" && second.kind === "proven");
  assert.equal(aliceGate.recheck(first), null);
  aliceGate.bindIfFree("alice", alice.fingerprint);
  assert.deepEqual(malloryGate.recheck(second)?.message, {
    t: "error",
    re: 2,
    code: "identity",
    text:
      "ERROR: The name 'a1ice' looks like 'alice', which belongs to another identity key; choose another name",
  });
});

Deno.test("StoreBindings finds look-alikes of names bound before it was made, passes over released ones, and sees who is signed in", async () => {
  const store = openStore(":memory:");
  const alice = await testIdentity();
  const bob = await testIdentity();
  new StoreBindings(store).bind("alice", "alice", alice.fingerprint);
  new StoreBindings(store).bind("bob", "bob", bob.fingerprint);
  // A new process: the index is built from the store.
  let online: NameHolder | null = null;
  const bindings = new StoreBindings(
    store,
    Date.now,
    (key) => key === "bob" ? online : null,
  );
  assert.deepEqual(bindings.lookalikes("A1ICE"), [
    { name: "alice", fingerprint: alice.fingerprint },
  ]);
  assert.deepEqual(bindings.lookalikes("alice"), [], "not itself");
  assert.deepEqual(bindings.lookalikes("alice2"), []);
  // Released by the operator (chat admin release, another process).
  assert.ok(store.releaseName("alice", 0));
  assert.deepEqual(bindings.lookalikes("a1ice"), []);
  // Released while its owner stays signed in: still theirs to look like.
  assert.ok(store.releaseName("bob", 0));
  assert.deepEqual(bindings.lookalikes("b0b"), []);
  online = { name: "Bob", fingerprint: bob.fingerprint };
  assert.deepEqual(bindings.lookalikes("b0b"), [online]);
  // Bound here: found from now on.
  bindings.bind("rnallory", "rnallory", alice.fingerprint);
  assert.deepEqual(bindings.lookalikes("mallory"), [
    { name: "rnallory", fingerprint: alice.fingerprint },
  ]);
  store.close();
});

Deno.test("IdentityGate.begin refuses a new user name that is or looks like a group's, with group_exists, and lets a key keep such a name it held before", async () => {
  const state = new ServerState({}, memoryStore("sophia"));
  state.createGroup("team", "sophia", 0);
  const groups = (name: string) => state.groupNameLike(name);
  const bindings = new MemoryBindings();
  const someone = await testIdentity();
  for (
    const [name, text] of [
      ["team", "ERROR: 'team' is the name of a group; choose another name"],
      ["TEAM", "ERROR: 'TEAM' is the name of a group; choose another name"],
      [
        "tearn",
        "ERROR: 'tearn' looks like 'team', the name of a group; choose another name",
      ],
    ] as const
  ) {
    const gate = new IdentityGate(bindings, TH, groups);
    assert.deepEqual(
      reply(await gate.begin(register(someone.publicRaw, name))),
      { t: "error", re: 1, code: "group_exists", text },
    );
    assert.equal(bindings.fingerprintOf(name.toLowerCase()), null);
  }
  // A name that only shares letters is anyone's.
  const free = await proveName(
    new IdentityGate(bindings, TH, groups),
    someone,
    "team2",
  );
  assert.equal(free.kind, "proven");
  // Bound before the rule (or before the group): its owner signs in.
  const owner = await testIdentity();
  bindings.bind("tearn", "tearn", owner.fingerprint);
  const gate = new IdentityGate(bindings, TH, groups);
  const kept = await proveName(gate, owner, "tearn");
  assert.ok(kept.kind === "proven");
  assert.equal(gate.recheck(kept), null);
});

Deno.test("IdentityGate.recheck refuses a proven new name when a group was created with a name like it after the proof", async () => {
  const state = new ServerState({}, memoryStore("sophia"));
  const bindings = new MemoryBindings();
  const gate = new IdentityGate(
    bindings,
    TH,
    (name) => state.groupNameLike(name),
  );
  const proven = await proveName(gate, await testIdentity(), "crew");
  assert.ok(proven.kind === "proven");
  assert.equal(gate.recheck(proven), null, "no such group yet");
  state.createGroup("CREW", "sophia", 0);
  assert.deepEqual(gate.recheck(proven)?.message, {
    t: "error",
    re: 2,
    code: "group_exists",
    text: "ERROR: 'crew' is the name of a group; choose another name",
  });
});

Deno.test("IdentityGate.begin says a name in other capitals is another key's in its holder's spelling, and not when spelled the same", async () => {
  const bindings = new MemoryBindings();
  const bound = "SHA256:" + "B".repeat(43);
  bindings.bind("Alice", "alice", bound);
  const gate = new IdentityGate(bindings, TH);
  const key = (await testIdentity()).publicRaw;
  const other = reply(await gate.begin(register(key, "alice")));
  assert.match(
    other.t === "error" ? other.text : "",
    new RegExp(
      `^ERROR: The name 'alice' belongs to another identity key \\(${bound}\\), as 'Alice' \\(names ignore case\\); yours is SHA256:`,
    ),
  );
  const same = reply(await gate.begin(register(key, "Alice")));
  assert.match(
    same.t === "error" ? same.text : "",
    new RegExp(
      `^ERROR: The name 'Alice' belongs to another identity key \\(${bound}\\); yours is`,
    ),
  );
});
