/**
 * A member who joins while a group message is on its way (between the
 * `members` reply its sender's chain was given by and the `e2e_gsay`) gets
 * the chain before the message, or the message is not stored: the server
 * refuses an `e2e_gsay` whose members tag is no longer the group's
 * (`members_changed`), and GroupSessions asks again and seals anew
 * (docs/PROTOCOL.md 11.11). Before, the newcomer was a recipient of a
 * message sealed before they had the chain: "sent before its key was given
 * to you", for good (on a cluster, a join made on another node reaches the
 * sender's node a moment later). A real server and real clients; the join
 * is made from the sender's hook after the first chain it gives.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
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
