/**
 * A group message id already in the client's archive must not get the
 * archived text shown under another sender, in another group, or for other
 * bytes: the id is the server's word. (It was: a hostile server answering
 * `/history`, or replaying the id live after a new delivery ledger, showed
 * alice's words as carol's.) The archive answers only for the same sender,
 * group and SHA-256 of the sealed message; anything else is opened, and
 * fails.
 */
import assert from "node:assert/strict";
import {
  encodeSenderKey,
  newSenderChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import {
  encodeGroupContent,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";

type Run = Awaited<ReturnType<typeof startHostileE2e>>;

/**
 * Alice gives bob her sender key for team, then says "pay 100 to mallory"
 * there; returns the message's id.
 */
async function aliceSaysInTeam({ channel, alice }: Run): Promise<number> {
  const chain = await newSenderChain();
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
  const out = await sealGroupMessage(
    chain,
    encodeGroupContent({
      from: "alice",
      group: "team",
      text: "pay 100 to mallory",
    }),
  );
  const id = alice.nextId();
  channel.send({
    t: "e2e_group",
    group: "team",
    from: "alice",
    fingerprint: alice.fingerprint,
    ts: Date.now(),
    id,
    seq: id,
  }, out.message);
  return id;
}

/**
 * Once bob refused the relabelled copy, he quits: alice's words were shown
 * once, as hers, in team, and never as carol's.
 */
async function shownOnceAsAlices(bob: Run["bob"]): Promise<void> {
  await bob.waitForStderr(
    /group message from carol in board could not be opened/,
  );
  await bob.write("/quit\n");
  await bob.finish();
  const shown = bob.stdout.split("\n").filter((l) => l.includes("pay 100"));
  assert.deepEqual(shown, [
    "[Receive group team message from alice]: pay 100 to mallory",
  ]);
}

Deno.test("an archived group message is not shown again under another sender and group", async () => {
  let archivedId = 0;
  let chan: SecureChannel | null = null;
  const markers: number[] = [];
  await using run = await startHostileE2e(
    "chat-group-archive-",
    () => [],
    (message) => {
      if (message.t !== "history") return;
      // Every client also asks for the room's newest at sign-in (no
      // target), before this test holds the channel: answered as an empty
      // room once it does, as an honest server answers in order.
      if (message.target === undefined) {
        if (chan === null) markers.push(message.id);
        else chan.send({ t: "ok", re: message.id, text: "End of history." });
        return;
      }
      if (chan === null) return;
      // The history "of board": alice's archived message, relabelled.
      chan.send({
        t: "e2e_group",
        group: "board",
        from: "carol",
        fingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ts: Date.now(),
        id: archivedId,
        seq: 1,
        history: true,
      }, new Uint8Array(200).fill(9));
      chan.send({ t: "ok", re: message.id, text: "End of history." });
    },
  );
  const { bob, channel } = run;
  chan = channel;
  for (const re of markers) {
    channel.send({ t: "ok", re, text: "End of history." });
  }
  archivedId = await aliceSaysInTeam(run);
  await bob.waitFor(/\[Receive group team message from alice\]: pay 100/);
  await bob.write("/history board\n");
  await shownOnceAsAlices(run.bob);
});

Deno.test("an archived group message replayed live after a store switch is not shown under another sender", async () => {
  await using run = await startHostileE2e("chat-group-archive-live-");
  const { bob, channel, alice } = run;
  const id = await aliceSaysInTeam(run);
  await bob.waitFor(/\[Receive group team message from alice\]: pay 100/);
  // An unsolicited welcome naming another store: a fresh delivery ledger
  // (the same happens at every restart of chat connect: it is in memory).
  channel.send({
    t: "welcome",
    re: 4242,
    name: "bob",
    text: "x",
    store: "node-1",
  });
  channel.send({
    t: "welcome",
    re: 4243,
    name: "bob",
    text: "x",
    store: "node-2",
  });
  channel.send({
    t: "e2e_group",
    group: "board",
    from: "carol",
    fingerprint: alice.fingerprint,
    ts: Date.now(),
    id,
    seq: 77,
  }, new Uint8Array(200).fill(9));
  await shownOnceAsAlices(run.bob);
});
