/**
 * A hostile server against a real `chat connect` in a group (issue 17 item 3;
 * docs/PROTOCOL.md 11.11): a server written here from the protocol, not ours,
 * signs bob in, delivers alice's genuine sender key over the 1:1 channel and
 * her genuine group messages, along with altered, replayed, relabelled and
 * moved copies, and one sealed on a chain a member made up with alice's
 * chain key but its own signing key. Only the genuine ones may be shown as
 * group messages; every other one is an error on stderr.
 */

import assert from "node:assert/strict";
import {
  encodeSenderKey,
  newSenderChain,
  type OwnChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import {
  encodeGroupContent,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("chat connect shows a hostile server's altered, replayed, relabelled, moved and forged group messages as errors, never as messages", async () => {
  await using run = await startHostileE2e("chat-e2e-hostile-group-");
  const { bob, channel, alice } = run;

  // Alice's chain for team, sent to bob end to end.
  let chain: OwnChain = await newSenderChain();
  alice.deliver(
    channel,
    await alice.seal({
      type: "secret",
      from: "alice",
      to: "bob",
      label: SENDER_KEY_LABEL_PREFIX + "team",
      secret: encodeSenderKey(chain),
    }),
  );
  const seal = async (text: string) => {
    const out = await sealGroupMessage(
      chain,
      encodeGroupContent({ from: "alice", group: "team", text }),
    );
    chain = out.chain;
    return out.message;
  };
  const deliver = (body: Uint8Array, from = "alice", group = "team") => {
    const id = alice.nextId();
    channel.send({
      t: "e2e_group",
      group,
      from,
      fingerprint: alice.fingerprint,
      ts: Date.now(),
      id,
      seq: id,
    }, body);
  };

  const first = await seal("first genuine");
  deliver(first);
  deliver(first); // replayed under a new id
  const second = await seal("second genuine");
  const altered = second.slice();
  altered[30]! ^= 0x40;
  deliver(altered);
  deliver(second);
  // A member holding alice's chain key seals with its own signing key.
  const forged = await sealGroupMessage(
    { ...chain, signingSeed: new Uint8Array(32).fill(7) },
    encodeGroupContent({ from: "alice", group: "team", text: "forged" }),
  );
  deliver(forged.message);
  deliver(await seal("third genuine"));

  await bob.waitFor(
    /\[Receive group team message from alice\]: third genuine/,
  );
  // Relabelled and moved copies wait for keys that never come (10 s).
  deliver(first, "carol");
  deliver(first, "alice", "other");
  await bob.waitForStderr(/from alice in other could not be opened/, WAIT_MS);
  await bob.waitForStderr(/from carol in team could not be opened/, WAIT_MS);
  await bob.write("/quit\n");
  await bob.finish();
  const shown = bob.stdout.split("\n").filter((line) =>
    line.includes("[Receive group")
  );
  assert.deepEqual(shown, [
    "[Receive group team message from alice]: first genuine",
    "[Receive group team message from alice]: second genuine",
    "[Receive group team message from alice]: third genuine",
  ]);
  const errors = bob.stderr.split("\n").filter((line) =>
    line.startsWith("ERROR: A group message from")
  );
  assert.equal(errors.length, 5, bob.stderr);
  assert.match(errors[0]!, /from alice in team .*already read/);
  assert.match(errors[1]!, /from alice in team .*not signed/);
  assert.match(errors[2]!, /from alice in team .*not signed/);
  assert.doesNotMatch(bob.stdout, /forged/);
});
