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
import { hasPty } from "../_helpers/process.ts";
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
    const alice = chat.connect("alice", { tty: true });
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

Deno.test({
  name:
    "an interactive /quit asks again when a line was typed after its question, even if as many went out meanwhile",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-order-quit-again-");
    await chat.serve("--rate", "1", "--burst", "12");
    const [bob] = await chat.signIn(["bob"], { args: ["--json"] });
    const alice = chat.connect("alice", { tty: true });
    await alice.waitFor(/Username registered/);
    for (let i = 10; i < 30; i++) {
      await alice.write(`line-${i}\r`);
      await alice.waitFor(new RegExp(`line-${i}`));
    }
    await bob.waitFor(/"text":"line-10"/);
    const question = /have\s+not\s+gone\s+out\s+yet[^]*?leave\s+anyway/g;
    await alice.write("/quit\r");
    await alice.waitFor(question);
    // One of the lines asked about goes out (one a second), and one more is
    // typed: as many wait as when asked, but not the same ones.
    const gone = Math.max(
      ...[...bob.stdout.matchAll(/"text":"line-(\d+)"/g)].map((m) =>
        Number(m[1])
      ),
    );
    await bob.waitFor(new RegExp(`"text":"line-${gone + 1}"`), 30_000);
    await alice.write("late-line\r");
    await alice.waitFor(/late-line/);
    await alice.write("/quit\r");
    // Before: the second /quit left, late-line unsent and unasked.
    await alice.waitUntil(
      () => (alice.stdout.match(question)?.length ?? 0) >= 2 || null,
      "the question asked again",
    );
    await alice.write("/quit\r");
    const status = await alice.finish();
    assert.equal(status.code, 0, alice.stdout);
    await quit(bob);
  },
});
