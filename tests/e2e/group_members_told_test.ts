/**
 * A hostile host adds a member of its own to a group (docs/PROTOCOL.md
 * 11.11): the server's `members` reply decides who is given a client's
 * sending chain, so the host, holding that member's keys, reads what follows.
 * It cannot be stopped (the host decides who is a member), but it must not
 * be silent: a real `chat connect` says whom its chain goes to, and who is
 * given it since its last message there, even when the server sent no
 * `membership` notice of the join.
 */

import assert from "node:assert/strict";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  answerBundle,
  type HostileAlice,
  HostileAlice as Peer,
  type HostileE2e,
  startHostileE2e,
} from "../_helpers/hostile_e2e.ts";

/**
 * A host for bob that hands him the bundles of `peers` and stores what he
 * seals (the names his e2e_msg go to in `secretsTo`), each answered ok and
 * numbered from 101, but for those `unanswered` keeps: taken and never
 * answered.
 */
function hostOf(
  run: () => HostileE2e,
  peers: Map<string, HostileAlice>,
  secretsTo: string[],
  unanswered: (message: ClientMessage) => boolean = () => false,
): (message: ClientMessage) => void {
  let id = 100;
  return (message) => {
    if (message.t === "e2e_bundle") {
      answerBundle(run().channel, message, peers.get(message.name)!);
    } else if (message.t === "e2e_msg" || message.t === "e2e_gsay") {
      if (message.t === "e2e_msg") secretsTo.push(message.to);
      if (unanswered(message)) return;
      id++;
      run().channel.send({ t: "ok", re: message.id, text: "", id, seq: id });
    }
  };
}

Deno.test("chat connect says which members its group chain goes to, and who gets it since its last message there, whatever membership notices the server sent", async () => {
  const peers = new Map<string, HostileAlice>();
  let members = ["bob", "alice", "mallory"];
  const secretsTo: string[] = [];
  const onOther = hostOf(() => run, peers, secretsTo);
  await using run = await startHostileE2e(
    "chat-group-members-told-",
    () => [],
    onOther,
    (group) => group === "crew" ? members : null,
  );
  const { bob, bundle } = run;
  peers.set("alice", run.alice);
  for (const name of ["mallory", "eve"]) {
    peers.set(name, await Peer.create(bundle));
  }

  // No membership notice ever came: bob's first message names them all.
  await bob.write("/group crew first\n");
  await bob.waitFor(/Group message to crew: first/);
  assert.deepEqual(secretsTo, ["alice", "mallory"], "the chain went to both");
  const firstLines = bob.stdout.split("\n");
  const told = firstLines.findIndex((line) =>
    line ===
      "Your messages to crew go end to end to alice and mallory, the members the server lists"
  );
  assert.notEqual(told, -1, bob.stdout);
  assert.ok(
    told < firstLines.indexOf("Group message to crew: first"),
    "said before the message went",
  );

  // eve slipped in unannounced: only she is named, before the message.
  members = ["bob", "alice", "mallory", "eve"];
  await bob.write("/group crew second\n");
  await bob.waitFor(/Group message to crew: second/);
  assert.deepEqual(secretsTo, ["alice", "mallory", "eve"]);
  const lines = bob.stdout.split("\n");
  const newcomer = lines.indexOf(
    "Your messages to crew now go end to end to eve too, whom the server lists as a member since your last message there",
  );
  assert.notEqual(newcomer, -1, bob.stdout);
  assert.ok(newcomer < lines.indexOf("Group message to crew: second"));

  // Nobody new: nothing more said.
  await bob.write("/group crew third\n");
  await bob.waitFor(/Group message to crew: third/);
  assert.equal(
    bob.stdout.split("\n").filter((line) => line.startsWith("Your messages"))
      .length,
    2,
    bob.stdout,
  );
  await bob.write("/quit\n");
  await bob.finish();
});

