import assert from "node:assert/strict";
import { utf8Encode } from "../../src/crypto/bytes.ts";
import { generatePrekeys } from "../../src/crypto/prekeys.ts";
import {
  decodeHeader,
  HEADER_BYTES,
  MAX_SKIP,
  ratchetDecrypt,
  ratchetEncrypt,
  RatchetError,
  ratchetInitAlice,
  ratchetInitBob,
  type RatchetState,
} from "../../src/crypto/ratchet.ts";
import { x3dhInitiate, x3dhRespond } from "../../src/crypto/x3dh.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";

const ALICE = await seededIdentity(0x0a);
const BOB = await seededIdentity(0x0b);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Alice and Bob after X3DH, as the client will set them up. */
async function pair(): Promise<{ alice: RatchetState; bob: RatchetState }> {
  const aliceKeys = await generatePrekeys(ALICE, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 0,
  });
  const bobKeys = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 0,
    oneTimeCount: 1,
  });
  const a = await x3dhInitiate({
    identity: ALICE.publicRaw,
    dh: aliceKeys.bundle.dh,
    dhPair: aliceKeys.secrets.dh,
  }, bobKeys.bundle);
  const b = await x3dhRespond(BOB.publicRaw, bobKeys.secrets, a.init);
  return {
    alice: await ratchetInitAlice(
      a.sharedKey,
      a.associatedData,
      a.theirRatchetKey,
    ),
    bob: ratchetInitBob(
      b.sharedKey,
      b.associatedData,
      bobKeys.secrets.signed.pair,
    ),
  };
}

class Side {
  constructor(public state: RatchetState) {}
  async send(plaintext: string): Promise<Uint8Array<ArrayBuffer>> {
    const out = await ratchetEncrypt(this.state, utf8Encode(plaintext));
    this.state = out.state;
    return out.message;
  }
  async receive(message: Uint8Array): Promise<string> {
    const out = await ratchetDecrypt(this.state, message);
    this.state = out.state;
    return text(out.plaintext);
  }
}

Deno.test("ratchet: messages in order, both ways, over several DH steps", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await bob.receive(await alice.send(`a${round}.${i}`)),
        `a${round}.${i}`,
      );
    }
    for (let i = 0; i < 2; i++) {
      assert.equal(
        await alice.receive(await bob.send(`b${round}.${i}`)),
        `b${round}.${i}`,
      );
    }
  }
  // Each turn of the conversation brings a new ratchet key.
  const keys = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const message = await alice.send("x");
    keys.add(String(decodeHeader(message.subarray(0, HEADER_BYTES)).dh));
    await bob.receive(message);
    await alice.receive(await bob.send("y"));
  }
  assert.equal(keys.size, 3);
});

Deno.test("ratchet: out of order and lost messages, across a DH step", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  const first = [
    await alice.send("m0"),
    await alice.send("m1"),
    await alice.send("m2"),
  ];
  assert.equal(await bob.receive(first[2]!), "m2");
  assert.equal(await alice.receive(await bob.send("r0")), "r0");
  const second = [await alice.send("n0"), await alice.send("n1")];
  assert.equal(await bob.receive(second[1]!), "n1");
  // Late arrivals from the previous chain still open, in any order.
  assert.equal(await bob.receive(first[0]!), "m0");
  assert.equal(await bob.receive(second[0]!), "n0");
  // m1 is lost for good: nothing else is held up by it.
  assert.equal(await alice.receive(await bob.send("r1")), "r1");
  assert.equal(await bob.receive(first[1]!), "m1");
});

Deno.test("ratchet: a replayed message fails and leaves the state usable", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  const m0 = await alice.send("once");
  const m1 = await alice.send("twice?");
  assert.equal(await bob.receive(m1), "twice?");
  assert.equal(await bob.receive(m0), "once");
  await assert.rejects(() => bob.receive(m0), RatchetError);
  await assert.rejects(() => bob.receive(m1), RatchetError);
  assert.equal(await bob.receive(await alice.send("still fine")), "still fine");
});

Deno.test("ratchet: any altered byte fails, and the message then still opens", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  const message = await alice.send("pay 10 to carol");
  for (const at of [0, 31, 35, 39, HEADER_BYTES, message.length - 1]) {
    const altered = message.slice();
    altered[at]! ^= 0x01;
    await assert.rejects(() => bob.receive(altered), RatchetError);
  }
  await assert.rejects(
    () => bob.receive(message.subarray(0, 50)),
    RatchetError,
  );
  assert.equal(await bob.receive(message), "pay 10 to carol");
});

Deno.test("ratchet: a message for another conversation (other AD) fails", async () => {
  const one = await pair();
  const two = await pair();
  const message = (await ratchetEncrypt(one.alice, utf8Encode("hi"))).message;
  await assert.rejects(() => ratchetDecrypt(two.bob, message), RatchetError);
});

Deno.test("ratchet: a state stolen now does not open earlier messages", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  const earlier: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    const message = await alice.send(`secret ${i}`);
    earlier.push(message);
    await bob.receive(message);
    await alice.receive(await bob.send("ok"));
  }
  const stolen = structuredClone(bob.state);
  assert.equal(stolen.skipped.size, 0);
  for (const message of earlier) {
    await assert.rejects(() => ratchetDecrypt(stolen, message), RatchetError);
  }
  // Nor does the sender's state open what it sent.
  for (const message of earlier) {
    await assert.rejects(
      () => ratchetDecrypt(structuredClone(alice.state), message),
      RatchetError,
    );
  }
});

Deno.test("ratchet: Bob cannot send before Alice's first message", async () => {
  const { bob } = await pair();
  await assert.rejects(
    () => ratchetEncrypt(bob, utf8Encode("x")),
    /No sending chain yet/,
  );
});

Deno.test("ratchet: a message more than MAX_SKIP ahead is refused", async () => {
  const { alice: a, bob: b } = await pair();
  const alice = new Side(a);
  const bob = new Side(b);
  assert.equal(await bob.receive(await alice.send("first")), "first");
  // Alice's state as if she had sent MAX_SKIP + 1 messages since.
  alice.state = { ...alice.state, ns: alice.state.ns + MAX_SKIP + 1 };
  const far = await alice.send("far");
  await assert.rejects(() => bob.receive(far), /more than 1000 messages ahead/);
});

Deno.test("ratchet: a message under Bob's first ratchet key before he can send is refused as a RatchetError", async () => {
  const { alice } = await pair();
  // Anyone who saw Bob's bundle knows his signed prekey: Alice's state has
  // it as his ratchet key, with no receiving chain yet.
  const forged = new Uint8Array(HEADER_BYTES + 32);
  forged.set(alice.dhr!);
  await assert.rejects(
    () => ratchetDecrypt(alice, forged),
    (error: Error) => {
      assert.ok(error instanceof RatchetError, String(error));
      return true;
    },
  );
});
