/**
 * A hostile host lists a member of its own without end-to-end keys in a
 * group (docs/PROTOCOL.md 11.11): a real `chat connect` must not then send
 * the group's lines, or a group file's key and name, in the clear for the
 * host to read. The members with keys get them end to end, the keyless one
 * is left out and said so once; a group of keyless members only (old
 * clients) is written to in the clear as before, and said so.
 */

import assert from "node:assert/strict";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  answerBundle,
  type HostileE2e,
  startHostileE2e,
} from "../_helpers/hostile_e2e.ts";

/**
 * A host for bob that hands him alice's bundle, answers that `keyless` has
 * none (`no_keys`, as our server does), and keeps every other message bob
 * sends (and its body), each answered ok.
 */
function hostOf(
  run: () => HostileE2e,
  keyless: string,
  sent: { message: ClientMessage; body: string }[],
): (message: ClientMessage, body: Uint8Array) => void {
  let id = 100;
  return (message, body) => {
    if (message.t === "e2e_bundle") {
      if (message.name === keyless) {
        run().channel.send({
          t: "error",
          re: message.id,
          code: "no_keys",
          text: `ERROR: ${keyless} has not published end-to-end keys`,
        });
      } else answerBundle(run().channel, message, run().alice);
      return;
    }
    if (message.t === "history") return; // the sign-in mark, left unanswered
    sent.push({ message, body: new TextDecoder().decode(body) });
    if (message.t === "file_offer") return; // the run's end kills bob
    if ("id" in message) {
      id++;
      run().channel.send({ t: "ok", re: message.id, text: "", id, seq: id });
    }
  };
}

const LEFT_OUT =
  "WARNING: ghost has no end-to-end keys, so your messages to crew are not sent to them (the host could read them)";

Deno.test("chat connect sends a group's lines end to end to the members with keys, never in the clear to a keyless member the host lists, and says so once", async () => {
  const sent: { message: ClientMessage; body: string }[] = [];
  await using run = await startHostileE2e(
    "chat-group-keyless-",
    () => [],
    hostOf(() => run, "ghost", sent),
    (group) => group === "crew" ? ["bob", "alice", "ghost"] : null,
  );
  const { bob } = run;
  await bob.write("/group crew the money is under the bridge\n");
  await bob.waitFor(/Group message to crew: the money is under the bridge/);
  await bob.write("/group crew at noon\n");
  await bob.waitFor(/Group message to crew: at noon/);
  await bob.write("/quit\n");
  await bob.finish();
  const kinds = sent.map(({ message }) =>
    message.t === "e2e_msg" ? `e2e_msg ${message.to}` : message.t
  );
  assert.deepEqual(
    kinds.filter((t) => t !== "bye"),
    ["e2e_msg alice", "e2e_gsay", "e2e_gsay"],
    JSON.stringify(kinds),
  );
  for (const { body } of sent) {
    assert.doesNotMatch(body, /money|noon/, "nothing in the clear");
  }
  assert.equal(bob.stderr.split(LEFT_OUT).length - 1, 1, bob.stderr);
  assert.doesNotMatch(bob.stderr, /not end-to-end encrypted/);
});

Deno.test("chat connect gives a group file's key end to end to the members with keys, never in the offer for a keyless member the host lists", async () => {
  const sent: { message: ClientMessage; body: string }[] = [];
  await using run = await startHostileE2e(
    "chat-group-keyless-file-",
    () => [],
    hostOf(() => run, "ghost", sent),
    (group) => group === "crew" ? ["bob", "alice", "ghost"] : null,
  );
  const { bob, dir } = run;
  const file = `${dir}/plan.txt`;
  await Deno.writeTextFile(file, "the plan");
  await bob.write(`/groupfile crew ${file}\n`);
  await bob.waitUntil(
    () => sent.find(({ message }) => message.t === "file_offer") ?? null,
    "the offer",
  );
  const offer = sent.find(({ message }) => message.t === "file_offer")!
    .message as ClientMessage & { t: "file_offer" };
  assert.equal(offer.key, undefined, "no key in the clear");
  assert.notEqual(offer.name, "plan.txt", "no name in the clear");
  assert.deepEqual(
    sent.filter(({ message }) => message.t === "e2e_msg").map(({ message }) =>
      (message as { to: string }).to
    ),
    ["alice"],
  );
  await bob.waitForStderr(
    /WARNING: ghost has no end-to-end keys, so the key of plan\.txt is not sent to them/,
  );
});

Deno.test("chat connect writes to a group of keyless members only in the clear, as before, and says so", async () => {
  const sent: { message: ClientMessage; body: string }[] = [];
  await using run = await startHostileE2e(
    "chat-group-keyless-only-",
    () => [],
    hostOf(() => run, "ghost", sent),
    (group) => group === "crew" ? ["bob", "ghost"] : null,
  );
  const { bob } = run;
  await bob.write("/group crew hello\n");
  await bob.waitFor(/Group message to crew: hello/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.deepEqual(
    sent.map(({ message }) => message.t).filter((t) => t !== "bye"),
    ["gsay"],
  );
  assert.match(
    bob.stderr,
    /WARNING: ghost has not published end-to-end keys: this message to crew is not end-to-end encrypted, and the host of the server can read it/,
  );
});

Deno.test("chat connect --json sends a group's lines end to end to the members with keys, never in the clear to a keyless member the host lists, and says so in an e2e error event", async () => {
  const sent: { message: ClientMessage; body: string }[] = [];
  await using run = await startHostileE2e(
    "chat-group-keyless-json-",
    () => ["--json"],
    hostOf(() => run, "ghost", sent),
    (group) => group === "crew" ? ["bob", "alice", "ghost"] : null,
  );
  const { bob } = run;
  await bob.write("/group crew the money is under the bridge\n");
  await bob.waitFor(
    /"type":"error","re":null,"code":"e2e","text":"WARNING: ghost has no end-to-end keys, so your messages to crew are not sent to them \(the host could read them\)/,
  );
  await bob.waitUntil(
    () => sent.some(({ message }) => message.t === "e2e_gsay") ? true : null,
    "the sealed line",
  );
  await bob.write('{"cmd":"quit"}\n');
  await bob.finish();
  assert.deepEqual(
    sent.map(({ message }) => message.t).filter((t) => t !== "bye"),
    ["e2e_msg", "e2e_gsay"],
  );
  assert.doesNotMatch(bob.stdout, /not end-to-end encrypted/);
});
