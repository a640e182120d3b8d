/**
 * `chat connect` against a host that misbehaves: a server that signs the
 * client in with the real handshake (its key given with --pub) and then
 * invents senders, groups and messages freely. The client must stay within
 * its limits whatever the host invents.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testKeys } from "../_helpers/chat.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { MAX_UNREAD_CONVERSATIONS } from "../../src/client/conversations.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";

const PTY = await hasPty();

/**
 * `chat connect` as bob, on a terminal when `tty`, against a hostile server
 * that signs him in; `then` runs once his keys are published, with the
 * channel to him and the last 4,000 characters he wrote so far.
 */
async function againstHostileHost(
  { tty }: { tty: boolean },
  then: (
    bob: ChatProcess,
    channel: SecureChannel,
    tail: () => string,
  ) => Promise<void>,
): Promise<void> {
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-hostile-host-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  let written = "";
  const bob = new ChatProcess([
    "connect",
    server.url.replace("ws://", ""),
    "--pub",
    pub,
    "--user",
    "bob",
  ], {
    env: { XDG_CONFIG_HOME: join(dir, "config") },
    tty,
    // Output too large to search again at every piece (waitFor does).
    onStdout: (text) => written = (written + text).slice(-4000),
  });
  try {
    const channel = await server.session;
    const published = Promise.withResolvers<void>();
    answerSignIn(channel, { name: "bob" }, (message) => {
      if (message.t === "ping") channel.send({ t: "pong", re: message.id });
      if (message.t === "e2e_keys") {
        channel.send({ t: "e2e_keys", re: message.id, one_time: 100 });
        published.resolve();
      }
    }).catch(() => {});
    await published.promise;
    await then(bob, channel, () => written);
  } finally {
    bob.kill("SIGKILL");
    await bob.finish();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "chat connect counts at most MAX_UNREAD_CONVERSATIONS conversations unread, however many senders a host invents",
  ignore: !PTY,
  fn: async () => {
    await againstHostileHost({ tty: true }, async (bob, channel, tail) => {
      const invented = MAX_UNREAD_CONVERSATIONS + 200;
      const text = new TextEncoder();
      for (let i = 0; i < invented; i++) {
        channel.send(
          { t: "private", from: `u${i}`, ts: Date.now() },
          text.encode(`hi ${i}`),
        );
        if (i % 500 === 0) await channel.drain();
      }
      // One more from the first: its count still goes up.
      channel.send(
        { t: "private", from: "u0", ts: Date.now() },
        text.encode("again"),
      );
      const prompt = /\(u0 2, u1 1, u2 1, \+(\d+) more\) bob> /;
      const [, more] = await bob.waitUntil(
        () => tail().match(prompt),
        "the prompt after u0's second message",
      );
      assert.equal(Number(more), MAX_UNREAD_CONVERSATIONS - 3);
    });
  },
});
