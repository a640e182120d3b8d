/**
 * Two different files under the same name and size, sent one after the
 * other to the same person (a report edited and sent again a minute later),
 * both arrive. The receiver remembers a file received whole for 10 minutes,
 * to claim it whole when its sender offers it again after a break
 * (received_files.ts, file_once_test.ts); by name and size alone it took
 * the second for the first, claimed it whole without asking, then refused
 * it (`Cannot take 'report.txt' again: it is not the file received from
 * alice a moment ago`). Now only an offer made again with that file's
 * digest is claimed whole (docs/PROTOCOL.md 5.6 "Resume"). A real
 * `chat serve` and real `chat connect`s.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { quit, ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

Deno.test("chat connect: two different files with the same name and size sent to the same person within minutes both arrive", async () => {
  await using chat = await ServedChat.start("chat-same-name-size-");
  await chat.serve();
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    acceptFiles: true,
  });
  const path = join(chat.dir, "report.txt");
  const first = "first draft ".repeat(100);
  const second = "final text! ".repeat(100);
  assert.equal(first.length, second.length);

  await Deno.writeTextFile(path, first);
  await alice.write(`/file bob ${path}\n`);
  await alice.waitFor(/File report\.txt sent to bob successfully\./, WAIT_MS);

  await Deno.writeTextFile(path, second);
  await alice.write(`/file bob ${path}\n`);
  await alice.waitUntil(
    () =>
      count(alice.stdout, /File report\.txt sent to bob successfully\./) >= 2 ||
      /was not received by bob/.test(alice.stdout + alice.stderr) || null,
    "the second file's outcome",
    WAIT_MS,
  );
  assert.doesNotMatch(
    alice.stdout + alice.stderr,
    /was not received by bob/,
    alice.stdout + alice.stderr,
  );
  const downloads = join(chat.dir, "downloads-bob");
  assert.equal(
    await Deno.readTextFile(join(downloads, "report.txt")),
    first,
  );
  assert.equal(
    await Deno.readTextFile(join(downloads, "report (1).txt")),
    second,
  );
  assert.equal(count(bob.stdout, /You received file report/), 2, bob.stdout);
  await quit(bob);
  await quit(alice);
});
