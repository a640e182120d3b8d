/**
 * A hostile server re-dates alice's end-to-end private message by an hour
 * (docs/PROTOCOL.md 11.7, content type 3): a real `chat connect --json` as
 * bob shows the time alice's client sealed with the text, not the server's,
 * and says once that the two differ; a message within the tolerance, and a
 * later re-dated one, add no word.
 */

import assert from "node:assert/strict";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";

const HOUR_MS = 60 * 60_000;

Deno.test("chat connect shows the sender's sealed time of an end-to-end message a hostile server re-dated by an hour, and says so once", async () => {
  await using run = await startHostileE2e(
    "chat-e2e-sender-time-",
    () => ["--json"],
  );
  const { bob, channel, alice } = run;
  const sentAt = Date.now();
  const seal = (text: string, at: number) =>
    alice.seal({ type: "text", from: "alice", to: "bob", text, sentAt: at });

  alice.deliver(channel, await seal("on time", sentAt), "alice", sentAt + 1000);
  alice.deliver(
    channel,
    await seal("held back", sentAt),
    "alice",
    sentAt + HOUR_MS,
  );
  alice.deliver(
    channel,
    await seal("held back again", sentAt + 2000),
    "alice",
    sentAt + HOUR_MS,
  );
  await bob.waitFor(/held back again/);
  await bob.write("/quit\n");
  await bob.finish();

  const events = bob.stdout.split("\n").filter((line) => line !== "").map(
    (line) => JSON.parse(line),
  );
  const messages = events.filter((event) => event.type === "message");
  assert.deepEqual(
    messages.map((event) => [event.text, event.time]),
    [
      ["on time", new Date(sentAt).toISOString()],
      ["held back", new Date(sentAt).toISOString()],
      ["held back again", new Date(sentAt + 2000).toISOString()],
    ],
  );
  const warnings = events.filter((event) =>
    event.type === "notice" && /says it was written at/.test(event.text)
  );
  assert.equal(warnings.length, 1, JSON.stringify(events));
  assert.match(
    warnings[0].text,
    /^WARNING: alice's message says it was written at .*; the server gave it the time .*: the host may have held it back or re-dated it/,
  );
  // Said right after the message it is about.
  const index = events.indexOf(warnings[0]);
  assert.equal(events[index - 1].text, "held back");
});

Deno.test("chat connect says so when a hostile server delivers two of alice's end-to-end messages swapped", async () => {
  await using run = await startHostileE2e(
    "chat-e2e-swapped-",
    () => ["--json"],
  );
  const { bob, channel, alice } = run;
  const sentAt = Date.now();
  const seal = (text: string, at: number) =>
    alice.seal({ type: "text", from: "alice", to: "bob", text, sentAt: at });
  const first = await seal("written first", sentAt);
  const second = await seal("written second", sentAt + 60_000);
  alice.deliver(channel, second);
  alice.deliver(channel, first);
  alice.deliver(channel, await seal("written third", sentAt + 61_000));
  await bob.waitFor(/written third/);
  await bob.write("/quit\n");
  await bob.finish();

  const events = bob.stdout.split("\n").filter((line) => line !== "").map(
    (line) => JSON.parse(line),
  );
  const texts = events.filter((event) =>
    event.type === "message" ||
    (event.type === "notice" && /WARNING/.test(event.text))
  ).map((event) => event.text);
  assert.equal(texts.length, 4, JSON.stringify(events));
  assert.deepEqual(texts.slice(0, 2), ["written second", "written first"]);
  assert.match(
    texts[2],
    /^WARNING: alice wrote that message at .*, before the one of .* shown earlier: the host delivered them out of order/,
  );
  assert.equal(texts[3], "written third");
});
