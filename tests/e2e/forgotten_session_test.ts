/**
 * A message on a session its reader forgot, between real `chat connect`
 * processes through a real `chat serve` (docs/PROTOCOL.md 11.7, "A message
 * on a forgotten session"): the reader's client tells the sender's, end to
 * end, which message it could not read; the sender is told, and its next
 * message goes on the session the reader's client started, and is read.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadE2eState, saveE2eState } from "../../src/client/e2e_state_file.ts";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect whose session with the sender is gone tells the sender which message it could not read, and the sender's next message is read", async () => {
  await using chat = await ServedChat.start("chat-e2e-forgotten-");
  await chat.serve("--data", chat.data);
  const [alice, bob] = await chat.signIn(["alice", "bob"], {
    wanted: hasOneTimeKeys,
  });
  await alice.write("/msg bob hello bob\n");
  await bob.waitFor(/Private message from alice: hello bob/);
  await bob.write("/msg alice hello alice\n");
  await alice.waitFor(/Private message from bob: hello alice/);
  await quit(bob);
  await alice.waitFor(/\*\*\* bob left the chat \*\*\*/);

  // Bob's client forgets its sessions (as past MAX_PEER_SESSIONS peers):
  // his sealed state file, without them.
  const folder = join(chat.dir, "config-bob", "chat");
  const file = [...Deno.readDirSync(folder)].find((entry) =>
    entry.name.startsWith("e2e_state_")
  );
  assert.ok(file !== undefined, "bob has no state file");
  const path = join(folder, file.name);
  const storageKey = fromBase64(
    (await Deno.readTextFile(join(folder, "storage_key"))).trim(),
  );
  const state = await loadE2eState(path, storageKey);
  assert.equal(state.sessions.size, 1);
  state.sessions.clear();
  await saveE2eState(path, storageKey, state, (line) => assert.fail(line));

  await alice.write("/msg bob the lost words\n");
  await alice.waitFor(/Private message to bob: the lost words/);
  const back = chat.connect("bob");
  await back.waitForStderr(
    /ERROR: A private message from alice could not be opened, and is not shown: this client forgot its session with alice .*: alice is told which one, and their next message starts a new session/,
  );
  await alice.waitForStderr(
    /ERROR: bob could not read your message of \d\d:\d\d \("the lost words"\): their client no longer had your end-to-end session\. Your next message to bob goes on a new one: send it again/,
  );
  await alice.write("/msg bob the lost words, again\n");
  await back.waitFor(/Private message from alice: the lost words, again/);
  await back.write("/msg alice got them\n");
  await alice.waitFor(/Private message from bob: got them/);
  await quit(alice);
  await quit(back);
  // Told once each: no loop of notices between the two clients.
  assert.equal(alice.stderr.split("could not read").length - 1, 1);
  assert.equal(back.stderr.split("could not be opened").length - 1, 1);
});
