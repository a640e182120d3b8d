/**
 * A hostile server (or a peer whose text it relays) must not get escape
 * sequences onto the terminal of `chat connect`: clipboard writes (OSC 52),
 * titles, erased lines.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { testKeys } from "../_helpers/chat.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import { ChatProcess } from "../_helpers/process.ts";

const EVIL = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]0;pwned\x07\x1b[2K\r";

/**
 * `chat connect` as bob against a hostile server that signs him in and
 * answers `e2e_keys` with `keysReply`; `then` runs once he is in, with a way
 * to send him anything. Asserts that no ESC reached his terminal.
 */
async function againstHostileServer(
  keysReply: (re: number) => ServerMessage,
  then: (
    bob: ChatProcess,
    send: (m: ServerMessage) => void,
    signedIn: Promise<void>,
  ) => Promise<void>,
): Promise<void> {
  // Once the history asked at sign-in (the last of its requests) is
  // answered.
  const signedIn = Promise.withResolvers<void>();
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-hostile-text-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const bob = new ChatProcess([
    "connect",
    server.url.replace("ws://", ""),
    "--pub",
    pub,
    "--user",
    "bob",
  ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
  try {
    const channel = await server.session;
    const send = (reply: ServerMessage) => channel.send(reply);
    answerSignIn(channel, { name: "bob" }, (message) => {
      if (message.t === "e2e_keys") send(keysReply(message.id));
      else if (message.t === "ping") send({ t: "pong", re: message.id });
      // What the client asks at sign-in, answered: nothing of its waits.
      else if (message.t === "list") {
        send({ t: "users", re: message.id, users: [] });
      } else if (message.t === "groups") {
        send({ t: "groups", re: message.id, groups: [] });
      } else if (message.t === "history") {
        send({ t: "ok", re: message.id, text: "" });
        signedIn.resolve();
      }
    }).catch(() => {});
    await then(bob, send, signedIn.promise);
    const all = bob.stdout + bob.stderr;
    assert.ok(!all.includes("\x1b"), `raw ESC reached the terminal: ${all}`);
  } finally {
    bob.kill("SIGKILL");
    await bob.finish();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a server's error reply to e2e_keys reaches the terminal sanitized", async () => {
  await againstHostileServer(
    (re) => ({ t: "error", re, code: "internal", text: EVIL }),
    async (bob) => {
      await bob.waitFor(/End-to-end keys not published: \^\[\]52/);
    },
  );
});

Deno.test("a sender's name that breaks the naming rule ends the connection as a protocol error", async () => {
  await againstHostileServer(
    (re) => ({ t: "e2e_keys", re, one_time: 100 }),
    async (bob, send) => {
      await bob.waitFor(/Username registered/);
      send({ t: "private", from: `eve${EVIL}`, ts: Date.now() });
      await bob.waitFor(/broke the protocol \(Field 'from' must be a name/);
    },
  );
});

Deno.test("a server's alive while nothing bob sent waits has him say no message of his waits", async () => {
  await againstHostileServer(
    (re) => ({ t: "e2e_keys", re, one_time: 100 }),
    async (bob, send, signedIn) => {
      // His requests answered, the alive sent after them is read after
      // them: nothing of his waits.
      await signedIn;
      // Unasked, as a node sends it only while it holds a reply (5.7).
      for (let i = 0; i < 3; i++) send({ t: "alive" });
      send({
        t: "error",
        re: null,
        code: "internal",
        text: "after the alives",
      });
      await bob.waitForStderr(/after the alives/);
      assert.doesNotMatch(bob.stdout, /Waiting for the cluster/);
    },
  );
});
