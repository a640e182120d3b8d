/**
 * A line the server refuses for good after it was sealed (`limit`: its
 * store is full of what it cannot delete) took a key of the sender's chain
 * that no message will ever use: the recipient sees that key skipped when
 * her next line comes, and, on an honest server, must not be told that a
 * message "has not arrived" (unarrived.ts). The store is made full as a
 * host's disk fills: the data outgrows `--max-store-mb` with what the store
 * cannot delete (here a table of its own in the database file, which the
 * server counts like any other page); the host then raises the cap and
 * restarts, and the next line goes.
 *
 * Ignored until the sender tells the receiver, inside the authenticated
 * content of her next message, which of her sealed messages she never sent
 * (a "not sent" marker, not built yet): today bob is told that one message
 * from alice, and one in team, have not arrived, a false alarm (checked
 * so, at a terminal and with --json).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DATABASE_FILE } from "../../src/store/sqlite_store.ts";
import { UNARRIVED_GRACE_MS } from "../../src/client/unarrived.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

/** More than `mib` MiB the store cannot delete, written while it is stopped. */
function fillWithWhatCannotBeDeleted(data: string, mib: number): void {
  const db = new DatabaseSync(join(data, DATABASE_FILE));
  try {
    db.exec("CREATE TABLE host_ballast (bytes BLOB NOT NULL)");
    db.prepare("INSERT INTO host_ballast (bytes) VALUES (zeroblob(?))")
      .run(mib * 1024 * 1024 + 64 * 1024);
  } finally {
    db.close();
  }
}

/** `said` (its terminal line or its --json event) `count` times in `process`'s stdout. */
function saidTimes(process: ChatProcess, said: RegExp, count: number) {
  return process.waitFor(
    new RegExp(`((?:${said.source})[\\s\\S]*){${count}}`),
  );
}

/** The server's refusal for a full store, `count` times (alice's stderr). */
function refusedTimes(process: ChatProcess, count: number) {
  return process.waitForStderr(
    new RegExp(`(The server's storage is full[\\s\\S]*){${count}}`),
  );
}

/** `text` shown as a message, at a terminal or in --json. */
function shown(text: string): RegExp {
  return new RegExp(`(: |"text":")${text}\\b`);
}

const RECONNECTED = /Reconnected as \w+\.|"state":"reconnected"/;

async function refusedForGoodThenNext(bobArgs: readonly string[]) {
  await using chat = await ServedChat.start("chat-unarrived-store-full-");
  let server = await chat.serve("--data", chat.data);
  const [alice] = await chat.signIn(["alice"], { wanted: hasOneTimeKeys });
  const [bob] = await chat.signIn(["bob"], {
    wanted: hasOneTimeKeys,
    args: bobArgs,
  });
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  await bob.write("/join team\n");
  await bob.waitFor(/Joined group 'team'|"joined"/);
  await alice.write("/msg bob one\n");
  await bob.waitFor(shown("one"));
  await alice.write("/group team g-one\n");
  await bob.waitFor(shown("g-one"));

  // The host's disk fills: restarted with a cap the store is past with
  // what it cannot delete, it refuses new messages with `limit`.
  server.kill("SIGTERM");
  await server.finish();
  fillWithWhatCannotBeDeleted(chat.data, 1);
  server = await chat.serve("--data", chat.data, "--max-store-mb", "1");
  await saidTimes(alice, RECONNECTED, 1);
  await saidTimes(bob, RECONNECTED, 1);
  await alice.write("/msg bob two\n");
  await refusedTimes(alice, 1);
  await alice.write("/group team g-two\n");
  await refusedTimes(alice, 2);

  // The host makes room (no cap): the next lines go.
  server.kill("SIGTERM");
  await server.finish();
  server = await chat.serve("--data", chat.data, "--max-store-mb", "0");
  await saidTimes(alice, RECONNECTED, 2);
  await saidTimes(bob, RECONNECTED, 2);
  await alice.write("/msg bob three\n");
  await bob.waitFor(shown("three"));
  await alice.write("/group team g-three\n");
  await bob.waitFor(shown("g-three"));
  // A skipped message is said only UNARRIVED_GRACE_MS after it was
  // skipped: waited out (its absence has no event to wait for).
  await new Promise((resolve) => setTimeout(resolve, UNARRIVED_GRACE_MS + 500));
  await alice.write("/msg bob four\n");
  await bob.waitFor(shown("four"));
  // Her lines refused, alice's client exits 1 (a line was not sent).
  await alice.write("/quit\n");
  await alice.finish();
  await quit(bob);
  assert.doesNotMatch(bob.stdout, /\btwo\b|g-two/);
  assert.doesNotMatch(bob.stdout + bob.stderr, /not arrived|came late/);
}

Deno.test({
  name:
    "a private and a group message the server refused with limit (its store full): the recipient at a terminal is told of none not arrived",
  // Ignored: a line refused for good after it was sealed leaves a gap the
  // receiver cannot tell from a drop until the sender's not-sent marker
  // lands (planned for PROTOCOL 11.7). Fails today with "1 message from
  // alice has not arrived" and "1 message from alice in team ...".
  ignore: true,
  fn: () => refusedForGoodThenNext([]),
});

Deno.test({
  name:
    "a private and a group message the server refused with limit (its store full): chat connect --json emits no unarrived event",
  // Ignored: a line refused for good after it was sealed leaves a gap the
  // receiver cannot tell from a drop until the sender's not-sent marker
  // lands (planned for PROTOCOL 11.7). Fails today with "1 message from
  // alice has not arrived" and "1 message from alice in team ...".
  ignore: true,
  fn: () => refusedForGoodThenNext(["--json"]),
});
