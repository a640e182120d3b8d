/**
 * A hostile server against a real `chat connect` (issue 17; docs/PROTOCOL.md
 * 11.7): a server written here from the protocol, not ours, that signs the
 * client in, takes its published keys, and then delivers Alice's genuine
 * end-to-end messages along with altered, replayed and relabelled copies.
 * Only the genuine ones may be shown as messages; every other one is an
 * error on stderr. Then it swaps alice's published keys for a key of its own
 * (Mallory's), both ways: bob is warned loudly, sends nothing sealed for that
 * key and shows nothing written under it. Nor does it show a plain,
 * unencrypted private message the server passes off as alice's once her key
 * is known.
 */

import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import assert from "node:assert/strict";
import { encodeBundle } from "../../src/crypto/prekeys.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { until } from "../_helpers/bystanders.ts";
import { HostileAlice, startHostileE2e } from "../_helpers/hostile_e2e.ts";

Deno.test("chat connect shows a hostile server's altered, replayed and relabelled end-to-end messages as errors, never as messages", async () => {
  await using run = await startHostileE2e("chat-e2e-hostile-");
  const { bob, channel, alice } = run;

  const first = await alice.sealText("first genuine");
  alice.deliver(channel, first, "carol"); // Alice's message, relabelled as carol's
  alice.deliver(channel, first); // genuine
  alice.deliver(channel, first); // replayed under a new id
  const second = await alice.sealText("second genuine");
  const altered = second.slice();
  altered[altered.length - 5]! ^= 0x40;
  alice.deliver(channel, altered);
  alice.deliver(channel, second);
  alice.deliver(channel, await alice.sealText("third genuine"));

  await bob.waitFor(/Private message from alice: third genuine/);
  await bob.write("/quit\n");
  await bob.finish();
  const shown = bob.stdout.split("\n").filter((line) =>
    line.includes("Private message")
  );
  assert.deepEqual(shown, [
    "Private message from alice: first genuine",
    "Private message from alice: second genuine",
    "Private message from alice: third genuine",
  ]);
  const errors = bob.stderr.split("\n").filter((line) =>
    line.startsWith("ERROR: A private message from")
  );
  // (A name that breaks the naming rule ends the connection instead:
  // hostile_server_text_test.ts.)
  assert.equal(errors.length, 3, bob.stderr);
  assert.match(
    errors[0]!,
    /from carol could not be opened.*written by alice/,
  );
  assert.match(errors[1]!, /from alice could not be opened/);
  assert.match(errors[2]!, /from alice could not be opened/);
  assert.ok(!bob.stderr.includes("\x1b"), "an escape reached the terminal");
});

