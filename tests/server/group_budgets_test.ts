/**
 * A classmate with a few free accounts filling the server's groups, or
 * someone's group (account_budgets.ts): the accounts of one address create
 * and join groups together at a bounded rate, against a real server.
 */

import assert from "node:assert/strict";
import {
  TOO_MANY_GROUPS_CREATED,
  TOO_MANY_GROUPS_JOINED,
} from "../../src/server/router.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";

Deno.test("the accounts of one address create and join groups at a bounded rate together, whichever account asks", async () => {
  await using server = await startTestServer({
    // The test's clients are all on loopback, which is otherwise not held.
    connectionLimits: { limitNewNamesFromLoopback: true },
    limits: {
      groupsCreatedPerHourPerAddress: 2,
      groupsJoinedPerHourPerAddress: 3,
    },
  });
  const accounts = await Promise.all(
    ["m1", "m2", "m3"].map(async (name) =>
      await TestClient.connect(server, name, await testIdentity())
    ),
  );
  try {
    const [m1, m2, m3] = accounts.map(({ client }) => client) as [
      TestClient["client"],
      TestClient["client"],
      TestClient["client"],
    ];
    const create = (client: typeof m1, group: string) =>
      client.request({ t: "create", group });
    const join = (client: typeof m1, group: string) =>
      client.request({ t: "join", group });
    assert.equal((await create(m1, "g1")).t, "ok");
    assert.equal((await create(m2, "g2")).t, "ok");
    // A third account of the same address: the address's two are spent.
    const refused = await create(m3, "g3");
    assert.deepEqual(
      refused.t === "error" ? [refused.code, refused.text] : refused,
      ["limit", TOO_MANY_GROUPS_CREATED],
    );
    const groups = await m3.request({ t: "groups" });
    assert.deepEqual(
      groups.t === "groups" ? groups.groups.map(({ name }) => name) : groups,
      ["g1", "g2"],
    );
    assert.equal((await join(m2, "g1")).t, "ok");
    assert.equal((await join(m3, "g1")).t, "ok");
    assert.equal((await join(m3, "g2")).t, "ok");
    const full = await join(m1, "g2");
    assert.deepEqual(
      full.t === "error" ? [full.code, full.text] : full,
      ["limit", TOO_MANY_GROUPS_JOINED],
    );
    // The refused join changed nothing.
    const members = await m1.request({ t: "members", group: "g2" });
    assert.deepEqual(
      members.t === "members" ? members.groups[0]?.members : members,
      ["m2", "m3"],
    );
  } finally {
    for (const account of accounts) await account.quit();
  }
});

Deno.test("the server's own machine is not held to the group rates unless configured", async () => {
  await using server = await startTestServer({
    limits: {
      groupsCreatedPerHourPerAddress: 1,
      groupsJoinedPerHourPerAddress: 1,
    },
  });
  const amy = await TestClient.connect(server, "amy", await testIdentity());
  const bob = await TestClient.connect(server, "bob", await testIdentity());
  try {
    for (const group of ["a", "b", "c"]) {
      assert.equal((await amy.client.request({ t: "create", group })).t, "ok");
      assert.equal((await bob.client.request({ t: "join", group })).t, "ok");
    }
  } finally {
    await amy.quit();
    await bob.quit();
  }
});
