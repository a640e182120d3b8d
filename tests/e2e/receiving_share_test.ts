/**
 * The 32 files a client takes in at once could all be held by 4 accounts
 * (the server lets each offer 8 at once) whose offers name end-to-end keys
 * that never come: a friend's file was then refused as busy. Each sender
 * now has a share of them (receiving_share.ts). A real `chat serve`, a
 * real `chat connect --json` receiving, and clients of the library
 * speaking the protocol by hand (docs/PROTOCOL.md 7.1): four hostile
 * accounts and an honest one.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKeyId } from "../../src/client/file_key_share.ts";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import type { Reply } from "../../src/client/chat_client.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect: four accounts offering 8 files each with keys that never come do not take every place: a friend's file is still taken, their excess refused", async () => {
  await using chat = await ServedChat.start("chat-receiving-share-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const spki = await chat.pinnedSpki();
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
    // 8 offers each (the server's transfers per user), 32 in all: as many
    // as bob takes at once.
    const offers: Promise<Reply>[] = accounts.flatMap((account) =>
      Array.from({ length: 8 }, (_, i) =>
        account.request({
          t: "file_offer",
          name: `f${i}.bin`,
          size: 10,
          to: "bob",
          key_id: newFileKeyId(),
        }))
    );
    // Each account's offers are dealt with before its `list`: bob has all
    // 32 before carol's.
    for (const account of accounts) {
      assert.equal((await account.request({ t: "list" })).t, "users");
    }
    // Carol has no end-to-end keys: her key goes in the offer.
    const answer = await carol.request({
      t: "file_offer",
      name: "notes.txt",
      size: 12,
      to: "bob",
      ...fileKeyForOffer(newFileKey()),
    });
    assert.equal(answer.t, "file_ready", JSON.stringify(answer));
    assert.deepEqual(
      (answer as { recipients?: unknown }).recipients,
      ["bob"],
      `carol's file was not taken: ${JSON.stringify(answer)}\n${bob.stdout}`,
    );
    // Each account's offers past its share were refused, with a line
    // saying why, and the account was told.
    const replies = await Promise.all(offers);
    for (const [i] of accounts.entries()) {
      const refusal = new RegExp(
        `"file_failed","xfer":\\d+,"from":"mallory${i}","name":"[^"]*","reason":"${MAX_RECEIVING_PER_SENDER} files from this sender are coming in already`,
        "g",
      );
      // Bob's client refuses them at once, but says so in the sender's
      // turn (display lanes): after its offers that wait for their key, 10 s.
      // The accounts can hear the refusals before bob's lines are out.
      await bob.waitUntil(
        () =>
          (bob.stdout.match(refusal)?.length ?? 0) >=
            8 - MAX_RECEIVING_PER_SENDER,
        `mallory${i}'s refusals in bob's output`,
      );
      assert.equal(
        bob.stdout.match(refusal)?.length,
        8 - MAX_RECEIVING_PER_SENDER,
        bob.stdout,
      );
      const theirs = replies.slice(i * 8, i * 8 + 8);
      // None was taken, and the account heard why: its share at once, the
      // others once their key's wait was over.
      const why = theirs.map((reply) => {
        assert.equal(reply.t, "error", JSON.stringify(reply));
        assert.equal(
          (reply as { code?: string }).code,
          "declined",
          JSON.stringify(reply),
        );
        return (reply as { text: string }).text;
      });
      assert.equal(
        why.filter((text) => /are coming in already/.test(text)).length,
        8 - MAX_RECEIVING_PER_SENDER,
        why.join("\n"),
      );
    }
  } finally {
    await Promise.allSettled([
      ...accounts.map((account) => account.quit()),
      carol.quit(),
    ]);
  }
});
