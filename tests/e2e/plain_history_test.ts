/**
 * A conversation that began in the clear, before bob had end-to-end keys,
 * with real `chat serve` and `chat connect` processes: alice's first
 * messages went plain (she was told the host can read them) and bob saw
 * them as they came. Once both know each other's key, `/history` cannot
 * tell those lines from ones the server wrote, so it refuses them
 * (docs/PROTOCOL.md 11.7): in one error per conversation that says how
 * many, from when to when, and why, not one error per line. And alice on a
 * client without her end-to-end keys (an older one) sends bob a plain
 * message she is told went: bob's error names her and says what to do.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { loadOrCreateIdentity } from "../../src/crypto/identity_files.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("/history of a conversation that began in the clear refuses its plain lines in one error that says how many, when and why", async () => {
  await using chat = await ServedChat.start("chat-plain-history-");
  await chat.serve("--data", chat.data);
  // bob takes his name with his own identity key, and no end-to-end keys
  // (a client without them), then leaves.
  const { identity } = await loadOrCreateIdentity(
    join(chat.dir, "config-bob", "chat", "identity.pem"),
  );
  const keyless = await ChatClient.connect(chat.url, {
    pinnedSpki: await chat.pinnedSpki(),
  });
  assert.equal((await keyless.register("bob", identity)).t, "welcome");
  await keyless.quit();

  const [alice] = await chat.signIn(["alice"], { wanted: hasOneTimeKeys });
  for (const text of ["one in the clear", "two in the clear"]) {
    await alice.write(`/msg bob ${text}\n`);
    await alice.waitFor(
      new RegExp(`bob is offline; the message will be delivered`),
    );
  }
  assert.match(alice.stdout + alice.stderr, /host of the server can read it/);

  // bob comes back with the terminal client: the lines were alice's, and
  // he sees them; then they go end to end both ways.
  const [bob] = await chat.signIn(["bob"], { wanted: hasOneTimeKeys });
  await bob.waitFor(/Private message from alice: two in the clear/);
  assert.match(bob.stdout, /Private message from alice: one in the clear/);
  await bob.write("/msg alice now end to end\n");
  await alice.waitFor(/Private message from bob: now end to end/);

  await bob.write("/history alice\n");
  await bob.waitFor(/End of history for your conversation with alice/);
  await alice.write("/history bob\n");
  await alice.waitFor(/End of history for your conversation with bob/);
  await quit(alice);
  await quit(bob);

  for (const [user, other] of [[bob, "alice"], [alice, "bob"]] as const) {
    const refused = user.stderr.split("\n").filter((line) =>
      line.includes("came without end-to-end encryption")
    );
    assert.equal(refused.length, 1, user.stderr);
    assert.match(
      refused[0]!,
      new RegExp(
        `^ERROR: 2 private messages with ${other} in this history came without end-to-end encryption, though ${other} uses end-to-end keys: the server may have written them, and they are not shown \\(sent \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d to \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\)`,
      ),
    );
    assert.match(
      user.stdout,
      new RegExp(
        `End of history for your conversation with ${other} \\(1 message; 2 could not be opened\\)`,
      ),
    );
  }
  assert.match(bob.stdout, /to alice: now end to end/);
});

Deno.test("a plain private message from alice's client without her end-to-end keys, once bob knows her key, is an error that names her and says what to do", async () => {
  await using chat = await ServedChat.start("chat-plain-keyless-");
  await chat.serve("--data", chat.data);
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    wanted: hasOneTimeKeys,
  });
  await alice.write("/msg bob hello end to end\n");
  await bob.waitFor(/Private message from alice: hello end to end/);
  await quit(alice);

  // alice again, with her identity key, from a client that has no
  // end-to-end keys and sends in the clear (as an older client does).
  const { identity } = await loadOrCreateIdentity(
    join(chat.dir, "config-alice", "chat", "identity.pem"),
  );
  const keyless = await ChatClient.connect(chat.url, {
    pinnedSpki: await chat.pinnedSpki(),
  });
  try {
    assert.equal((await keyless.register("alice", identity)).t, "welcome");
    // She is told it went.
    assert.equal((await keyless.msg("bob", "from my old laptop")).t, "ok");
  } finally {
    await keyless.quit();
  }
  await bob.waitForStderr(
    /^ERROR: A private message from alice came without end-to-end encryption, though alice uses end-to-end keys: the server may have written it, and it is not shown\. If alice did send it, it came from a client without their end-to-end keys: ask alice to send it again from one with them$/m,
  );
  await quit(bob);
  assert.doesNotMatch(bob.stdout, /old laptop/);
});
