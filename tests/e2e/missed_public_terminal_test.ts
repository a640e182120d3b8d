/**
 * A person at a terminal who signed in to a quiet room and saw nothing is
 * shown, once back after a cut, what was said there meanwhile, and not
 * what was said before they signed in (src/client/missed_public.ts, `mark`):
 * in a real terminal emulator (tmux), through a proxy that cuts the client
 * off and refuses it while sophia talks.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";
import {
  sayInRoom,
  startTestServer,
  TestClient,
  testKeys,
} from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

const TMUX = await hasTmux();

Deno.test({
  name:
    "a terminal that saw nothing before the cut shows what was said in the room while it was cut off, under one line, and nothing from before its sign-in",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-missed-terminal-" });
    await Deno.writeTextFile(
      join(dir, "public.pem"),
      (await testKeys()).publicPem,
    );
    await using server = await startTestServer();
    const proxy = new GateProxy(server.port);
    const sophia = await TestClient.connect(server, "sophia");
    try {
      await sayInRoom(sophia, "old news");
      await using pane = new Pane();
      await pane.start(
        connectCommand({ dir, port: proxy.port, user: "jojo" }),
        120,
      );
      await pane.waitFor("the prompt", (l) => l.some((x) => x === "jojo>"));
      // Answered after the sign-in's own request: the room's place is
      // known by then.
      await pane.type("/list");
      await pane.keys("Enter");
      await pane.waitFor("the list", (l) => l.some((x) => /sophia/.test(x)));

      proxy.cut();
      await pane.waitFor(
        "the cut",
        (l) => l.some((x) => /Reconnecting|connection/i.test(x)),
      );
      await sayInRoom(sophia, "missed one");
      await sayInRoom(sophia, "missed two");
      proxy.down = false;
      const lines = await pane.waitFor(
        "the missed lines",
        (l) => l.some((x) => x.endsWith("missed two")),
        30_000,
      );
      const header = lines.indexOf("While you were away:");
      const one = lines.findIndex((x) => /from sophia\]: missed one$/.test(x));
      const two = lines.findIndex((x) => /from sophia\]: missed two$/.test(x));
      assert.ok(
        header !== -1 && header < one && one < two,
        lines.join("\n"),
      );
      assert.equal(lines.filter((x) => x.includes("missed one")).length, 1);
      assert.ok(!lines.some((x) => x.includes("old news")), lines.join("\n"));
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
