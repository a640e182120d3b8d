/**
 * A person at a narrow terminal (40 columns): the rows a long line continues
 * on end between words, not inside one ("... always from s" / "  ophia").
 */
import assert from "node:assert/strict";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

Deno.test({
  name:
    "chat connect at 40 columns continues a long message on rows that break between words",
  ignore: !(await hasTmux()),
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-word-wrap-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(
      `${dir}/public.pem`,
      (await testKeys()).publicPem,
    );
    await using pane = new Pane();
    await pane.start(
      connectCommand({
        dir,
        port: server.port,
        user: "sophia",
        args: ["--no-time"],
      }),
      40,
      24,
    );
    await pane.waitFor(
      "the prompt",
      (l) => l.some((x) => x.startsWith("sophia>")),
    );
    const jojo = await TestClient.connect(server, "jojo");
    try {
      await jojo.client.say(
        "A fairly long public line that should wrap on a narrow terminal of forty columns",
      );
      await pane.waitFor(
        "the message",
        (l) => l.some((x) => x.includes("columns")),
      );
      // Rows as the person sees them (no -J: wrapped rows stay apart).
      const rows = (await pane.tmux("capture-pane", "-p", "-S", "-"))
        .split("\n").map((row) => row.trimEnd());
      const first = rows.indexOf("[Broadcast from jojo]: A fairly long");
      assert.ok(first >= 0, rows.join("\n"));
      assert.deepEqual(rows.slice(first + 1, first + 3), [
        "  public line that should wrap on a",
        "  narrow terminal of forty columns",
      ]);
    } finally {
      await jojo.quit();
    }
  },
});

Deno.test({
  name:
    "chat connect at 40 columns moves the first word of a message's further line whole, not cut after the line's indent, and gives a private message's bell no room",
  ignore: !(await hasTmux()),
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-word-wrap-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(
      `${dir}/public.pem`,
      (await testKeys()).publicPem,
    );
    await using pane = new Pane();
    await pane.start(
      connectCommand({
        dir,
        port: server.port,
        user: "sophia",
        args: ["--no-time"],
      }),
      40,
      24,
    );
    await pane.waitFor(
      "the prompt",
      (l) => l.some((x) => x.startsWith("sophia>")),
    );
    const jojo = await TestClient.connect(server, "jojo");
    try {
      // The second line is set in 27 columns, under "hi": its first word
      // (20 columns) does not fit after that, but does on a row.
      await jojo.client.msg(
        "sophia",
        "hi\ninternationalization is a long word\nend",
      );
      // 40 columns and the bell a private message rings: one row.
      await jojo.client.msg("sophia", "x".repeat(13));
      await pane.waitFor(
        "the message",
        (l) => l.some((x) => x.endsWith("x".repeat(13))),
      );
      const rows = (await pane.tmux("capture-pane", "-p", "-S", "-"))
        .split("\n").map((row) => row.trimEnd());
      const first = rows.indexOf("Private message from jojo: hi");
      assert.ok(first >= 0, rows.join("\n"));
      assert.deepEqual(rows.slice(first + 1, first + 5), [
        `${" ".repeat(20)}internationalization`,
        "  is a long word",
        `${" ".repeat(27)}end`,
        `Private message from jojo: ${"x".repeat(13)}`,
      ]);
    } finally {
      await jojo.quit();
    }
  },
});
