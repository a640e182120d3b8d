/**
 * A line on its way when an interactive /quit leaves (sent, not yet said
 * pending: the server has 10 s for that) is waited for 7 s at most (5 s
 * for what is being shown, QUIT_ACK_MS for the answer); a server that
 * does not answer it by then left it unsaid whether it arrived. The client
 * says so as it leaves, as the question before leaving says of a line
 * pending. A real `chat serve` stopped with SIGSTOP once alice signed in,
 * alice a real `chat connect` on a pseudo-terminal.
 */

import assert from "node:assert/strict";
import { hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

Deno.test({
  name:
    "an interactive /quit that leaves with a line the server never answered says it may or may not be delivered",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-quit-unanswered-");
    const server = await chat.serve();
    const alice = chat.connect("alice", { tty: true });
    await alice.waitFor(/Username registered/);
    await alice.write("first line\r");
    await alice.waitFor(/Broadcast message sent: first line/);
    await server.freeze();
    try {
      await alice.write("stuck line\r");
      await alice.waitFor(/stuck line/);
      // Nothing is pending yet (10 s) nor waiting: /quit asks nothing.
      await alice.write("/quit\r");
      const status = await alice.finish();
      assert.equal(status.code, 0, alice.stdout);
      // Before: it left after 5 s without a word about the line.
      assert.match(
        alice.stdout,
        /1\s+line\s+you\s+sent\s+had\s+no\s+answer\s+from\s+the\s+server\s+when\s+you\s+left:\s+it\s+may\s+or\s+may\s+not\s+be\s+delivered/,
      );
      assert.doesNotMatch(alice.stdout, /Broadcast message sent: stuck line/);
    } finally {
      server.kill("SIGCONT");
    }
  },
});
