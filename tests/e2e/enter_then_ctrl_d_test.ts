/**
 * Ctrl-D pressed right after Enter (in the same burst of keys, so the lines
 * are still in the paste window when the key asks whether anything is owed)
 * leaves once the lines entered before it went out: each is sent, none said
 * "Not sent: you left before it went out", which nobody was asked about.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasOwnPty, PtyChat } from "../_helpers/pty.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test({
  name:
    "Ctrl-D right after Enter sends the lines entered before it, then leaves with status 0",
  ignore: !hasOwnPty(),
  async fn() {
    await using chat = await ServedChat.start("chat-enter-ctrl-d-");
    await chat.serve();
    await using sophia = new PtyChat([
      "connect",
      `127.0.0.1:${chat.port}`,
      "--pub",
      join(chat.dir, "public.pem"),
      "--user",
      "sophia",
      "--no-open",
    ], { XDG_CONFIG_HOME: join(chat.dir, "config") });
    await sophia.waitFor(/Username registered/);
    // The second waits for the first's answer: before, Ctrl-D dropped it.
    sophia.type("one\rtwo\r\x04");
    const status = await sophia.child.status;
    assert.doesNotMatch(sophia.stdout, /Not sent/, sophia.stdout);
    assert.match(sophia.stdout, /Broadcast message sent: one/);
    assert.match(sophia.stdout, /Broadcast message sent: two/);
    assert.equal(status.code, 0, sophia.stdout);
  },
});
