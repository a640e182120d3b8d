/**
 * Leaving while the client reconnects (/quit or Ctrl-D on a terminal) is the
 * user's choice, as leaving at any other time: exit status 0, each line typed
 * meanwhile said not sent, and no "Could not reconnect" error, which said
 * the client had given up (it had not: the user left). A line sent that the
 * dropped connection cut off before its answer (to go again once back) is
 * asked about first, as a line pending is when connected; so are lines typed
 * meanwhile, waiting for the connection, as the web page asks.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasOwnPty, PtyChat } from "../_helpers/pty.ts";
import {
  ChatProcess,
  hasPty,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

const leaving: [string, string][] = [["/quit", "/quit\r"], ["Ctrl-D", "\x04"]];
for (const [how, keys] of leaving) {
  Deno.test({
    name:
      `${how} while reconnecting leaves at the second time with status 0, the queued line said not sent`,
    ignore: !hasOwnPty(),
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "chat-reconnect-leave-" });
      let server: ChatProcess | null = null;
      try {
        await makeKeys(dir);
        server = serveProcess(dir);
        const port = await listeningPort(server);
        await using sophia = new PtyChat([
          "connect",
          `127.0.0.1:${port}`,
          "--pub",
          join(dir, "public.pem"),
          "--user",
          "sophia",
          "--no-open",
        ], { XDG_CONFIG_HOME: join(dir, "config") });
        await sophia.waitFor(/Username registered/);
        server.kill("SIGKILL");
        await server.finish();
        server = null;
        await sophia.waitFor(/connection to the server was lost/i);
        sophia.type("typed while offline\r");
        await sophia.waitFor(/sophia> typed while offline/);
        // The status row counts it once it is queued.
        await sophia.waitFor(/\(1 queued\)/);
        sophia.type(keys);
        await sophia.waitFor(/typed\s+while\s+disconnected\s+has\s+not\s+gone/);
        sophia.type(keys);
        const status = await sophia.child.status;
        assert.match(sophia.stdout, /ERROR: Not sent: typed while offline/);
        assert.doesNotMatch(sophia.stdout, /Could not reconnect/);
        assert.equal(status.code, 0, sophia.stdout);
      } finally {
        if (server !== null) {
          server.kill("SIGKILL");
          await server.finish();
        }
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name:
    "/quit while reconnecting with a line cut off unanswered asks once, as /quit with a line pending does",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-reconnect-owed-");
    const server = await chat.serve();
    // alice connects through it: what she sends is counted on its way up.
    const proxy = new HoldingProxy(Number(chat.port));
    await using _proxy = { [Symbol.asyncDispose]: () => proxy.close() };
    const alice = chat.track(
      new ChatProcess([
        "connect",
        `127.0.0.1:${proxy.port}`,
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
    // The server reads nothing more: the next line goes out unanswered,
    // and the connection then drops with it owed an answer (to be sent
    // again, same id, once back).
    await server.freeze();
    const up = proxy.upBytes;
    await alice.write("stuck line\r");
    // Gone up, not only echoed: typed a moment before the connection
    // dropped, it would be a line queued for the next connection (asked
    // about in other words), which 2 runs in 6 were.
    await alice.waitUntil(
      () => proxy.upBytes > up || null,
      "the stuck line sent up",
    );
    server.kill("SIGKILL");
    await alice.waitFor(/connection to the server was lost/i);
    await alice.write("/quit\r");
    // Before: it left at once, without a word about the line.
    await alice.waitFor(
      /1\s+line\s+you\s+sent\s+has\s+no\s+answer\s+from\s+the\s+server\s+yet:\s+if\s+you\s+leave\s+now,\s+it\s+may\s+or\s+may\s+not\s+be\s+delivered,\s+and\s+is\s+not\s+sent\s+again\.\s+Type\s+\/quit\s+again\s+to\s+leave\s+anyway/,
    );
    await alice.write("/quit\r");
    const status = await alice.finish();
    assert.equal(status.code, 0, alice.stdout);
    assert.doesNotMatch(alice.stdout, /Could not reconnect/);
    assert.doesNotMatch(alice.stdout, /Broadcast message sent: stuck line/);
    // Nor is it said not sent: the server may have stored it.
    assert.doesNotMatch(alice.stdout, /Not sent/);
  },
});

/** Whitespace as the terminal wraps it: any run of spaces or line breaks. */
function wrapped(text: string): RegExp {
  return new RegExp(
    text.split(" ").map((word) => RegExp.escape(word)).join("\\s+"),
  );
}

const again: [string, string, string][] = [
  ["/quit", "/quit\r", "Type /quit again"],
  ["Ctrl-D", "\x04", "Press Ctrl-D or type /quit"],
];
for (const [how, keys, say] of again) {
  Deno.test({
    name:
      `${how} while reconnecting with lines typed meanwhile asks as the web page does, again for a line typed after the question`,
    ignore: !PTY,
    async fn() {
      await using chat = await ServedChat.start("chat-reconnect-queued-");
      const server = await chat.serve();
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
      await server.freeze();
      server.kill("SIGKILL");
      await alice.waitFor(/connection to the server was lost/i);
      await alice.write("first offline\r");
      // The status row counts it once it is queued.
      await alice.waitFor(/\(1 queued\)/);
      await alice.write(keys);
      // Before: it left at once, the line said not sent after the fact.
      await alice.waitFor(wrapped(
        "1 line you typed while disconnected has not gone out yet, waiting " +
          "for the connection: if you leave now, it is not sent. " +
          `${say} to leave anyway`,
      ));
      // A line typed after the question is asked about: it was not named.
      await alice.write("second offline\r");
      await alice.waitFor(/\(2 queued\)/);
      await alice.write(keys);
      await alice.waitFor(wrapped(
        "2 lines you typed while disconnected have not gone out yet, " +
          "waiting for the connection: if you leave now, they are not sent. " +
          `${say} to leave anyway`,
      ));
      await alice.write(keys);
      const status = await alice.finish();
      assert.equal(status.code, 0, alice.stdout);
      assert.match(alice.stdout, /ERROR: Not sent: first offline/);
      assert.match(alice.stdout, /ERROR: Not sent: second offline/);
      assert.doesNotMatch(alice.stdout, /Could not reconnect/);
    },
  });
}
