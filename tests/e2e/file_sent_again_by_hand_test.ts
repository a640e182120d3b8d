/**
 * The same file sent twice by hand is recognised as the same, also when its
 * sender's client restarted in between: the receiver, which has it whole
 * from a moment ago, says so and keeps one copy; another file under the same
 * name and size is kept beside it. Before, only an offer its client made
 * again by itself carried the file's digest (the client learnt it as it sent
 * the file); an offer typed again, in a fresh process, carried none, and the
 * receiver saved `notes (1).txt`. A real `chat serve` and real
 * `chat connect`s.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { quit, ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

async function downloads(chat: ServedChat, user: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(chat.dir, `downloads-${user}`))) {
    if (entry.isFile) names.push(entry.name);
  }
  return names.sort();
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

Deno.test("chat connect: a file sent again by hand after its sender restarted is recognised, not saved twice", async () => {
  await using chat = await ServedChat.start("chat-file-again-by-hand-");
  await chat.serve();
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    acceptFiles: true,
  });
  const path = join(chat.dir, "notes.txt");
  const first = "first notes ".repeat(100);
  await Deno.writeTextFile(path, first);
  await alice.write(`/file bob ${path}\n`);
  await alice.waitFor(/File notes\.txt sent to bob successfully\./, WAIT_MS);
  await bob.waitFor(/You received file notes\.txt from alice\./, WAIT_MS);
  await quit(alice);

  // A fresh process, the same identity: it knows nothing of the first send.
  const [again] = await chat.signIn(["alice"], { acceptFiles: true });
  await again.write(`/file bob ${path}\n`);
  await again.waitUntil(
    () =>
      /sent to bob successfully|was not received by bob/.test(
        again.stdout + again.stderr,
      ) || null,
    "the second send's outcome",
    WAIT_MS,
  );
  await bob.waitFor(
    /here already|You received file[^]*You received file/,
    WAIT_MS,
  );
  assert.match(
    bob.stdout,
    /alice sent notes\.txt again, which is here already: not saved twice/,
  );
  assert.deepEqual(await downloads(chat, "bob"), ["notes.txt"]);
  assert.match(again.stdout, /File notes\.txt sent to bob successfully\./);

  // Another file under the same name and size: kept beside the first.
  const second = "final notes ".repeat(100);
  await Deno.writeTextFile(path, second);
  await again.write(`/file bob ${path}\n`);
  await bob.waitUntil(
    () => count(bob.stdout, /You received file notes/) >= 2 || null,
    "the other file",
    WAIT_MS,
  );
  const folder = join(chat.dir, "downloads-bob");
  assert.equal(await Deno.readTextFile(join(folder, "notes.txt")), first);
  assert.equal(await Deno.readTextFile(join(folder, "notes (1).txt")), second);
  await quit(bob);
  await quit(again);
});

Deno.test("chat connect: a group file sent again by hand names its group where the receiver says it is here already", async () => {
  await using chat = await ServedChat.start("chat-group-file-again-");
  await chat.serve();
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    acceptFiles: true,
  });
  await alice.write("/create crew\n");
  await alice.waitFor(/SUCCESS: Group 'crew' created and joined\./, WAIT_MS);
  await bob.write("/join crew\n");
  await bob.waitFor(/SUCCESS: Joined group 'crew'\./, WAIT_MS);
  const path = join(chat.dir, "notes.txt");
  await Deno.writeTextFile(path, "crew notes ".repeat(100));
  await alice.write(`/groupfile crew ${path}\n`);
  await bob.waitFor(/\[Receive notes\.txt from Group crew alice\]\./, WAIT_MS);
  await alice.waitFor(/File notes\.txt sent to group crew/, WAIT_MS);
  await alice.write(`/groupfile crew ${path}\n`);
  // Before: "alice sent notes.txt again, ...", as if sent to bob alone.
  await bob.waitFor(
    /alice sent notes\.txt to group crew again, which is here already: not saved twice/,
    WAIT_MS,
  );
  assert.deepEqual(await downloads(chat, "bob"), ["notes.txt"]);
  await quit(bob);
  await quit(alice);
});
