/**
 * No false alarm on an honest server (unarrived.ts): private and group
 * messages end to end, across a member offline, a server restart the other
 * reconnects through, delivery of what waited, and history asked for after,
 * leave no hole in any chain, so nothing is said not to have arrived.
 */

import assert from "node:assert/strict";
import { UNARRIVED_GRACE_MS } from "../../src/client/unarrived.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("an honest server's offline delivery, restart, reconnect and history replay: no end-to-end message is said not to have arrived", async () => {
  await using chat = await ServedChat.start("chat-honest-chains-");
  let server = await chat.serve("--data", chat.data);
  const [alice, first] = await chat.signIn(["alice", "bob"], {
    wanted: hasOneTimeKeys,
  });
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  await first!.write("/join team\n");
  await first!.waitFor(/Joined group 'team'/);
  await alice.write("/msg bob one\n");
  await first!.waitFor(/Private message from alice: one/);
  await alice.write("/group team g-one\n");
  await first!.waitFor(/\[Receive group team message from alice\]: g-one/);
  await quit(first!);

  // Bob away: what alice writes waits for him, across a restart she
  // reconnects through.
  await alice.write("/msg bob two\n");
  await alice.waitFor(/the message will be delivered when they connect/);
  await alice.write("/group team g-two\n");
  await alice.waitFor(/g-two/);
  server.kill("SIGTERM");
  await server.finish();
  server = await chat.serve("--data", chat.data);
  await alice.waitFor(/Reconnected as alice\./);
  await alice.write("/msg bob three\n");
  await alice.waitFor(/Private message to bob: three/);
  await alice.write("/group team g-three\n");
  await alice.waitFor(/\] g-three|: g-three/);

  const bob = chat.connect("bob");
  await bob.waitFor(/Private message from alice: three/);
  await bob.waitFor(/\[Receive group team message from alice\]: g-three/);
  await bob.write("/history alice\n");
  await bob.waitFor(/End of history for your conversation with alice/);
  await bob.write("/history team\n");
  await bob.waitFor(/End of history for group 'team'|End of history.*team/);
  // A skipped message is said only once UNARRIVED_GRACE_MS has passed
  // since it was skipped: waited out here (the absence of a line has no
  // event to wait for), then one more of each goes through.
  await new Promise((resolve) => setTimeout(resolve, UNARRIVED_GRACE_MS + 500));
  await alice.write("/msg bob four\n");
  await bob.waitFor(/Private message from alice: four/);
  await alice.write("/group team g-four\n");
  await bob.waitFor(/\[Receive group team message from alice\]: g-four/);
  await quit(alice);
  await quit(bob);
  const said = first!.stdout + first!.stderr + bob.stdout + bob.stderr;
  assert.match(bob.stdout, /Private message from alice: two/);
  assert.match(bob.stdout, /\[Receive group team message from alice\]: g-two/);
  assert.doesNotMatch(said, /not arrived|came late|could not be opened/);
});