Deno.test("chat connect warns of a published key a hostile server swapped, seals nothing for it and shows nothing written under it", async () => {
  const sent: ClientMessage[] = [];
  const handlers: ((message: ClientMessage) => void)[] = [];
  await using run = await startHostileE2e(
    "chat-e2e-hostile-swap-",
    () => [],
    (message) => {
      sent.push(message);
      for (const handle of handlers) handle(message);
    },
  );
  const { bob, channel, alice } = run;
  // bob meets alice: her key is the one he trusts from now on.
  alice.deliver(channel, await alice.sealText("hello from the real alice"));
  await bob.waitFor(/Private message from alice: hello from the real alice/);

  // The server claims alice's name is now bound to Mallory's key, and hands
  // out Mallory's bundle under her name.
  const mallory = await HostileAlice.create(run.bundle);
  mallory.skipTo(100);
  handlers.push((message) => {
    if (message.t === "e2e_msg") {
      channel.send({
        t: "error",
        re: message.id,
        code: "identity",
        text:
          `ERROR: alice's identity key is not the one this message is sealed for: it is now ${mallory.fingerprint}`,
      });
    } else if (message.t === "e2e_bundle") {
      channel.send(
        {
          t: "e2e_bundle",
          re: message.id,
          name: "alice",
          fingerprint: mallory.fingerprint,
        },
        new TextEncoder().encode(JSON.stringify(encodeBundle(mallory.bundle))),
      );
    }
  });
  await bob.write("/msg alice the vault code is 0451\n");
  await bob.waitForStderr(/WARNING: alice's identity key has changed!/);
  await bob.waitForStderr(
    /ERROR: Not sent yet: alice's identity key has changed/,
  );
  // Sealed once, for the key bob trusts; never again for Mallory's.
  await until(
    () => sent.some((m) => m.t === "e2e_bundle"),
    "bob's fetch of alice's bundle",
  );
  assert.equal(sent.filter((m) => m.t === "e2e_msg").length, 1);

  // Mallory writes as alice: held for /trust, never shown (as is, until
  // bob decides, what comes from alice meanwhile).
  mallory.deliver(channel, await mallory.sealText("I am alice, trust me"));
  await bob.waitFor(
    /A private message from alice waits until you accept their new key \(\/trust alice\)/,
  );
  await bob.write("/quit\n");
  await bob.finish();
  assert.doesNotMatch(bob.stdout + bob.stderr, /trust me/);
  assert.equal(sent.filter((m) => m.t === "e2e_msg").length, 1);
});

Deno.test("chat connect refuses a plain private message a hostile server passes off as alice's, or as one bob sent her, once alice is known to use end-to-end keys", async () => {
  // Every client asks for the room's newest at sign-in (a history request
  // of 1, no target): answered as an empty room, as an honest server answers
  // in order (left unanswered, the history lines below would be taken for
  // its answer).
  let chan: SecureChannel | null = null;
  const markers: number[] = [];
  await using run = await startHostileE2e(
    "chat-e2e-hostile-plain-",
    () => [],
    (message) => {
      if (message.t !== "history" || message.target !== undefined) return;
      if (chan === null) markers.push(message.id);
      else chan.send({ t: "ok", re: message.id, text: "End of history." });
    },
  );
  const { bob, channel, alice } = run;
  chan = channel;
  for (const re of markers) {
    channel.send({ t: "ok", re, text: "End of history." });
  }
  const plain = (
    text: string,
    fields: { from: string; to?: string; history?: true },
  ) => {
    const id = alice.nextId();
    channel.send(
      { t: "private", ts: Date.now(), id, seq: id, ...fields },
      new TextEncoder().encode(text),
    );
  };
  // Before carol is known to have keys, a plain message from her is shown:
  // the server could claim she has none (README, Security).
  plain("plain from carol", { from: "carol" });
  alice.deliver(channel, await alice.sealText("first genuine"));
  await bob.waitFor(/Private message from alice: first genuine/);
  plain("forged live", { from: "alice" });
  plain("forged history", { from: "alice", history: true });
  plain("forged as bob's", { from: "bob", to: "alice", history: true });
  // A conversation of two others, which no honest server sends bob: alice's
  // name on the host's words, whoever carol is.
  plain("forged to carol", { from: "alice", to: "carol", history: true });
  plain("FROM ALICE", { from: "ALICE" });
  alice.deliver(channel, await alice.sealText("second genuine"));
  await bob.waitFor(/Private message from alice: second genuine/);
  await bob.write("/quit\n");
  await bob.finish();
  const shown = bob.stdout.split("\n").filter((line) =>
    line.includes("Private message")
  );
  assert.deepEqual(shown, [
    "Private message from carol: plain from carol",
    "Private message from alice: first genuine",
    "Private message from alice: second genuine",
  ]);
  const refused = bob.stderr.split("\n").filter((line) =>
    / came without end-to-end encryption, though alice uses end-to-end keys/i
      .test(line)
  );
  assert.equal(refused.length, 5, bob.stderr);
  assert.match(
    bob.stderr,
    /ERROR: A private message from alice to carol \(sent [^)]*\) came without end-to-end encryption, though alice uses end-to-end keys: the server may have written it, and it is not shown\n/,
  );
  assert.doesNotMatch(bob.stdout, /forged|FROM ALICE/);
});

Deno.test("chat connect with end-to-end keys refuses a plain note to oneself and warns of a plain group line under its own name, which history words as sent: the host's words would pass for the user's own", async () => {
  let chan: SecureChannel | null = null;
  const markers: number[] = [];
  await using run = await startHostileE2e(
    "chat-e2e-hostile-plain-self-",
    () => [],
    (message) => {
      if (message.t !== "history" || message.target !== undefined) return;
      if (chan === null) markers.push(message.id);
      else chan.send({ t: "ok", re: message.id, text: "End of history." });
    },
  );
  const { bob, channel, alice } = run;
  chan = channel;
  for (const re of markers) {
    channel.send({ t: "ok", re, text: "End of history." });
  }
  const send = (
    fields:
      | { t: "private"; from: string; to?: string }
      | { t: "group"; group: string; from: string },
    text: string,
  ) => {
    const id = alice.nextId();
    channel.send(
      { ...fields, ts: Date.now(), id, seq: id, history: true },
      new TextEncoder().encode(text),
    );
  };
  send({ t: "private", from: "bob" }, "forged note");
  send({ t: "group", group: "team", from: "bob" }, "forged group line");
  send({ t: "group", group: "team", from: "BOB" }, "second group line");
  alice.deliver(channel, await alice.sealText("genuine"));
  await bob.waitFor(/Private message from alice: genuine/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.doesNotMatch(bob.stdout, /forged note/);
  assert.match(
    bob.stderr,
    /ERROR: A private message from you to yourself \(sent [^)]*\) came without end-to-end encryption, though you use end-to-end keys: the server may have written it, and it is not shown\. If you did send it, it went from a client without your end-to-end keys/,
  );
  // Shown as bob's own, as his client may have sent it in the clear (to a
  // group with a member without keys), and said once to be forgeable.
  assert.match(bob.stdout, /Group message to team: forged group line/);
  assert.equal(
    bob.stderr.match(
      /WARNING: That message from bob in team came without end-to-end encryption/g,
    )?.length,
    1,
    bob.stderr,
  );
});

