/**
 * Every client asks, hidden, for the room's newest message at its sign-in
 * (docs/PROTOCOL.md 5.4, "What was missed"). A server that never answers
 * that request (hostile, or another implementation) made the client take
 * the next history messages, a user's own /history answer, for its answer
 * and drop them without a word: the client told a request's messages only
 * by their order. Now the server names the request on each (`req`), and a
 * client facing one that does not stops taking messages for a request once
 * a later one was answered (the server answers in turn).
 */

import assert from "node:assert/strict";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";

/**
 * bob signs in to a server that never answers his sign-in marker, then
 * asks `/history` (typed, or `{"cmd":"history"}` with `--json`): the
 * server answers with two old public lines, naming the request (`named`)
 * or not, then its `ok`. Resolves with bob's output once he quit.
 */
async function historyAfterUnansweredMarker(
  prefix: string,
  { named, json }: { named: boolean; json: boolean },
): Promise<{ stdout: string; markers: number }> {
  let chan: SecureChannel | null = null;
  let markers = 0;
  const onHistory = (message: ClientMessage) => {
    if (message.t !== "history") return;
    // The hidden marker (one message of the room): never answered.
    if (message.limit === 1) {
      markers++;
      return;
    }
    assert.ok(chan !== null, "asked before the test holds the channel");
    const req = named ? { req: message.id } : {};
    for (const [i, text] of ["first old line", "second old line"].entries()) {
      chan.send(
        {
          t: "public",
          from: "alice",
          ts: 1767225600000 + i,
          id: 10 + i,
          seq: 10 + i,
          ...req,
          history: true,
        },
        new TextEncoder().encode(text),
      );
    }
    chan.send({
      t: "ok",
      re: message.id,
      text: "End of history for the public room (2 messages).",
    });
  };
  await using run = await startHostileE2e(
    prefix,
    () => json ? ["--json"] : [],
    onHistory,
  );
  const { bob, channel } = run;
  chan = channel;
  if (json) {
    // A field the command does not take is refused, not ignored (this
    // one would have asked for the default 20).
    await bob.write('{"cmd":"history","n":2,"id":"n"}\n');
    await bob.waitFor(/"re":"n","code":"usage".*has no field \\"n\\"/);
  }
  await bob.write(json ? '{"cmd":"history"}\n' : "/history\n");
  await bob.waitFor(/End of history for the public room/);
  await bob.write(json ? '{"cmd":"quit"}\n' : "/quit\n");
  await bob.finish();
  return { stdout: bob.stdout, markers };
}

const shown = (stdout: string) =>
  stdout.split("\n").filter((line) => line.includes("old line"));

Deno.test("chat connect shows a /history answer that names its request, although the server never answered the sign-in marker", async () => {
  const { stdout, markers } = await historyAfterUnansweredMarker(
    "chat-history-re-named-",
    { named: true, json: false },
  );
  assert.equal(markers, 1);
  const lines = shown(stdout);
  assert.equal(lines.length, 2, stdout);
  assert.match(lines[0]!, /alice.*first old line/);
  assert.match(lines[1]!, /alice.*second old line/);
});

Deno.test("chat connect shows a /history answer from a server that names no request, although it never answered the sign-in marker", async () => {
  const { stdout } = await historyAfterUnansweredMarker(
    "chat-history-re-order-",
    { named: false, json: false },
  );
  const lines = shown(stdout);
  assert.equal(lines.length, 2, stdout);
  assert.match(lines[0]!, /first old line/);
  assert.match(lines[1]!, /second old line/);
});

Deno.test("chat connect --json gives a history command's messages although the server never answered the sign-in marker", async () => {
  for (const named of [true, false]) {
    const { stdout } = await historyAfterUnansweredMarker(
      "chat-history-re-json-",
      { named, json: true },
    );
    const messages = stdout.split("\n").filter((line) => line !== "")
      .map((line) => JSON.parse(line))
      .filter((event) => event.type === "message");
    assert.deepEqual(
      messages.map((m) => [m.text, m.history]),
      [["first old line", true], ["second old line", true]],
      `named: ${named}\n${stdout}`,
    );
  }
});
