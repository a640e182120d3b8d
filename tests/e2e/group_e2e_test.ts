/**
 * Group messages end to end between real `chat connect` processes through a
 * real `chat serve` (issue 17 item 3; docs/PROTOCOL.md 11.11): shown with the
 * seed's wording, in neither the server's database nor its log; a member who
 * left does not see what follows; an offline member gets what was said while
 * away after a server restart; a new member reads on from when they joined.
 */

import assert from "node:assert/strict";
import { allBytes } from "../_helpers/all_bytes.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect sends group messages end to end: members read them, a member who left does not, an offline member gets them after a server restart, and the server keeps only ciphertext", async () => {
  await using chat = await ServedChat.start("chat-e2e-group-");
  let server = await chat.serve("--data", chat.data);
  const servers = [server];
  let [alice, bob, carol] = await chat.signIn(["alice", "bob", "carol"]);
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  await bob.write("/join team\n");
  await bob.waitFor(/Joined group 'team'/);
  await carol.write("/join team\n");
  await carol.waitFor(/Joined group 'team'/);

  await alice.write("/group team the eagle lands at dawn\n");
  await bob.waitFor(
    /\[Receive group team message from alice\]: the eagle lands at dawn/,
  );
  await carol.waitFor(
    /\[Receive group team message from alice\]: the eagle lands at dawn/,
  );
  await bob.write("/group team bring the blue kite\n");
  await alice.waitFor(
    /\[Receive group team message from bob\]: bring the blue kite/,
  );
  await carol.waitFor(
    /\[Receive group team message from bob\]: bring the blue kite/,
  );

  // Carol leaves: what follows is sealed on new chains she never gets.
  await carol.write("/leave team\n");
  await carol.waitFor(/Left group 'team'/);
  await alice.write("/group team carol must not read this\n");
  await bob.waitFor(
    /\[Receive group team message from alice\]: carol must not read this/,
  );
  await quit(carol);
  assert.doesNotMatch(carol.stdout, /carol must not read this/);

  // Bob goes offline; alice writes; the server restarts; bob comes back.
  await quit(bob);
  await alice.write("/group team while you were away\n");
  await alice.waitFor(/while you were away/);
  await quit(alice);
  server.kill("SIGTERM");
  await server.finish();
  server = await chat.serve("--data", chat.data);
  servers.push(server);
  const bob2 = chat.connect("bob");
  await bob2.waitFor(
    /\[Receive group team message from alice\]: while you were away/,
  );
  // A newcomer reads on from when they joined, not before.
  [carol] = await chat.signIn(["dave"]);
  await carol.write("/join team\n");
  await carol.waitFor(/Joined group 'team'/);
  await bob2.write("/group team welcome dave\n");
  await carol.waitFor(
    /\[Receive group team message from bob\]: welcome dave/,
  );
  await carol.write("/history team\n");
  await carol.waitFor(/End of history for group 'team' \(1 message\)/);
  await quit(carol);
  await quit(bob2);
  assert.doesNotMatch(carol.stdout, /eagle|blue kite|while you were away/);

  server.kill("SIGTERM");
  await server.finish();
  const stored = await allBytes(chat.data);
  const log = servers.map((p) => p.stdout + p.stderr).join("");
  assert.ok(stored.length > 0);
  for (
    const secret of [
      "eagle lands",
      "blue kite",
      "must not read",
      "were away",
      "welcome dave",
    ]
  ) {
    assert.ok(!stored.includes(secret), `the database holds '${secret}'`);
    assert.ok(!log.includes(secret), `the log holds '${secret}'`);
  }
  for (const p of [alice, bob, bob2]) {
    assert.doesNotMatch(p.stdout + p.stderr, /host of the server can read/);
  }
});

Deno.test("chat connect's /history counts the lines it shows: a group's sender key in a private conversation is stored, and not counted", async () => {
  await using chat = await ServedChat.start("chat-e2e-group-history-");
  await chat.serve("--data", chat.data);
  const [alice, bob] = await chat.signIn(["alice", "bob"]);
  await alice.write("/msg bob hello bob\n");
  await bob.waitFor(/Private message from alice: hello bob/);
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  await bob.write("/join team\n");
  await bob.waitFor(/Joined group 'team'/);
  // Alice's sender key for the group goes to bob end to end, stored in
  // their private conversation, before her first message.
  await alice.write("/group team hi team\n");
  await bob.waitFor(/\[Receive group team message from alice\]: hi team/);

  await bob.write("/history alice 5\n");
  await bob.waitFor(/End of history for your conversation with alice/);
  const from = bob.stdout.lastIndexOf("hello bob");
  const shown = bob.stdout.slice(bob.stdout.lastIndexOf("\n", from));
  assert.match(
    shown,
    /\n\[history [^\]]*\] Private message from alice: hello bob\nEnd of history for your conversation with alice \(1 message\)\.\n/,
  );
  await bob.write("/history team\n");
  await bob.waitFor(/End of history for group 'team' \(1 message\)\./);
  await quit(alice);
  await quit(bob);
});

Deno.test("chat connect's /history shows one's own private messages as their sending did ('Private message to bob: ...'), not 'from alice to bob'", async () => {
  await using chat = await ServedChat.start("chat-e2e-own-history-");
  await chat.serve();
  const [alice, bob] = await chat.signIn(["alice", "bob"]);
  await alice.write("/msg bob hello bob\n");
  await alice.waitFor(/Private message to bob: hello bob\n/);
  await alice.write("/msg bob /me waves\n");
  await alice.waitFor(/Private action to bob: \* alice waves\n/);
  await bob.waitFor(/Private: \* alice waves/);

  await alice.write("/history bob\n");
  await alice.waitFor(/End of history for your conversation with bob/);
  const shown = alice.stdout.slice(alice.stdout.indexOf("alice waves\n") + 12);
  assert.match(
    shown,
    /^\[history [^\]]*\] Private message to bob: hello bob\n\[history [^\]]*\] Private action to bob: \* alice waves\nEnd of history/,
  );
  // The recipient's history of it reads as before.
  await bob.write("/history alice\n");
  await bob.waitFor(/\[history [^\]]*\] Private: \* alice waves\n/);
  await quit(alice);
  await quit(bob);
});

Deno.test("chat connect reads a group member's messages again after /unignore: their chain came while they were ignored", async () => {
  await using chat = await ServedChat.start("chat-e2e-group-ignore-");
  await chat.serve();
  const [alice, bob] = await chat.signIn(["alice", "bob"]);
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  await bob.write("/join team\n");
  await bob.waitFor(/Joined group 'team'/);
  await bob.write("/ignore alice\n");
  await bob.waitFor(/Ignoring alice/);
  await alice.write("/group team you do not hear this\n");
  await alice.waitFor(/you do not hear this/);
  await bob.write("/group team marker\n");
  await alice.waitFor(/\[Receive group team message from bob\]: marker/);
  await bob.write("/unignore alice\n");
  await bob.waitFor(/alice's messages are shown again/);
  await alice.write("/group team heard again\n");
  await bob.waitFor(
    /\[Receive group team message from alice\]: heard again/,
  );
  assert.doesNotMatch(bob.stdout, /you do not hear this/);
  await quit(alice);
  await quit(bob);
});
