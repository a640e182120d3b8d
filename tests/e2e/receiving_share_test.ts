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
import { join } from "node:path";
import { hasPty } from "../_helpers/process.ts";
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

Deno.test({
  name:
    "chat connect: a friend offering 6 files at once hears why the 2 past their share were refused, whole, and neither side reads '(end-to-end)' for a name",
  ignore: !(await hasPty()),
  async fn() {
    await using chat = await ServedChat.start("chat-receiving-six-");
    await chat.serve();
    // bob is asked about each file (a terminal): the first 4 wait for his
    // answer, and so stay coming in.
    const bob = chat.connect("bob", { tty: true });
    await bob.waitFor(/Username registered/);
    await chat.keysOf("bob", () => true);
    // alice too: each /file goes at once, not after the one before it.
    const alice = chat.connect("alice", { tty: true });
    await alice.waitFor(/Username registered/);
    for (let i = 1; i <= 6; i++) {
      const path = join(chat.dir, `photo${i}.jpg`);
      await Deno.writeFile(path, new Uint8Array(1000 + i));
      await alice.write(`/file bob ${path}\r`);
      // One at a time: lines typed at once are asked about as a paste.
      await alice.waitFor(new RegExp(`Offering photo${i}\\.jpg`));
    }
    const refused =
      /ERROR: photo\d\.jpg was not sent to bob: (.*?) (?=alice>|ERROR|Offering|$)/g;
    // Lines wrap on the terminal: read them unwrapped.
    const flat = () =>
      alice.stdout.replace(
        // Terminal controls (an escape, then its parameters).
        // deno-lint-ignore no-control-regex
        /\x1b\[[0-9;?]*[A-Za-z]/g,
        "",
      ).replace(/\s+/g, " ");
    await alice.waitUntil(
      () => [...flat().matchAll(refused)].length >= 2 ? true : null,
      "two offers refused",
      30_000,
    );
    const reasons = [...flat().matchAll(refused)].map((m) => m[1]);
    assert.equal(reasons.length, 2, flat());
    for (const reason of reasons) {
      // Before: "Cannot take '(end-to-end)': 4 files from alice are coming
      // in already (the most one sender may have a", cut by the server at
      // 100 characters before what to do about it.
      assert.doesNotMatch(reason ?? "", /end-to-end/, flat());
      assert.equal(
        reason,
        `${MAX_RECEIVING_PER_SENDER} files from this sender are coming in already, the most at once: send it again once one is done`,
        flat(),
      );
    }
    await bob.waitFor(
      /A file from alice was not received:[^]*A file from alice was not received:/,
    );
    assert.doesNotMatch(bob.stdout, /end-to-end\)/, bob.stdout);
    await bob.write("/quit\r");
    await bob.write("/quit\r");
    await bob.finish();
    await alice.write("/quit\r");
    await alice.write("/quit\r");
    await alice.finish();
  },
});