Deno.test("chat connect sends nothing, to a group or of a file, when the server answers with the members of another group than the one asked about", async () => {
  const sent: ClientMessage[] = [];
  const onOther = (message: ClientMessage) => {
    if (message.t === "e2e_bundle") {
      answerBundle(run.channel, message, run.alice);
    } else if (message.t !== "history") {
      // (history: the mark every client asks for at its sign-in, before
      // `run` is set; left unanswered, as the other tests here do.)
      sent.push(message);
      if ("id" in message) {
        run.channel.send({ t: "ok", re: message.id, text: "", id: 1, seq: 1 });
      }
    }
  };
  // Asked about crew, the server lists the members of parents.
  await using run = await startHostileE2e(
    "chat-group-members-moved-",
    () => [],
    onOther,
    () => ({ group: "parents", names: ["bob", "alice"] }),
  );
  const { bob, dir } = run;
  await bob.write("/group crew I'll bring the money\n");
  await bob.waitForStderr(
    /ERROR: Not sent: the server answered with the members of parents, not of crew/,
  );
  const file = `${dir}/plan.txt`;
  await Deno.writeTextFile(file, "the plan");
  await bob.write(`/groupfile crew ${file}\n`);
  // The same refusal again, for the file this time.
  const refusals = () =>
    bob.stderr.match(
      /ERROR: Not sent: the server answered with the members of parents, not of crew/g,
    )?.length ?? 0;
  await bob.waitUntil(
    () => refusals() === 2 ? true : null,
    "the file refused",
  );
  // Nothing went: no sender key, no message, no file key, no offer.
  await bob.write("/quit\n");
  await bob.finish();
  assert.deepEqual(sent.map((m) => m.t), [], JSON.stringify(sent));
  assert.doesNotMatch(bob.stdout, /Group message to/);
});

Deno.test("chat connect says which members a group file's key went to, whatever the server's answers name", async () => {
  const peers = new Map<string, HostileAlice>();
  const secretsTo: string[] = [];
  let offered = false;
  const onOther = (message: ClientMessage) => {
    if (message.t === "e2e_bundle") {
      answerBundle(run.channel, message, peers.get(message.name)!);
    } else if (message.t === "e2e_msg") {
      secretsTo.push(message.to);
      run.channel.send({ t: "ok", re: message.id, text: "", id: 1, seq: 1 });
    } else if (message.t === "file_offer") {
      // Left unanswered: the offer reached the server (its ping is answered).
      offered = true;
    }
  };
  await using run = await startHostileE2e(
    "chat-group-file-told-",
    () => [],
    onOther,
    (group) => group === "crew" ? ["bob", "alice", "mallory"] : null,
  );
  const { bob, bundle, dir } = run;
  peers.set("alice", run.alice);
  peers.set("mallory", await Peer.create(bundle));
  const file = `${dir}/plan.txt`;
  await Deno.writeTextFile(file, "the plan");
  await bob.write(`/groupfile crew ${file}\n`);
  await bob.waitFor(
    /The key of plan\.txt went end to end to alice and mallory, the members of crew online the server lists/,
  );
  assert.deepEqual(secretsTo, ["alice", "mallory"]);
  assert.ok(offered);
  // bob, a script, waits for the offer's answer: the run's end kills him.
});

Deno.test("chat connect says which members a group file's key and name went to when the server then refuses the offer", async () => {
  const peers = new Map<string, HostileAlice>();
  const secretsTo: string[] = [];
  const onOther = (message: ClientMessage) => {
    if (message.t === "e2e_bundle") {
      answerBundle(run.channel, message, peers.get(message.name)!);
    } else if (message.t === "e2e_msg") {
      secretsTo.push(message.to);
      run.channel.send({ t: "ok", re: message.id, text: "", id: 1, seq: 1 });
    } else if (message.t === "file_offer") {
      // The key and the name went to mallory, the host's own: the offer
      // is refused, which must not leave that unsaid.
      run.channel.send({
        t: "error",
        re: message.id,
        code: "limit",
        text: "ERROR: Too many file offers; wait a little",
      });
    }
  };
  await using run = await startHostileE2e(
    "chat-group-file-refused-told-",
    () => [],
    onOther,
    (group) => group === "crew" ? ["bob", "alice", "mallory"] : null,
  );
  const { bob, bundle, dir } = run;
  peers.set("alice", run.alice);
  peers.set("mallory", await Peer.create(bundle));
  const file = `${dir}/plan.txt`;
  await Deno.writeTextFile(file, "the plan");
  await bob.write(`/groupfile crew ${file}\n`);
  await bob.waitForStderr(/Too many file offers/);
  await bob.write("/quit\n");
  await bob.finish();
  assert.deepEqual(secretsTo, ["alice", "mallory"]);
  assert.match(
    bob.stdout,
    /The key of plan\.txt went end to end to alice and mallory, the members of crew online the server lists/,
  );
});

