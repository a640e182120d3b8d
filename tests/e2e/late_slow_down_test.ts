/**
 * A line said pending (no answer within 10 s) whose late answer is the
 * server's slow_down goes again, with its client id, once the server's
 * pause is over, when nothing was typed after it: its late answer is then
 * "sent", where the refusal alone left it said pending ("do not type it
 * again") and never sent. A real `chat serve` held to one message at once
 * (`--burst 2`) and stopped with SIGSTOP, so that three lines wait in its
 * socket and the third is refused when it reads them (the second too if
 * alice's ping came before it); alice a real
 * `chat connect` on a pseudo-terminal.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

Deno.test({
  name:
    "a line said pending whose late answer is slow_down goes again when nothing was typed after it",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-late-slow-down-");
    const server = await chat.serve("--rate", "5", "--burst", "2");
    const alice = chat.track(
      new ChatProcess([
        "connect",
        `127.0.0.1:${chat.port}`,
        "--pub",
        `${chat.dir}/public.pem`,
        "--user",
        "alice",
        "--no-open",
      ], {
        tty: true,
        env: { XDG_CONFIG_HOME: join(chat.dir, "config-alice") },
      }),
    );
    await alice.waitFor(/Username registered/);
    await alice.write("first line\r");
    await alice.waitFor(/Broadcast message sent: first line/);
    await server.freeze();
    try {
      // Each is said pending before the next goes (10 s each).
      for (const [count, line] of ["one", "two", "three"].entries()) {
        await alice.write(`${line}\r`);
        await alice.waitUntil(
          () =>
            (alice.stdout.match(/has not answered your message/g)?.length ??
                0) > count || null,
          `${line} said pending`,
        );
      }
    } finally {
      server.kill("SIGCONT");
    }
    // (The sign-in's key publish may meet the limit too: not this test's.)
    const resumed = alice.stdout.length;
    // The server reads them at once, and its two tokens go to the first
    // two messages in its socket: "three" is refused in every run, "one"
    // passes, and "two" is refused too when alice's ping (every 30 s of
    // silence, so it may or may not fall in the stop) came before it: then
    // it is said not delivered, as "three" went out after it. Before:
    // `ERROR: slow down` as three's late answer, and it was never sent.
    await alice.waitFor(/Broadcast message sent: three/);
    await alice.write("/quit\r");
    const status = await alice.finish();
    assert.equal(status.code, 0, alice.stdout);
    assert.match(alice.stdout, /Broadcast message sent: one/);
    const twoSent = /Broadcast message sent: two/.test(alice.stdout);
    const notDelivered = alice.stdout.match(/ERROR: Not delivered/g)?.length ??
      0;
    assert.equal(twoSent ? 0 : 1, notDelivered, alice.stdout);
    assert.doesNotMatch(alice.stdout.slice(resumed), /slow down/);
  },
});
