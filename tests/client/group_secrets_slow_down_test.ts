/**
 * A group message whose sender keys the server refused with `slow_down`
 * (its message rate: the members request, a secret per member and the
 * message itself come at once) leaves every member able to read it, and no
 * hole in anyone's private chain with the sender. Each key refused went
 * again after the pause as the envelope already sealed (sealed_retries.ts,
 * with_patience.ts); before, it was left for the sender's next message,
 * sealed anew: the refused one's ratchet key skipped, said to that member as
 * a message not arrived (unarrived.ts), and the message itself, sent again
 * as sealed, had gone to them before their key. A real server with a low
 * rate and real clients.
 */

import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { UnarrivedMessages } from "../../src/client/unarrived.ts";
import { withPatience } from "../../src/client/with_patience.ts";
import { cid, member, settled, texts } from "../_helpers/group_members.ts";

Deno.test("a group message whose sender keys were refused with slow_down is read by every member, and none is told of a message not arrived", async () => {
  // Two messages a second, four at once: a first message to a group of
  // three (members, three keys, the message) runs past it.
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 2, messageBurst: 4 },
  });
  const said: string[] = [];
  const graceMs = 10;
  const unarrived = () =>
    new UnarrivedMessages({
      say: (_source, _count, line) => said.push(line),
      graceMs,
    });
  const told = [unarrived(), unarrived(), unarrived()];
  const alice = await member(server, "alice");
  const others = [
    await member(server, "bob", 2000, undefined, told[0]),
    await member(server, "carol", 2000, undefined, told[1]),
    await member(server, "dave", 2000, undefined, told[2]),
  ];
  const created = await withPatience(() =>
    alice.client.request({ t: "create", group: "team" })
  );
  assert.equal(created.t, "ok", JSON.stringify(created));
  for (const m of others) {
    const joined = await withPatience(() =>
      m.client.request({ t: "join", group: "team" })
    );
    assert.equal(joined.t, "ok", JSON.stringify(joined));
  }
  // As a typed line goes (session.ts): again after slow_down, same cid.
  for (const text of ["one", "two"]) {
    const id = cid();
    const reply = await withPatience(() =>
      alice.groups.send(alice.client, "team", text, id)
    );
    assert.equal(reply.t, "ok", JSON.stringify(reply));
  }
  for (const m of others) {
    assert.deepEqual(texts(await settled(m, 2)), [
      "alice@team: one",
      "alice@team: two",
    ], m.name);
  }
  // A skipped message is said graceMs after it was seen: waited out (its
  // absence has no event to wait for).
  await new Promise((resolve) => setTimeout(resolve, graceMs * 20));
  for (const t of told) t.close();
  assert.deepEqual(said, []);
  for (const m of [alice, ...others]) await m.client.quit();
});
