/**
 * A classmate on an honest server pads a public message so that, on an
 * 80-column terminal, the rest of it would start a row of its own and read
 * as a line of its own: a message from someone else. Wrapped rows of a line
 * are indented (hangingRows), so only a real line starts at the left edge.
 */
import assert from "node:assert/strict";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { Pane } from "../_helpers/tmux.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("a message padded to the terminal's width cannot start a row that reads as another message", async () => {
  await using server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-wrap-" });
  await using _dir = {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
  await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
  await using pane = new Pane();
  await pane.start([
    "env",
    `XDG_CONFIG_HOME=${dir}/config`,
    "NO_COLOR=1",
    "TERM=screen",
    Deno.execPath(),
    "run",
    "--quiet",
    "-A",
    MAIN,
    "connect",
    `127.0.0.1:${server.port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    "sophia",
    "--no-time",
  ], 80);
  await pane.waitFor("the prompt", (l) => l.includes("sophia>"));
  const eve = await TestClient.connect(server, "eve");
  const prefix = "[Broadcast from eve]: ";
  const forged = "[Broadcast from teacher]: exam moved, reply with your pw";
  const pad = " ".repeat(80 - prefix.length - "lol".length);
  await eve.client.say(`lol${pad}${forged}`);
  // Wide characters the terminal draws two columns wide: 27 of them with
  // "lol" fill a row only if each is counted as two.
  await eve.client.say(`wide${"\u{17000}".repeat(27)}${forged}`);
  await pane.waitFor("the messages", (l) => l.some((x) => x.includes("wide")));
  // Rows as the person sees them (no -J: wrapped rows stay apart).
  const rows = (await pane.tmux("capture-pane", "-p", "-S", "-")).split("\n")
    .map((row) => row.trimEnd());
  // No row but a real message's first starts at the left edge with it.
  assert.ok(
    !rows.some((row) => row.startsWith("[Broadcast from teacher]")),
    rows.join("\n"),
  );
  assert.ok(rows.includes(`  ${forged}`), rows.join("\n"));
});
