/**
 * People and groups share one namespace for new names, over a real server and
 * real sockets: a group cannot be named like a user, nor a new user like a
 * group, so `/history bob` always means the user bob.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("a server refuses /create of a user's name or a look-alike, and a new user named like a group; /create team works", async () => {
  await using server = await startTestServer();
  const bob = await TestClient.connect(server, "bob", await testIdentity());
  const alice = await TestClient.connect(server, "alice", await testIdentity());
  try {
    const same = await alice.client.request({ t: "create", group: "bob" });
    assert.equal(same.t === "error" && same.code, "name_taken");
    assert.equal(
      same.t === "error" && same.text,
      "ERROR: 'bob' is a user's name; choose another name for the group",
    );
    const lookalike = await alice.client.request({
      t: "create",
      group: "b0b",
    });
    assert.equal(lookalike.t === "error" && lookalike.code, "name_taken");
    assert.equal(
      lookalike.t === "error" && lookalike.text,
      "ERROR: 'b0b' looks like 'bob', a user's name; choose another name for the group",
    );
    // Not even for themselves: alice's group would shadow her to others.
    const own = await alice.client.request({ t: "create", group: "alice" });
    assert.equal(own.t === "error" && own.code, "name_taken");
    const team = await alice.client.request({ t: "create", group: "team" });
    assert.equal(
      team.t === "ok" && team.text,
      "SUCCESS: Group 'team' created and joined.",
    );
    const groups = await bob.client.request({ t: "groups" });
    assert.deepEqual(
      groups.t === "groups" && groups.groups.map((group) => group.name),
      ["team"],
    );
  } finally {
    await alice.quit();
    await bob.quit();
  }

  // A new user may not take the group's name, or one like it.
  const newcomer = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const key = await testIdentity();
    assert.deepEqual(await newcomer.register("team", key), {
      t: "error",
      re: 1,
      code: "group_exists",
      text: "ERROR: 'team' is the name of a group; choose another name",
    });
    const tearn = await newcomer.register("tearn", key);
    assert.equal(
      tearn.t === "error" && tearn.text,
      "ERROR: 'tearn' looks like 'team', the name of a group; choose another name",
    );
    assert.equal((await newcomer.register("teamster", key)).t, "welcome");
  } finally {
    await newcomer.quit();
  }
});
