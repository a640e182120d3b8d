/**
 * Sender keys (docs/PROTOCOL.md 11.11) against the vectors computed
 * independently by tests/crypto/e2e_vectors.py, and what a member, a former
 * member or a server can and cannot do with a chain.
 */

import assert from "node:assert/strict";
import { toHex, utf8Encode } from "../../src/crypto/bytes.ts";
import {
  chainIdOf,
  decodeSenderKey,
  encodeSenderKey,
  MAX_GROUP_SKIP,
  newSenderChain,
  openGroupMessage,
  type OwnChain,
  type ReceivedChain,
  sealGroupMessage,
  SenderKeyError,
  signingPublicOf,
} from "../../src/crypto/sender_key.ts";
import VECTORS from "./e2e_vectors.json" with { type: "json" };

async function vectorChain(): Promise<OwnChain> {
  const signingSeed = new Uint8Array(32).fill(0xc3);
  return {
    chainId: new Uint8Array(16).fill(0xc1),
    iteration: 0,
    chainKey: new Uint8Array(32).fill(0xc2),
    signingSeed,
    signingPublic: await signingPublicOf(signingSeed),
  };
}

Deno.test("sealGroupMessage and encodeSenderKey reproduce the vector messages and sender key", async () => {
  let chain = await vectorChain();
  assert.equal(toHex(encodeSenderKey(chain)), VECTORS.senderKey);
  const sealed: string[] = [];
  for (const text of ["hello team", "second"]) {
    const out = await sealGroupMessage(chain, utf8Encode(text));
    chain = out.chain;
    sealed.push(toHex(out.message));
  }
  assert.deepEqual(sealed, VECTORS.groupMessages);
  assert.equal(chain.iteration, 2);
});

Deno.test("openGroupMessage opens the vector messages from the sender key, in any order, each once", async () => {
  const received = decodeSenderKey(Uint8Array.fromHex(VECTORS.senderKey));
  const [first, second] = VECTORS.groupMessages.map((h) =>
    Uint8Array.fromHex(h)
  );
  // The second first: the first one's key is kept as skipped.
  const a = await openGroupMessage(received, second!);
  assert.equal(new TextDecoder().decode(a.plaintext), "second");
  const b = await openGroupMessage(a.chain, first!);
  assert.equal(new TextDecoder().decode(b.plaintext), "hello team");
  for (const replay of [first!, second!]) {
    await assert.rejects(
      openGroupMessage(b.chain, replay),
      /already read, or sent before its key was given to you/,
    );
  }
  assert.equal(chainIdOf(first!), "c1".repeat(16));
});

Deno.test("openGroupMessage refuses a message from before the iteration a member got the chain at", async () => {
  let own = await newSenderChain();
  const early = await sealGroupMessage(own, utf8Encode("before you joined"));
  own = early.chain;
  // The chain as a new member gets it now.
  const joiner = decodeSenderKey(encodeSenderKey(own));
  const later = await sealGroupMessage(own, utf8Encode("welcome"));
  await assert.rejects(
    openGroupMessage(joiner, early.message),
    SenderKeyError,
  );
  const opened = await openGroupMessage(joiner, later.message);
  assert.equal(new TextDecoder().decode(opened.plaintext), "welcome");
});

Deno.test("openGroupMessage refuses an altered message, a forged signature, another chain's message, and one too far ahead, leaving the chain as it was", async () => {
  const own = await newSenderChain();
  const member: ReceivedChain = decodeSenderKey(encodeSenderKey(own));
  const { message } = await sealGroupMessage(own, utf8Encode("pay 10"));
  const altered = message.slice();
  altered[30]! ^= 1;
  await assert.rejects(openGroupMessage(member, altered), /not signed/);
  // A member holds the chain key and could encrypt, but cannot sign: a
  // message it seals with its own signing key on the same chain fails.
  const impostor: OwnChain = {
    ...own,
    signingSeed: new Uint8Array(32).fill(9),
  };
  const forged = await sealGroupMessage(impostor, utf8Encode("pay 1000"));
  await assert.rejects(openGroupMessage(member, forged.message), /not signed/);
  const other = await newSenderChain();
  const elsewhere = await sealGroupMessage(other, utf8Encode("hi"));
  await assert.rejects(
    openGroupMessage(member, elsewhere.message),
    /another chain/,
  );
  const far = await sealGroupMessage(
    { ...own, iteration: MAX_GROUP_SKIP + 1 },
    utf8Encode("far"),
  );
  await assert.rejects(openGroupMessage(member, far.message), /too far ahead/);
  // Nothing above moved the chain: the genuine message still opens.
  const opened = await openGroupMessage(member, message);
  assert.equal(new TextDecoder().decode(opened.plaintext), "pay 10");
});

Deno.test("decodeSenderKey refuses a malformed sender key", () => {
  assert.throws(() => decodeSenderKey(new Uint8Array(84)), SenderKeyError);
  const wrongVersion = Uint8Array.fromHex(VECTORS.senderKey);
  wrongVersion[0] = 2;
  assert.throws(() => decodeSenderKey(wrongVersion), SenderKeyError);
});
