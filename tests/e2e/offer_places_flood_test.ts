/**
 * A classmate's file offers whose end-to-end keys never come hold back
 * everyone else's lines at their recipient: each offer holds its place in
 * the order shown until its key comes (10 s at most, counted once the lines
 * before it are shown, in_turn.ts), so 8 such offers at once (the server's
 * transfers per user) held a third user's public line 80 s. A real
 * `chat serve`, a real `chat connect --json` receiving, and two clients of
 * the library: the attacker and the one whose line is held.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { newFileKeyId } from "../../src/client/file_key_share.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect: a peer's burst of file offers whose keys never come holds others' lines back once, not once per offer", async () => {
  await using chat = await ServedChat.start("chat-offer-places-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const spki = await chat.pinnedSpki();
  const mallory = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  const carol = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  try {
    assert.equal((await mallory.register("mallory")).t, "welcome");
    assert.equal((await carol.register("carol")).t, "welcome");
    // Eight offers at once (the server's maxTransfersPerUser), each naming
    // a key sent end to end that is never sent.
    const offers = Array.from({ length: 8 }, (_, i) =>
      mallory.request({
        t: "file_offer",
        name: `f${i}.bin`,
        size: 10,
        to: "bob",
        key_id: newFileKeyId(),
      }));
    // Answered after the offers went out (one connection's requests are
    // dealt with in order): bob has them before carol's line.
    assert.equal((await mallory.request({ t: "list" })).t, "users");
    const start = Date.now();
    assert.equal((await carol.say("carol-was-here")).t, "ok");
    await bob.waitFor(/carol-was-here/, 40_000);
    const held = Date.now() - start;
    // The first key's wait (10 s from the offers' coming), and nothing
    // more for the 7 others, their 10 s over and a key having failed to
    // come (KEY_WAIT_IN_TURN_MS is not given then): 10 s, not 80 (nor 17,
    // a second each in turn).
    assert.ok(held < 20_000, `carol's line was held ${held} ms`);
    await Promise.allSettled(offers);
  } finally {
    await Promise.allSettled([mallory.quit(), carol.quit()]);
  }
});

Deno.test("chat connect: bursts of keyless offers from several accounts hold others' lines back once, not a second per offer", async () => {
  await using chat = await ServedChat.start("chat-offer-places-many-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const spki = await chat.pinnedSpki();
  // Four accounts of one attacker, 8 offers each (the server's transfers
  // per user): 32, the most bob takes at once (MAX_RECEIVING); past each
  // account's share (receiving_share.ts) they are refused at once, said in
  // their place.
  const accounts = await Promise.all(
    Array.from(
      { length: 4 },
      () => ChatClient.connect(chat.url, { pinnedSpki: spki }),
    ),
  );
  const carol = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  try {
    for (const [i, account] of accounts.entries()) {
      assert.equal((await account.register(`mallory${i}`)).t, "welcome");
    }
    assert.equal((await carol.register("carol")).t, "welcome");
    const offers = accounts.flatMap((account) =>
      Array.from({ length: 8 }, (_, i) =>
        account.request({
          t: "file_offer",
          name: `f${i}.bin`,
          size: 10,
          to: "bob",
          key_id: newFileKeyId(),
        }))
    );
    // Each account's offers are dealt with before its `list`: bob has them
    // all before carol's line.
    for (const account of accounts) {
      assert.equal((await account.request({ t: "list" })).t, "users");
    }
    const start = Date.now();
    assert.equal((await carol.say("carol-was-here")).t, "ok");
    await bob.waitFor(/carol-was-here/, 60_000);
    const held = Date.now() - start;
    // All their keys' waits count from when they came: 10 s, not 10 s and
    // 1 s more for each of the 31 offers after the first (41 s), nor 1 s
    // more for each account's.
    assert.ok(held < 20_000, `carol's line was held ${held} ms`);
    await Promise.allSettled(offers);
  } finally {
    await Promise.allSettled([
      ...accounts.map((account) => account.quit()),
      carol.quit(),
    ]);
  }
});