Deno.test("chat connect names a member whose copy of its group chain the server left unanswered: it may have gone", async () => {
  const peers = new Map<string, HostileAlice>();
  const secretsTo: string[] = [];
  // mallory's copy, sealed for the key the host holds, is taken and
  // never answered: the host reads what follows all the same.
  const onOther = hostOf(
    () => run,
    peers,
    secretsTo,
    (message) => message.t === "e2e_msg" && message.to === "mallory",
  );
  await using run = await startHostileE2e(
    "chat-group-members-unanswered-",
    () => [],
    onOther,
    (group) => group === "crew" ? ["bob", "alice", "mallory"] : null,
  );
  const { bob, bundle } = run;
  peers.set("alice", run.alice);
  peers.set("mallory", await Peer.create(bundle));
  await bob.write("/group crew first\n");
  await bob.waitFor(/Group message to crew: first/);
  assert.deepEqual(secretsTo, ["alice", "mallory"]);
  const told = bob.stdout.split("\n").filter((line) =>
    line.startsWith("Your messages to crew")
  );
  assert.deepEqual(told, [
    "Your messages to crew go end to end to alice and mallory, the members the server lists",
  ], bob.stdout);
  assert.doesNotMatch(bob.stderr, /mallory cannot read/);
  assert.match(
    bob.stderr,
    /WARNING: The server has not said within 10 seconds whether mallory got your key for crew: if it did, mallory reads your messages there/,
  );
  await bob.write("/quit\n");
  await bob.finish();
});

Deno.test("chat connect names every member the server lists since its last message in a group, however many others there are", async () => {
  const peers = new Map<string, HostileAlice>();
  const crowd = Array.from({ length: 12 }, (_, i) => `c${i}`);
  const added = Array.from({ length: 12 }, (_, i) => `n${i}`);
  let members = ["bob", "alice", ...crowd];
  const secretsTo: string[] = [];
  const onOther = hostOf(() => run, peers, secretsTo);
  await using run = await startHostileE2e(
    "chat-group-members-many-",
    () => [],
    onOther,
    (group) => group === "crew" ? members : null,
  );
  const { bob, bundle } = run;
  peers.set("alice", run.alice);
  for (const name of [...crowd, ...added]) {
    peers.set(name, await Peer.create(bundle));
  }
  // The first message in a large group may count the rest.
  await bob.write("/group crew first\n");
  await bob.waitFor(/Group message to crew: first/);
  assert.ok(
    bob.stdout.includes(
      "Your messages to crew go end to end to alice, c0, c1, c2, c3, c4, c5, c6, c7, c8 and 3 more, the members the server lists",
    ),
    bob.stdout,
  );
  // Twelve more slip in at once, the host's own among them: each is named,
  // none hidden in "and 2 more".
  members = [...members, ...added];
  await bob.write("/group crew second\n");
  await bob.waitFor(/Group message to crew: second/);
  assert.equal(secretsTo.length, 25);
  const lines = bob.stdout.split("\n");
  const newcomers = lines.indexOf(
    "Your messages to crew now go end to end to n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10 and n11 too, whom the server lists as members since your last message there",
  );
  assert.notEqual(newcomers, -1, bob.stdout);
  assert.ok(newcomers < lines.indexOf("Group message to crew: second"));
  await bob.write("/quit\n");
  await bob.finish();
});

/**
 * Bob's lines as a terminal shows them (disclosures on stdout, warnings on
 * stderr), or the texts of his `--json` events of that kind (`notice`, and
 * `error` with code `e2e` and no `re`).
 */
function shown(bob: { stdout: string; stderr: string }, json: boolean) {
  if (!json) return { notices: bob.stdout, warnings: bob.stderr };
  const events = bob.stdout.split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  const texts = (type: string) =>
    events.filter((e) =>
      e.type === type &&
      (type === "notice" || e.code === "e2e" && e.re === null)
    ).map((e) => e.text).join("\n");
  return { notices: texts("notice"), warnings: texts("error") };
}

