/**
 * Chat lines go out one after the other (src/client/unconfirmed_chat.ts):
 * a line the server holds up (refused with slow_down and tried again for
 * up to half a minute) holds those typed after it. An interactive /quit
 * then asks once, as for a line pending, rather than leave with them
 * unsent and nothing said. A real `chat serve` whose rate limit refuses
 * alice's lines past her first few, alice a real `chat connect` on a
 * pseudo-terminal, bob a real `chat connect --json`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

Deno.test({
  name:
    "an interactive /quit while typed lines wait behind one the server holds up asks once, and the second leaves",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-order-quit-");
    // Twelve messages a connection, then one a second: the sign-in takes
    // a few, and alice's lines past the rest, typed faster, are refused
    // and wait.
    await chat.serve("--rate", "1", "--burst", "12");
    const [bob] = await chat.signIn(["bob"], { args: ["--json"] });
    const alice = chat.track(
      new ChatProcess([
        "connect",
        `127.0.0.1:${chat.port}`,
        "--pub",
        `${chat.dir}/public.pem`,
        "--user",
        "alice",
      ], {
        tty: true,
        env: { XDG_CONFIG_HOME: join(chat.dir, "config-alice") },
      }),
    );
    await alice.waitFor(/Username registered/);
    // One line at a time, each once echoed (several at once are a paste,
    // which asks first).
    for (let i = 10; i < 30; i++) {
      await alice.write(`line-${i}\r`);
      await alice.waitFor(new RegExp(`line-${i}`));
    }
    await bob.waitFor(/"text":"line-10"/);

    await alice.write("/quit\r");
    // Wrapped at the terminal's width.
    await alice.waitFor(
      /lines\s+you\s+typed\s+have\s+not\s+gone\s+out\s+yet[^]*leave\s+anyway/,
    );
    await alice.write("/quit\r");
    const status = await alice.finish();
    assert.equal(status.code, 0, alice.stdout);
    await quit(bob);
  },
});
