/**
 * A member who joins while a group message is on its way (between the
 * `members` reply its sender's chain was given by and the `e2e_gsay`) gets
 * the chain before the message, or the message is not stored: the server
 * refuses an `e2e_gsay` whose members tag is no longer the group's
 * (`members_changed`), and GroupSessions asks again and sends it again
 * (the same bytes, its chain as before it given to the newcomer; sealed
 * anew, the others saw a message skipped, said not to have arrived)
 * (docs/PROTOCOL.md 11.11). Before, the newcomer was a recipient of a
 * message sealed before they had the chain: "sent before its key was given
 * to you", for good (on a cluster, a join made on another node reaches the
 * sender's node a moment later). A real server and real clients; the join
 * is made from the sender's hook after the first chain it gives.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { UnarrivedMessages } from "../../src/client/unarrived.ts";
import {
  join,
  type Member,
  member,
  say,
  settled,
  texts,
} from "../_helpers/group_members.ts";

Deno.test("a member who joins between the members listed and the group message is given the sender's chain before it, and opens it", async () => {
  await using server = await startTestServer();
  let dave: Member | null = null;
  let joined = false;
  const alice = await member(server, "alice", 300, async () => {
    // Right after alice gave bob her chain: dave joins now.
    if (joined || dave === null) return;
    joined = true;
    await join(dave, "team");
  });
  const bob = await member(server, "bob");
  dave = await member(server, "dave", 2000);
  await alice.client.request({ t: "create", group: "team" });
  await join(bob, "team");
  await say(alice, "team", "hello");
  assert.ok(joined, "dave never joined during the message");
  assert.deepEqual(texts(await settled(bob, 1)), ["alice@team: hello"]);
  assert.deepEqual(texts(await settled(dave, 1)), ["alice@team: hello"]);
  for (const m of [alice, bob, dave]) await m.client.quit();
});

Deno.test("a member who joins while a group message is on its way leaves no message said not to have arrived to the others", async () => {
  await using server = await startTestServer();
  let dave: Member | null = null;
  let joined = false;
  const alice = await member(server, "alice", 300, async () => {
    if (joined || dave === null) return;
    joined = true;
    await join(dave, "team");
  });
  const said: string[] = [];
  const graceMs = 10;
  const unarrived = new UnarrivedMessages({
    say: (_source, _count, line) => said.push(line),
    graceMs,
  });
  const bob = await member(server, "bob", 300, undefined, unarrived);
  dave = await member(server, "dave", 2000);
  await alice.client.request({ t: "create", group: "team" });
  await join(bob, "team");
  await say(alice, "team", "hello");
  assert.ok(joined, "dave never joined during the message");
  assert.deepEqual(texts(await settled(bob, 1)), ["alice@team: hello"]);
  assert.deepEqual(texts(await settled(dave, 1)), ["alice@team: hello"]);
  // A skipped message is said graceMs after it was seen: waited out (its
  // absence has no event to wait for).
  await new Promise((resolve) => setTimeout(resolve, graceMs * 20));
  unarrived.close();
  assert.deepEqual(said, []);
  for (const m of [alice, bob, dave]) await m.client.quit();
});
