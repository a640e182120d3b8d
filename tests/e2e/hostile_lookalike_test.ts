/**
 * A hostile server against a real `chat connect` (docs/PROTOCOL.md 8,
 * "Look-alike names"; 11.7): a server written here from the protocol, not
 * ours, lets in `a1ice`, a look-alike of alice, under a key of its own (an
 * honest server refuses a name that reads like another key's), and sends bob
 * an end-to-end message from it after one from the real alice. The message
 * opens (it is a1ice's), but bob is warned that the name reads like alice's.
 * The same host sending `a1ice`'s lines in the clear, which carry no key at
 * all, gets bob warned too. So does a group the host makes up, `tearn`,
 * beside `team`, which bob knows end to end.
 */

import assert from "node:assert/strict";
import { HostileAlice, startHostileE2e } from "../_helpers/hostile_e2e.ts";
import { lookalikeWarning } from "../../src/client/e2e_sessions.ts";
import { plainLookalikeWarning } from "../../src/client/plain_messages.ts";
import { lookalikeGroupWarning } from "../../src/client/lookalike_groups.ts";
import {
  encodeGroupContent,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import {
  encodeSenderKey,
  newSenderChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";

Deno.test("chat connect warns when a hostile server sends a message from a name that reads like one it knows by another key", async () => {
  await using run = await startHostileE2e("chat-e2e-lookalike-");
  const { bob, channel, alice } = run;
  alice.deliver(channel, await alice.sealText("hello from the real alice"));
  await bob.waitFor(/Private message from alice: hello from the real alice/);

  // The host's own key under a name that reads like alice's.
  const fake = await HostileAlice.create({ ...run.bundle, oneTime: [] });
  fake.skipTo(100);
  const envelope = await fake.seal({
    type: "text",
    from: "a1ice",
    to: "bob",
    text: "new laptop, it's me: send me the exam",
  });
  fake.deliver(channel, envelope, "a1ice");
  await bob.waitFor(
    /Private message from a1ice: new laptop, it's me: send me the exam/,
  );
  // A name bob has not met, which does not read like anyone's, is no warning.
  const carol = await HostileAlice.create({ ...run.bundle, oneTime: [] });
  carol.skipTo(200);
  carol.deliver(
    channel,
    await carol.seal({ type: "text", from: "carol", to: "bob", text: "hi" }),
    "carol",
  );
  await bob.waitFor(/Private message from carol: hi/);
  await bob.write("/quit\n");
  await bob.finish();
  const said = bob.stdout + bob.stderr;
  assert.ok(said.includes(lookalikeWarning("a1ice", "alice")), said);
  assert.equal(said.split("looks like").length - 1, 1, said);
});

Deno.test("chat connect warns when a hostile server sends a plain private or group message from a name that reads like one it knows by a key", async () => {
  await using run = await startHostileE2e("chat-plain-lookalike-");
  const { bob, channel, alice } = run;
  alice.deliver(channel, await alice.sealText("hello from the real alice"));
  await bob.waitFor(/Private message from alice: hello from the real alice/);
  const plain = (
    fields:
      | { t: "private"; from: string }
      | { t: "group"; group: string; from: string },
    text: string,
  ) => {
    const id = alice.nextId();
    channel.send(
      { ...fields, ts: Date.now(), id, seq: id },
      new TextEncoder().encode(text),
    );
  };
  // No key at all: a plain message from a name bob never met by a key.
  plain({ t: "private", from: "a1ice" }, "new laptop, it's me: the exam?");
  await bob.waitFor(
    /Private message from a1ice: new laptop, it's me: the exam\?/,
  );
  plain({ t: "group", group: "team", from: "a1ice" }, "as I said in private");
  await bob.waitFor(
    /\[Receive group team message from a1ice\]: as I said in private/,
  );
  plain({ t: "group", group: "team", from: "rnallory" }, "hi all");
  plain({ t: "private", from: "carol" }, "hi bob");
  await bob.waitFor(/Private message from carol: hi bob/);
  await bob.write("/quit\n");
  await bob.finish();
  // Said once for a1ice; nothing for carol, nor for rnallory, who reads like
  // nobody bob knows by a key.
  assert.deepEqual(
    bob.stderr.split("\n").filter((line) => line.includes("looks like")),
    [plainLookalikeWarning("a1ice", "alice")],
    bob.stderr,
  );
});

/**
 * A member `peer` (under `name`) of `group` as its own client would be:
 * gives bob its chain end to end, then seals each line on it, delivered as
 * an `e2e_group`.
 */
async function groupMember(
  channel: SecureChannel,
  peer: HostileAlice,
  name: string,
  group: string,
): Promise<(text: string) => Promise<void>> {
  let chain = await newSenderChain();
  peer.deliver(
    channel,
    await peer.seal({
      type: "secret",
      from: name,
      to: "bob",
      label: SENDER_KEY_LABEL_PREFIX + group,
      secret: encodeSenderKey(chain),
    }),
    name,
  );
  return async (text) => {
    const out = await sealGroupMessage(
      chain,
      encodeGroupContent({ from: name, group, text }),
    );
    chain = out.chain;
    const id = peer.nextId();
    channel.send({
      t: "e2e_group",
      group,
      from: name,
      fingerprint: peer.fingerprint,
      ts: Date.now(),
      id,
      seq: id,
    }, out.message);
  };
}

Deno.test("chat connect warns before the first line of a group whose name reads like one it knows end to end, which a hostile server made up", async () => {
  await using run = await startHostileE2e("chat-lookalike-group-");
  const { bob, channel, alice } = run;
  const inTeam = await groupMember(channel, alice, "alice", "team");
  await inTeam("hello team");
  await bob.waitFor(/\[Receive group team message from alice\]: hello team/);

  // The host's own person, in a group of its own named like team.
  const eve = await HostileAlice.create({ ...run.bundle, oneTime: [] });
  eve.skipTo(100);
  const inTearn = await groupMember(channel, eve, "eve", "tearn");
  await inTearn("the exam moved to 8am, send me your answers");
  await bob.waitFor(
    /\[Receive group tearn message from eve\]: the exam moved to 8am/,
  );
  // Its lines after that, plain ones too, and team's: said once.
  const plain = (group: string, from: string, text: string) => {
    const id = eve.nextId();
    channel.send(
      { t: "group", group, from, ts: Date.now(), id, seq: id },
      new TextEncoder().encode(text),
    );
  };
  plain("tearn", "eve", "plain in tearn");
  await bob.waitFor(/\[Receive group tearn message from eve\]: plain in tearn/);
  await inTeam("still team");
  await bob.waitFor(/\[Receive group team message from alice\]: still team/);
  // A name that reads like no group bob knows: no warning.
  plain("teams", "carol", "hi");
  await bob.waitFor(/\[Receive group teams message from carol\]: hi/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.deepEqual(
    bob.stderr.split("\n").filter((line) => line.includes("looks like")),
    [lookalikeGroupWarning("tearn", "team")],
    bob.stderr,
  );
});

Deno.test("chat connect warns before its first line to a group whose name reads like one it knows end to end", async () => {
  let chan: SecureChannel | null = null;
  await using run = await startHostileE2e(
    "chat-lookalike-group-send-",
    () => [],
    (message) => {
      if (message.t === "e2e_gsay") {
        chan?.send({ t: "ok", re: message.id, text: "" });
      }
    },
    // bob alone in the host's tearn: nobody to give a chain to.
    (group) => group === "tearn" ? ["bob"] : null,
  );
  const { bob, channel, alice } = run;
  chan = channel;
  const inTeam = await groupMember(channel, alice, "alice", "team");
  await inTeam("hello team");
  await bob.waitFor(/\[Receive group team message from alice\]: hello team/);
  await bob.write("/group tearn my answers: 1b 2c\n/group tearn and 3a\n");
  await bob.waitFor(/Group message to tearn: and 3a/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.deepEqual(
    bob.stderr.split("\n").filter((line) => line.includes("looks like")),
    [lookalikeGroupWarning("tearn", "team")],
    bob.stderr,
  );
});
