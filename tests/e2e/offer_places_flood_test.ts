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
    // The first key's wait (10 s from the offers' coming) and 1 s for each
    // of the 7 others in turn (KEY_WAIT_IN_TURN_MS): 17 s, not 80.
    assert.ok(held < 20_000, `carol's line was held ${held} ms`);
    await Promise.allSettled(offers);
  } finally {
    await Promise.allSettled([mallory.quit(), carol.quit()]);
  }
});
