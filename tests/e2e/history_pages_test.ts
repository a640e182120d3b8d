/**
 * `/history NAME N` between real `chat connect` processes through a real
 * `chat serve` shows N messages even when group keys (end to end, stored in
 * the private conversation, shown as no line) are among the last N items
 * stored: the client asks again with `before` (docs/PROTOCOL.md 5.4,
 * `history`) and shows the lines oldest first with one end line.
 */

import assert from "node:assert/strict";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect's /history NAME 2 shows 2 messages when the last items stored are group keys: it pages back with before", async () => {
  await using chat = await ServedChat.start("chat-history-pages-");
  await chat.serve("--data", chat.data);
  const [alice, bob] = await chat.signIn(["alice", "bob"]);
  await alice.write("/msg bob first\n");
  await bob.waitFor(/Private message from alice: first/);
  await alice.write("/msg bob second\n");
  await bob.waitFor(/Private message from alice: second/);
  // Each group's first message sends alice's sender key for it to bob end
  // to end, stored in their private conversation: the last two items
  // stored there are keys, which make no line.
  for (const group of ["team", "crew"]) {
    await alice.write(`/create ${group}\n`);
    await alice.waitFor(new RegExp(`Group '${group}' created`));
    await bob.write(`/join ${group}\n`);
    await bob.waitFor(new RegExp(`Joined group '${group}'`));
    await alice.write(`/group ${group} hi ${group}\n`);
    await bob.waitFor(
      new RegExp(
        `\\[Receive group ${group} message from alice\\]: hi ${group}`,
      ),
    );
  }

  const before = bob.stdout.length;
  await bob.write("/history alice 2\n");
  await bob.waitFor(/End of history for your conversation with alice/);
  assert.match(
    bob.stdout.slice(before),
    /^(?:[^\n]*\n)*?\[history [^\]]*\] Private message from alice: first\n\[history [^\]]*\] Private message from alice: second\nEnd of history for your conversation with alice \(2 messages\)\.\n/,
  );
  // Asked for one: the newest message, and no older one with it.
  const one = bob.stdout.length;
  await bob.write("/history alice 1\n");
  // Older ones remain, which may be only keys (the server cannot tell).
  await bob.waitFor(
    /End of history for your conversation with alice \(1 message; older ones may remain: \/history alice 2 for more\)\./,
  );
  const shown = bob.stdout.slice(one);
  assert.match(shown, /Private message from alice: second\n/);
  assert.doesNotMatch(shown, /alice: first/);
  await quit(alice);
  await quit(bob);
});

Deno.test("chat connect's /history N in a room with more says that older ones remain, and how to see them", async () => {
  await using chat = await ServedChat.start("chat-history-more-");
  await chat.serve("--data", chat.data);
  const [alice, bob] = await chat.signIn(["alice", "bob"]);
  for (const word of ["one", "two", "three", "four"]) {
    await alice.write(`${word}\n`);
    await bob.waitFor(new RegExp(`alice\\]: ${word}$`, "m"));
  }
  const before = bob.stdout.length;
  await bob.write("/history 3\n");
  await bob.waitFor(/End of history for the public room/);
  // Before, '(3 messages).': as if the room began with 'two'.
  assert.match(
    bob.stdout.slice(before),
    /alice\]: two\n.*alice\]: three\n.*alice\]: four\nEnd of history for the public room \(3 messages; older ones remain: \/history 6 for more\)\.\n/,
  );
  const all = bob.stdout.length;
  await bob.write("/history 6\n");
  await bob.waitFor(/End of history for the public room \(4 messages\)\./);
  assert.match(bob.stdout.slice(all), /alice\]: one\n/);
  await quit(alice);
  await quit(bob);
});

Deno.test("chat connect --json's history with more says the JSON command that shows them, not the terminal's /history", async () => {
  await using chat = await ServedChat.start("chat-history-more-json-");
  await chat.serve("--data", chat.data);
  const [alice] = await chat.signIn(["alice"]);
  for (const word of ["one", "two", "three"]) {
    await alice.write(`${word}\n`);
    await alice.waitFor(new RegExp(`Broadcast message sent: ${word}$`, "m"));
  }
  const bot = chat.connect("bot", { args: ["--json"] });
  await bot.waitFor(/"type":"welcome"/);
  await bot.write('{"cmd":"history","limit":2,"id":"h"}\n');
  const [line] = await bot.waitFor(/^\{"type":"ok","re":"h".*$/m);
  const ok = JSON.parse(line) as { text: string };
  // Before: `... older ones remain: /history 4 for more).`
  assert.equal(
    ok.text,
    'End of history for the public room (2 messages; older ones remain: {"cmd":"history","limit":4} for more).',
  );
  await quit(alice);
  await quit(bot);
});
