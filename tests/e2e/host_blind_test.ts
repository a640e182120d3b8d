/**
 * What the host keeps of a session (issue 17, its first test): real `chat
 * connect` processes exchange private messages, group messages and a file
 * with a distinctive name and contents through a real `chat serve`; the
 * server's SQLite database, its write-ahead log (read while the server still
 * runs, before a checkpoint folds it into the database) and its log hold none
 * of those plaintexts, nor the file's name. The other tests of the issue's
 * list: hostile_e2e_test.ts, hostile_group_e2e_test.ts,
 * hostile_file_keys_test.ts (a hostile server), group_e2e_test.ts (a member
 * who left), private_e2e_test.ts (restarts, /verify), and unit tests under
 * tests/client/ (swapped keys, changed keys).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

/** Each file under `path` by name, as text (latin1: every byte a char). */
async function dump(path: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(path)) {
    const full = join(path, entry.name);
    if (entry.isFile) {
      files.set(
        entry.name,
        new TextDecoder("latin1").decode(await Deno.readFile(full)),
      );
    } else if (entry.isDirectory) {
      for (const [name, text] of await dump(full)) {
        files.set(join(entry.name, name), text);
      }
    }
  }
  return files;
}

/** `text` as UTF-8 and as UTF-16 (either could sit in a database page). */
function forms(text: string): string[] {
  const utf16 = [...text].map((c) => c + "\0").join("");
  return [text, utf16];
}

Deno.test("after a session of private messages, group messages and a file, the server's database, WAL and log hold none of their plaintexts nor the file's name", async () => {
  await using chat = await ServedChat.start("chat-host-blind-");
  const server = await chat.serve("--data", chat.data);
  const [alice, bob, carol] = await chat.signIn(["alice", "bob", "carol"], {
    acceptFiles: true,
  });

  await alice.write("/msg bob the heron nests by the weir\n");
  await bob.waitFor(
    /Private message from alice: the heron nests by the weir/,
  );
  await bob.write("/msg alice bring copper wire\n");
  await alice.waitFor(/Private message from bob: bring copper wire/);

  await alice.write("/create crew\n");
  await alice.waitFor(/Group 'crew' created/);
  for (const p of [bob, carol]) {
    await p.write("/join crew\n");
    await p.waitFor(/Joined group 'crew'/);
  }
  await alice.write("/group crew the quarry opens at seven\n");
  for (const p of [bob, carol]) {
    await p.waitFor(
      /\[Receive group crew message from alice\]: the quarry opens at seven/,
    );
  }
  await carol.write("/group crew saffron lanterns ready\n");
  await alice.waitFor(
    /\[Receive group crew message from carol\]: saffron lanterns ready/,
  );

  const fileName = "zebra-merger-terms.txt";
  const fileText = "clause nine: the walrus pays in marbles\n";
  await Deno.writeTextFile(join(chat.dir, fileName), fileText);
  await alice.write(`/file bob ${join(chat.dir, fileName)}\n`);
  await alice.waitFor(
    /File zebra-merger-terms\.txt sent to bob successfully/,
  );
  assert.equal(
    await Deno.readTextFile(join(chat.dir, "downloads-bob", fileName)),
    fileText,
  );
  const groupFile = "okapi-budget.csv";
  await Deno.writeTextFile(join(chat.dir, groupFile), "tapir,42\n");
  await carol.write(`/groupfile crew ${join(chat.dir, groupFile)}\n`);
  for (const p of [alice, bob]) {
    await p.waitFor(/Saved to .*okapi-budget\.csv/);
    await p.waitFor(/\[Receive okapi-budget\.csv from Group crew carol\]/);
  }

  // While the server runs: its WAL holds what was written since the last
  // checkpoint, which a clean shutdown folds into the database.
  const running = await dump(chat.data);
  assert.ok(
    [...running.keys()].some((name) => name.endsWith("-wal")),
    `no WAL among ${[...running.keys()]}`,
  );
  await quit(alice);
  await quit(bob);
  await quit(carol);
  server.kill("SIGTERM");
  await server.finish();
  const stopped = await dump(chat.data);
  const log = server.stdout + server.stderr;

  const secrets = [
    "heron nests",
    "copper wire",
    "quarry opens",
    "saffron lanterns",
    "zebra-merger",
    "walrus pays",
    "okapi-budget",
    "tapir,42",
  ];
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      for (const [name, text] of [...running, ...stopped]) {
        assert.ok(!text.includes(form), `${name} holds '${secret}'`);
      }
      assert.ok(!log.includes(form), `the log holds '${secret}'`);
    }
  }
  for (const p of [alice, bob, carol]) {
    assert.doesNotMatch(p.stdout + p.stderr, /host of the server can read/);
  }
  // The receivers were shown the real names (they came end to end).
  await bob.waitFor(/You received file zebra-merger-terms\.txt from alice/);
});
