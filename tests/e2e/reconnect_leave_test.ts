/**
 * Leaving while the client reconnects (/quit or Ctrl-D on a terminal) is the
 * user's choice, as leaving at any other time: exit status 0, each line typed
 * meanwhile said not sent, and no "Could not reconnect" error, which said
 * the client had given up (it had not: the user left).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasOwnPty, PtyChat } from "../_helpers/pty.ts";
import {
  type ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

const leaving: [string, string][] = [["/quit", "/quit\r"], ["Ctrl-D", "\x04"]];
for (const [how, keys] of leaving) {
  Deno.test({
    name:
      `${how} while reconnecting leaves with status 0, the queued line said not sent`,
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
