/**
 * The seed's "Example Chat Session" for sophia, jojo and nana over a real
 * server and real WebSockets: what each one sees, and what each must not see.
 */

import assert from "node:assert/strict";
import { renderSent, renderServerMessage } from "../../src/client/render.ts";
import { settle, startTestServer, TestClient } from "../_helpers/chat.ts";

const plain = { color: false };

Deno.test("example session: broadcast, list, private, groups and members as the seed describes", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");

  // 1. Public message.
  const said = await sophia.client.say("Hello everyone!");
  assert.equal(said.t, "ok");
  assert.deepEqual(
    renderSent({ kind: "say", text: "Hello everyone!" }, plain),
    [
      "Broadcast message sent: Hello everyone!",
    ],
  );
  const heard = await jojo.waitFor((m) => m.message.t === "public");
  assert.deepEqual(renderServerMessage(heard.message, heard.text, plain), [
    "[Broadcast from sophia]: Hello everyone!",
  ]);

  // 2. List clients: both, in connection order, sophia with a last-message time.
  const list = await sophia.client.request({ t: "list" });
  assert.equal(list.t, "users");
  if (list.t !== "users") return;
  assert.deepEqual(list.users.map((u) => u.name), ["sophia", "jojo"]);
  assert.equal(typeof list.users[0]!.lastMessageAt, "number");
  assert.equal(list.users[1]!.lastMessageAt, null);
  // Shown by name, not in connection order.
  const shown = renderServerMessage(list, "", plain);
  assert.equal(shown[0], "*** jojo - Last Message: never ***");
  assert.match(
    shown[1]!,
    /^\*\*\* sophia - Last Message: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \*\*\*$/,
  );

  // nana arrives late: she must not see anything from before.
  const nana = await TestClient.connect(server, "nana");

  // 3. Private message: only jojo sees it.
  assert.equal((await sophia.client.msg("jojo", "How are you?")).t, "ok");
  const whisper = await jojo.waitFor((m) => m.message.t === "private");
  assert.deepEqual(renderServerMessage(whisper.message, whisper.text, plain), [
    "Private message from sophia: How are you?",
  ]);

  // 5. Groups.
  const created = await sophia.client.request({ t: "create", group: "haha" });
  assert.equal(
    created.t === "ok" && created.text,
    "SUCCESS: Group 'haha' created and joined.",
  );
  const groups = await jojo.client.request({ t: "groups" });
  assert.equal(groups.t, "groups");
  assert.deepEqual(groups.t === "groups" && groups.groups.map((g) => g.name), [
    "haha",
  ]);
  const joined = await jojo.client.request({ t: "join", group: "haha" });
  assert.equal(
    joined.t === "ok" && joined.text,
    "SUCCESS: Joined group 'haha'.",
  );
  const members = await jojo.client.request({ t: "members" });
  assert.equal(members.t, "members");
  if (members.t !== "members") return;
  // Each group's `tag` names this state of its members (PROTOCOL 5.5).
  const [haha] = members.groups;
  assert.match(haha?.tag ?? "", /^[0-9a-f]{16}$/);
  assert.deepEqual(members.groups, [{
    group: "haha",
    members: ["sophia", "jojo"],
    online: ["sophia", "jojo"],
    tag: haha?.tag,
  }]);
  assert.equal((await jojo.client.gsay("haha", "Hello there!")).t, "ok");
  const groupMessage = await sophia.waitFor((m) => m.message.t === "group");
  assert.deepEqual(
    renderServerMessage(groupMessage.message, groupMessage.text, plain),
    [
      "[Receive group haha message from jojo]: Hello there!",
    ],
  );

  // Errors with the seed's wording.
  const missing = await nana.client.request({ t: "join", group: "nanana" });
  assert.equal(
    missing.t === "error" && missing.text,
    "ERROR: Group 'nanana' does not exist.",
  );
  const exists = await nana.client.request({ t: "create", group: "haha" });
  assert.equal(
    exists.t === "error" && exists.text,
    "ERROR: Group 'haha' already exists.",
  );
  const outsider = await nana.client.gsay("haha", "let me in");
  assert.equal(outsider.t === "error" && outsider.code, "not_member");

  await settle(sophia, jojo, nana);
  // What each one saw, and nothing more.
  assert.deepEqual(sophia.chat(), [["group:haha", "jojo", "Hello there!"]]);
  assert.deepEqual(jojo.chat(), [
    ["public", "sophia", "Hello everyone!"],
    ["private", "sophia", "How are you?"],
  ]);
  assert.deepEqual(
    nana.chat(),
    [],
    "nana joined after the broadcast and is in no group",
  );

  // nana joins: from now on she gets group messages too, and the sender does not echo to herself.
  await nana.client.request({ t: "join", group: "haha" });
  await sophia.client.gsay("haha", "welcome nana");
  await settle(sophia, jojo, nana);
  assert.deepEqual(nana.chat(), [["group:haha", "sophia", "welcome nana"]]);
  assert.deepEqual(jojo.chat().at(-1), [
    "group:haha",
    "sophia",
    "welcome nana",
  ]);
  assert.equal(
    sophia.chat().filter(([, , text]) => text === "welcome nana").length,
    0,
  );

  await Promise.all([sophia.quit(), jojo.quit(), nana.quit()]);
});

Deno.test("presence: others hear who joins and leaves; names are unique ignoring case", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  await sophia.waitFor((m) =>
    m.message.t === "presence" && m.message.name === "jojo" && m.message.online
  );

  const { ChatClient } = await import("../../src/client/chat_client.ts");
  const impostor = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const taken = await impostor.register("JOJO");
  // Another identity key cannot have jojo's name, online or not.
  assert.equal(taken.t === "error" && taken.code, "identity");
  const invalid = await impostor.register("bad\u001b[31mname");
  assert.equal(invalid.t === "error" && invalid.code, "invalid_name");
  await impostor.quit();

  await jojo.quit();
  await sophia.waitFor((m) =>
    m.message.t === "presence" && m.message.name === "jojo" && !m.message.online
  );
  await sophia.quit();
});
