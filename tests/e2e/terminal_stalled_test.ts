/**
 * A person's terminal that stops taking output (Ctrl-S, an ssh connection
 * whose window is full, a pane nobody scrolls) while others talk. Output to
 * the terminal was written synchronously: once the terminal's buffer was
 * full the whole client stopped, its answers to the server's keepalive
 * pings too, and the server dropped it; what was said meanwhile never
 * reached it. Now the terminal's output is queued (stdout_queue.ts): the
 * client stays connected and, once the terminal takes output again, shows
 * every line, in order, once. A real server, a real `chat connect` on a
 * pseudo-terminal (`script`) whose output the test stops reading.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";

/** The server pings a connection silent this long, and drops it if it stays so. */
const IDLE_SECONDS = 2;

/** alice's line numbered `n`: 600 characters, most of eight rows. */
function line(n: number): string {
  const label = `m${n} `;
  return label + "x".repeat(600 - label.length);
}

/** The numbers of alice's lines as the terminal showed them, in order. */
function numbersIn(screen: string): number[] {
  return [...screen.matchAll(/from alice\]: m(\d+) x/g)].map((m) =>
    Number(m[1])
  );
}

Deno.test({
  name:
    "chat connect on a terminal that stops taking output stays connected and then shows every line once, in order",
  ignore: !(await hasPty()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-term-stalled-" });
    const pub = join(dir, "server.pub");
    await Deno.writeTextFile(pub, (await testKeys()).publicPem);
    const server = await startTestServer({
      connectionLimits: {
        messagesPerSecond: 100_000,
        messageBurst: 100_000,
        messagesPerSecondPerAddress: 100_000,
        messageBurstPerAddress: 100_000,
        idleTimeoutSeconds: IDLE_SECONDS,
      },
    });
    const bob = new ChatProcess([
      "connect",
      `127.0.0.1:${server.port}`,
      "--pub",
      pub,
      "--user",
      "bob",
      "--no-open",
      "--downloads",
      join(dir, "downloads"),
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") }, tty: true });
    const alice = await TestClient.connect(server, "alice");
    try {
      await bob.waitFor(/SUCCESS: Username registered\./);
      await alice.client.say("hello");
      await bob.waitFor(/\[Broadcast from alice\]: hello/);
      // The terminal takes nothing more: its buffer and the pipe behind it
      // (some 100 KiB) fill, and the client's writes to it wait.
      bob.pauseStdout();
      const count = 400;
      let sent = 0;
      const sayMore = async (n: number) => {
        const replies = await Promise.all(
          Array.from({ length: n }, (_, i) => alice.client.say(line(sent + i))),
        );
        for (const reply of replies) assert.equal(reply.t, "ok");
        sent += n;
      };
      await sayMore(count);
      // The terminal stays away long enough for the server to ping bob,
      // twice over: a client that could not answer is dropped meanwhile.
      // (The scenario's length, not a wait for something.)
      await new Promise((resolve) =>
        setTimeout(resolve, 3 * IDLE_SECONDS * 1000)
      );
      // More while bob's terminal still takes nothing.
      await sayMore(20);
      bob.resumeStdout();
      await bob.waitUntil(
        () =>
          numbersIn(bob.stdout).at(-1) === sent - 1 ||
          /connection to the server was lost/.test(bob.stdout) || null,
        `line m${sent - 1}`,
        60_000,
      );
      // Never dropped: alice never saw bob leave.
      assert.equal(
        alice.inbox.some(({ message }) =>
          message.t === "presence" && message.name === "bob" && !message.online
        ),
        false,
        `bob was dropped; server log:\n${server.logs.slice(-10).join("\n")}`,
      );
      assert.doesNotMatch(bob.stdout, /connection to the server was lost/);
      assert.deepEqual(
        numbersIn(bob.stdout),
        Array.from({ length: sent }, (_, n) => n),
      );
    } finally {
      bob.resumeStdout();
      bob.kill("SIGKILL");
      await bob.finish();
      await alice.quit();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
