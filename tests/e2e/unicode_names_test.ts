/**
 * The look-alike rule (name_skeleton.ts) folds only ASCII, and holds
 * because names are ASCII (limits.ts NAME_PATTERN): a Cyrillic 'о', a
 * fullwidth letter, a zero-width joiner, a combining mark or a
 * right-to-left override never makes a name, at any request that takes
 * one, so no Unicode spelling of 'bob' or 'team' reaches anyone.
 */

import assert from "node:assert/strict";
import { isValidName } from "../../src/protocol/limits.ts";
import { ChatClient, type Reply } from "../../src/client/chat_client.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

/** 'bob' and 'team' as they could be made to look, none of them ASCII. */
const BOBS = [
  "b\u043eb", // Cyrillic о
  "\uff42\uff4f\uff42", // fullwidth ｂｏｂ
  "b\u200dob", // zero-width joiner
  "bo\u0301b", // combining acute
  "\u202ebob", // right-to-left override
  "bob\u200b", // zero-width space
  "bob\n", // a regular expression's $ before a final newline
];
const TEAMS = ["t\u0435am", "te\u0430m", "\u0442eam", "team\u00ad"];

Deno.test("isValidName refuses every Unicode look-alike of an ASCII name", () => {
  for (const name of [...BOBS, ...TEAMS]) {
    assert.equal(isValidName(name), false, JSON.stringify(name));
  }
});

Deno.test("startServer takes no Unicode look-alike of bob or team as a name: register, create, join, msg, file offer and history all refuse it", async () => {
  // A history request per spelling: more than the default burst.
  await using server = await startTestServer({
    connectionLimits: { historyPerSecond: 0, historyPerSecondPerAddress: 0 },
  });
  const bob = await TestClient.connect(server, "bob");
  const alice = await TestClient.connect(server, "alice");
  assert.equal(
    (await bob.client.request({ t: "create", group: "team" })).t,
    "ok",
  );
  const code = (reply: Reply) => reply.t === "error" ? reply.code : reply.t;
  const hi = new TextEncoder().encode("hi");
  for (const name of BOBS) {
    const shown = JSON.stringify(name);
    const { client } = alice;
    assert.equal(
      code(await client.request({ t: "msg", to: name }, hi)),
      "no_such_user",
      shown,
    );
    assert.equal(
      code(
        await client.request({ t: "file_offer", name: "a", size: 1, to: name }),
      ),
      "no_such_user",
      shown,
    );
    assert.equal(
      code(await client.request({ t: "history", target: name })),
      "no_such_user",
      shown,
    );
    assert.equal(
      code(await client.request({ t: "create", group: name })),
      "invalid_name",
      shown,
    );
    const mallory = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    assert.equal(code(await mallory.register(name)), "invalid_name", shown);
    await mallory.quit();
  }
  for (const group of TEAMS) {
    const shown = JSON.stringify(group);
    const { client } = alice;
    assert.equal(
      code(await client.request({ t: "join", group })),
      "no_such_group",
      shown,
    );
    assert.equal(
      code(await client.request({ t: "create", group })),
      "invalid_name",
      shown,
    );
  }
  // Nothing reached bob.
  assert.deepEqual(bob.chat(), []);
  await alice.quit();
  await bob.quit();
});
