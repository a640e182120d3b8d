/**
 * A hostile server against a real `chat connect` (docs/PROTOCOL.md 8,
 * "Look-alike names"; 11.7): a server written here from the protocol, not
 * ours, lets in `a1ice`, a look-alike of alice, under a key of its own (an
 * honest server refuses a name that reads like another key's), and sends bob
 * an end-to-end message from it after one from the real alice. The message
 * opens (it is a1ice's), but bob is warned that the name reads like alice's.
 * The same host sending `a1ice`'s lines in the clear, which carry no key at
 * all, gets bob warned too.
 */

import assert from "node:assert/strict";
import { HostileAlice, startHostileE2e } from "../_helpers/hostile_e2e.ts";
import { lookalikeWarning } from "../../src/client/e2e_sessions.ts";
import { plainLookalikeWarning } from "../../src/client/plain_messages.ts";

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
