/**
 * A classmate who keeps offering files whose end-to-end keys never come
 * holds back only their own lines at the recipient, not everyone's: each
 * such offer holds its place among its sender's lines (up to 10 s), and
 * before each sender had a lane of their own (in_turn.ts) one offer every
 * few seconds delayed every other user's lines by up to 10 s, for as long
 * as it went on. A real `chat serve`, a real `chat connect --json`
 * receiving, and two clients of the library speaking the protocol: the
 * attacker, whose requests are written by hand (docs/PROTOCOL.md 7.1: an
 * offer naming a `key_id` whose key is never sent), and the honest user.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { newFileKeyId } from "../../src/client/file_key_share.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

/** The JSON lines `chat connect --json` wrote so far. */
function events(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line.startsWith("{"));
}

Deno.test("chat connect: offers whose keys never come hold back only their sender's lines, not another user's public and private lines", async () => {
  await using chat = await ServedChat.start("chat-offer-lanes-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const spki = await chat.pinnedSpki();
  const mallory = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  const carol = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  const rounds = 3;
  const offers: Promise<unknown>[] = [];
  try {
    assert.equal((await mallory.register("mallory")).t, "welcome");
    assert.equal((await carol.register("carol")).t, "welcome");
    for (let round = 0; round < rounds; round++) {
      // An offer naming a key sent end to end that is never sent, then a
      // line of mallory's own, which must still come after it.
      offers.push(mallory.request({
        t: "file_offer",
        name: `f${round}.bin`,
        size: 10,
        to: "bob",
        key_id: newFileKeyId(),
      }));
      assert.equal((await mallory.say(`mallory-after-${round}`)).t, "ok");
      // Answered after the offer and the line went out (one connection's
      // requests are dealt with in order): bob has them before carol's.
      assert.equal((await mallory.request({ t: "list" })).t, "users");
      const start = Date.now();
      assert.equal((await carol.say(`carol-public-${round}`)).t, "ok");
      assert.equal((await carol.msg("bob", `carol-private-${round}`)).t, "ok");
      // The deadline only bounds a failure: before lanes, this waited for
      // the offer's key, 10 s.
      await bob.waitFor(new RegExp(`carol-private-${round}`), 30_000);
      const held = Date.now() - start;
      assert.ok(
        held < 5_000,
        `carol's lines were held ${held} ms behind mallory's offer`,
      );
      // Mallory's own line is still behind her offer, waiting for its key.
      assert.doesNotMatch(bob.stdout, new RegExp(`mallory-after-${round}"`));
    }
    // Mallory's lines come once each offer is given up, each after it.
    await bob.waitFor(new RegExp(`mallory-after-${rounds - 1}"`), 60_000);
    const lines = events(bob.stdout);
    const at = (pattern: RegExp) => {
      const i = lines.findIndex((line) => pattern.test(line));
      assert.ok(i >= 0, `no line matches ${pattern}:\n${lines.join("\n")}`);
      return i;
    };
    const refusals = lines.flatMap((line, i) =>
      /its key did not arrive end to end from mallory/.test(line) ? [i] : []
    );
    assert.equal(refusals.length, rounds, lines.join("\n"));
    for (let round = 0; round < rounds; round++) {
      const after = at(new RegExp(`mallory-after-${round}"`));
      // Her offer keeps its place among her lines.
      assert.ok(refusals[round]! < after, lines.join("\n"));
      if (round + 1 < rounds) {
        assert.ok(after < refusals[round + 1]!, lines.join("\n"));
      }
      // Carol's lines, in her order, did not wait for mallory's offer.
      const pub = at(new RegExp(`carol-public-${round}"`));
      const priv = at(new RegExp(`carol-private-${round}"`));
      assert.ok(pub < priv, lines.join("\n"));
      assert.ok(priv < refusals[round]!, lines.join("\n"));
    }
    await Promise.allSettled(offers);
  } finally {
    await Promise.allSettled([mallory.quit(), carol.quit()]);
  }
});

Deno.test("chat connect: a /history answer keeps its order while an offer of one of its senders waits for its key", async () => {
  await using chat = await ServedChat.start("chat-offer-lanes-history-");
  await chat.serve("--data", chat.data);
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
    // Stored in this order: mallory's line, then carol's.
    assert.equal((await mallory.say("mallory-first")).t, "ok");
    assert.equal((await carol.say("carol-second")).t, "ok");
    await bob.waitFor(/carol-second"/);
    // An offer whose key never comes holds mallory's lane up to 10 s.
    const offer = mallory.request({
      t: "file_offer",
      name: "f.bin",
      size: 10,
      to: "bob",
      key_id: newFileKeyId(),
    });
    assert.equal((await mallory.request({ t: "list" })).t, "users");
    await bob.write('{"cmd":"history","limit":2,"id":"h"}\n');
    await bob.waitFor(/^\{"type":"ok","re":"h".*$/m, 30_000);
    const lines = events(bob.stdout);
    const last = (pattern: RegExp) =>
      lines.findLastIndex((line) => pattern.test(line));
    // The answer's lines, as stored: before, mallory's was put aside behind
    // her offer's place and shown after carol's.
    assert.ok(
      last(/mallory-first"/) < last(/carol-second"/),
      lines.join("\n"),
    );
    await offer.catch(() => {});
  } finally {
    await Promise.allSettled([mallory.quit(), carol.quit()]);
  }
});

Deno.test("chat connect: the notice that someone left a group comes after their lines held behind their offer", async () => {
  await using chat = await ServedChat.start("chat-offer-lanes-left-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const spki = await chat.pinnedSpki();
  const mallory = await ChatClient.connect(chat.url, { pinnedSpki: spki });
  try {
    assert.equal((await mallory.register("mallory")).t, "welcome");
    assert.equal((await mallory.request({ t: "create", group: "g" })).t, "ok");
    await bob.write('{"cmd":"join","group":"g","id":"j"}\n');
    await bob.waitFor(/^\{"type":"ok","re":"j".*$/m);
    // An offer whose key never comes holds mallory's lane up to 10 s; her
    // line after it waits, and so must the notice that she left.
    const offer = mallory.request({
      t: "file_offer",
      name: "f.bin",
      size: 10,
      to: "bob",
      key_id: newFileKeyId(),
    });
    assert.equal((await mallory.gsay("g", "mallory-last")).t, "ok");
    assert.equal((await mallory.request({ t: "leave", group: "g" })).t, "ok");
    await bob.waitFor(/mallory-last"/, 30_000);
    await bob.waitFor(/"membership"[^\n]*"joined":false|left/, 30_000);
    const lines = events(bob.stdout);
    const at = (pattern: RegExp) =>
      lines.findIndex((line) => pattern.test(line));
    const left = lines.findIndex((line) =>
      /mallory/.test(line) && /"joined":false|left/.test(line)
    );
    assert.ok(left >= 0, lines.join("\n"));
    assert.ok(at(/mallory-last"/) < left, lines.join("\n"));
    await offer.catch(() => {});
  } finally {
    await Promise.allSettled([mallory.quit()]);
  }
});