for (const json of [false, true]) {
  Deno.test(
    `chat connect${
      json ? " --json" : ""
    } warns when the server still lists a member it told the client had left the group`,
    async () => {
      const peers = new Map<string, HostileAlice>();
      const secretsTo: string[] = [];
      const onOther = hostOf(() => run, peers, secretsTo);
      // mallory stays listed whatever the notices say.
      await using run = await startHostileE2e(
        "chat-group-members-left-",
        () => json ? ["--json"] : [],
        onOther,
        (group) => group === "crew" ? ["bob", "alice", "mallory"] : null,
      );
      const { bob, bundle } = run;
      peers.set("alice", run.alice);
      peers.set("mallory", await Peer.create(bundle));
      const sent = (text: string) =>
        json
          ? new RegExp(`"type":"sent".*"text":"${text}"`)
          : new RegExp(`Group message to crew: ${text}`);
      const membership = (name: string, joined: boolean) =>
        json
          ? new RegExp(
            `"type":"membership","group":"crew","name":"${name}","joined":${joined}`,
          )
          : new RegExp(`${name} ${joined ? "joined" : "left"} group crew`);
      await bob.write("/group crew first\n");
      await bob.waitFor(sent("first"));
      assert.deepEqual(secretsTo, ["alice", "mallory"]);
      assert.ok(
        shown(bob, json).notices.includes(
          "Your messages to crew go end to end to alice and mallory, the members the server lists",
        ),
        bob.stdout,
      );

      // The server says mallory left, yet lists her: without a word, her
      // chain was never renewed and she read on.
      run.channel.send({
        t: "membership",
        group: "crew",
        name: "mallory",
        joined: false,
      });
      await bob.waitFor(membership("mallory", false));
      await bob.write("/group crew second\n");
      await bob.waitFor(sent("second"));
      const warning =
        "WARNING: The server lists mallory as a member of crew, though this client saw mallory leave it and has seen no join since: mallory can read your messages there. If mallory did not join again (while you were away), the host is keeping them in";
      assert.ok(shown(bob, json).warnings.includes(warning), bob.stderr);

      // Said once; a leave then a join seen is no disagreement.
      run.channel.send({
        t: "membership",
        group: "crew",
        name: "alice",
        joined: false,
      });
      run.channel.send({
        t: "membership",
        group: "crew",
        name: "alice",
        joined: true,
      });
      await bob.waitFor(membership("alice", true));
      await bob.write("/group crew third\n");
      await bob.waitFor(sent("third"));
      const { warnings } = shown(bob, json);
      assert.equal(warnings.split(warning).length, 2, warnings);
      assert.doesNotMatch(warnings, /lists alice/);
      await bob.write("/quit\n");
      await bob.finish();
    },
  );
}

Deno.test("chat connect names the members a group file's key went to whom its messages there do not go to, however many others there are", async () => {
  const peers = new Map<string, HostileAlice>();
  const crowd = Array.from({ length: 12 }, (_, i) => `c${i}`);
  let members = ["bob", "alice", ...crowd];
  const secretsTo: string[] = [];
  // The offer is left unanswered: the key's line comes before.
  const onOther = hostOf(() => run, peers, secretsTo);
  await using run = await startHostileE2e(
    "chat-group-file-many-",
    () => [],
    onOther,
    (group) => group === "crew" ? members : null,
  );
  const { bob, bundle, dir } = run;
  peers.set("alice", run.alice);
  for (const name of [...crowd, "eve"]) {
    peers.set(name, await Peer.create(bundle));
  }
  await bob.write("/group crew first\n");
  await bob.waitFor(/Group message to crew: first/);
  // eve slips in, and bob sends a file before any message: she is named,
  // not one of "and 4 more".
  members = ["bob", "alice", "c0", "eve", ...crowd.slice(1)];
  const file = `${dir}/plan.txt`;
  await Deno.writeTextFile(file, "the plan");
  await bob.write(`/groupfile crew ${file}\n`);
  await bob.waitFor(
    /The key of plan\.txt went end to end to eve, a member of crew online the server lists whom your messages there do not go to, and to 13 more whom they go to/,
  );
  // bob, a script, waits for the offer's answer: the run's end kills him.
});