Deno.test("chat connect whose keys the server refused shows its own note to itself, which went in the clear, and warns of nothing under its own name", async () => {
  let chan: SecureChannel | null = null;
  let nextId = 0;
  await using run = await startHostileE2e(
    "chat-e2e-refused-keys-self-",
    () => [],
    (message, body) => {
      const channel = chan;
      if (channel === null) return;
      if (message.t === "e2e_bundle") {
        // No keys for bob: the server never took them.
        channel.send({
          t: "error",
          re: message.id,
          code: "no_keys",
          text: `ERROR: ${message.name} has not published end-to-end keys`,
        });
      } else if (message.t === "msg" && message.to === "bob") {
        // As our server does: the answer, and the note delivered to bob.
        const id = ++nextId;
        channel.send({ t: "ok", re: message.id, text: "", id, seq: id });
        channel.send(
          { t: "private", from: "bob", ts: Date.now(), id, seq: id },
          body,
        );
      }
    },
    undefined,
    { refusePublish: true },
  );
  const { bob, channel } = run;
  chan = channel;
  await bob.waitFor(
    /End-to-end keys not published: .*This test server takes no keys/,
  );
  await bob.write("/msg bob a note to self\n");
  await bob.waitFor(/Private message to bob: a note to self/);
  await bob.waitFor(/Private message from bob: a note to self/);
  // A group line of bob's in the clear (he has no keys the server knows).
  const id = ++nextId;
  channel.send(
    {
      t: "group",
      group: "team",
      from: "bob",
      ts: Date.now(),
      id,
      seq: id,
      history: true,
    },
    new TextEncoder().encode("my group line"),
  );
  await bob.waitFor(/Group message to team: my group line/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.doesNotMatch(
    bob.stderr,
    /from you to yourself|That message from bob/,
    bob.stderr,
  );
});

Deno.test("chat connect whose bundle the server took but whose one-time keys it refused still refuses a plain note to itself", async () => {
  // The server holds bob's bundle (the first, empty publish was taken), so
  // his notes to himself go end to end: a refused top-up after it must not
  // let a plain one, which only the host could have written, pass for his.
  let chan: SecureChannel | null = null;
  await using run = await startHostileE2e(
    "chat-e2e-one-time-refused-self-",
    () => [],
    () => {},
    undefined,
    { refusePublish: "one_time" },
  );
  const { bob, channel } = run;
  chan = channel;
  await bob.waitFor(
    /End-to-end keys not published: .*This test server takes no keys/,
  );
  chan.send(
    { t: "private", from: "bob", ts: Date.now(), id: 1, seq: 1 },
    new TextEncoder().encode("forged note"),
  );
  // Shown or refused, whichever it comes to.
  await bob.waitUntil(
    () =>
      /forged note/.test(bob.stdout) || /from you to yourself/.test(bob.stderr),
    "the forged note shown or refused",
  );
  await bob.write("/quit\n");
  await bob.finish();
  assert.doesNotMatch(bob.stdout, /forged note/);
  assert.match(bob.stderr, /A private message from you to yourself/);
});

Deno.test("chat connect warns that a plain group message from a member known to use end-to-end keys may be the server's", async () => {
  await using run = await startHostileE2e("chat-e2e-hostile-plain-group-");
  const { bob, channel, alice } = run;
  const plainGroup = (text: string, from: string) => {
    const id = alice.nextId();
    channel.send(
      { t: "group", group: "team", from, ts: Date.now(), id, seq: id },
      new TextEncoder().encode(text),
    );
  };
  // Before carol is known to have keys: shown as it is.
  plainGroup("plain from carol", "carol");
  alice.deliver(channel, await alice.sealText("hello bob"));
  await bob.waitFor(/Private message from alice: hello bob/);
  // Her client sends one in the clear only to a group with a member without
  // keys, which bob cannot check: shown, and said to be readable and forgeable.
  plainGroup("plain from alice", "alice");
  await bob.waitForStderr(
    /WARNING: That message from alice in team came without end-to-end encryption, though alice uses end-to-end keys: the host of the server can read it, and could have written it or any plain one from alice in team after it \(said once\)/,
  );
  // The next ones are covered by it: a group with a member without keys
  // gets all its messages in the clear, and a warning after each would bury
  // the conversation.
  plainGroup("again from alice", "alice");
  await bob.waitFor(
    /\[Receive group team message from alice\]: again from alice/,
  );
  await bob.write("/quit\n");
  await bob.finish();
  assert.match(
    bob.stdout,
    /\[Receive group team message from carol\]: plain from carol/,
  );
  assert.match(
    bob.stdout,
    /\[Receive group team message from alice\]: plain from alice/,
  );
  assert.equal(bob.stderr.match(/WARNING: That message from/g)?.length, 1);
});
