/**
 * Reconnecting as a person sees it, in a real terminal emulator (tmux): the
 * server is killed and started again; meanwhile one status row counts down
 * and is updated in place (never a line per attempt), a line typed stays as
 * typed (once) and is counted on that row, and once back it is sent, once
 * (issue 15, item 4).
 */

import assert from "node:assert/strict";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";
import {
  type ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const TMUX = await hasTmux();

const count = (lines: string[], pattern: RegExp) =>
  lines.filter((line) => pattern.test(line)).length;

Deno.test({
  name:
    "a terminal shows one reconnect status row, updated in place; a line typed meanwhile is queued and sent once after reconnecting",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-reconnect-" });
    const servers: ChatProcess[] = [];
    try {
      await makeKeys(dir);
      servers.push(serveProcess(dir));
      const port = await listeningPort(servers[0]!);
      await using pane = new Pane();
      // Wide enough for the whole row (at 80 columns it is shortened: the
      // next test).
      await pane.start(connectCommand({ dir, port, user: "sophia" }), 200);
      await pane.waitFor("the prompt", (l) => l.some((x) => x === "sophia>"));

      servers[0]!.kill("SIGKILL");
      await servers[0]!.finish();
      // Two failed attempts later, still one row about it.
      const waiting = await pane.waitFor(
        "a second attempt",
        (l) =>
          l.some((x) => /Reconnecting in \d+ s \(attempt [3-9]/.test(x)) &&
          l.some((x) => x.includes("Last try: Cannot connect")),
        30_000,
      );
      // The status row, and once above it why: no word from the server.
      assert.equal(count(waiting, /^Reconnecting/), 1, waiting.join("\n"));
      assert.equal(
        count(
          waiting,
          /^The connection to the server was lost\. Reconnecting\.\.\.$/,
        ),
        1,
        waiting.join("\n"),
      );
      await pane.type("typed while offline");
      await pane.keys("Enter");
      const queued = await pane.waitFor(
        "the line queued",
        (l) =>
          l.includes("sophia> typed while offline") &&
          l.some((x) => x.includes("1 line queued")),
      );
      assert.equal(count(queued, /^Reconnecting/), 1, queued.join("\n"));
      // Shown once, as typed: no "(queued)" copy of it under it.
      assert.equal(
        count(queued, /typed while offline/),
        1,
        queued.join("\n"),
      );

      servers.push(serveProcess(dir, port));
      await servers[1]!.waitFor(/listening on/);
      // A key retries at once (the next wait may be several seconds).
      await pane.keys("Right");
      const back = await pane.waitFor(
        "the queued line sent",
        (l) => l.includes("Broadcast message sent: typed while offline"),
      );
      assert.equal(count(back, /Reconnected as sophia\./), 1, back.join("\n"));
      // The status row is gone: nothing about reconnecting is left behind
      // but the line that said why it began.
      assert.equal(count(back, /^Reconnecting/), 0, back.join("\n"));
      assert.equal(count(back, /Reconnecting/), 1, back.join("\n"));
      assert.equal(
        count(back, /Broadcast message sent: typed while offline/),
        1,
      );
      assert.ok(
        back.indexOf("Reconnected as sophia.") <
          back.indexOf("Broadcast message sent: typed while offline"),
      );
      await pane.type("/quit");
      await pane.keys("Enter");
    } finally {
      for (const server of servers) {
        server.kill("SIGKILL");
        await server.finish();
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// Seen at 80 columns: the row read "Reconnecting in 9 s (...) Last try:
// Cannot con...", and the server's "Server is shutting down." never reached
// the scrollback.
Deno.test({
  name:
    "a terminal keeps why the server ended the connection and the whole of a try's error in the scrollback, once; the status row fits 80 columns",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-reconnect-" });
    await makeKeys(dir);
    const server = serveProcess(dir);
    try {
      const port = await listeningPort(server);
      await using pane = new Pane();
      await pane.start(connectCommand({ dir, port, user: "sophia" }), 80);
      await pane.waitFor("the prompt", (l) => l.some((x) => x === "sophia>"));

      server.kill("SIGTERM");
      await server.finish();
      const error =
        `Cannot connect to ws://127.0.0.1:${port}: connection refused. Is 'chat serve' running there?`;
      const nonEmpty = (l: string[]) => l.filter((x) => x !== "");
      // A wait of 3 s or more comes after two tries at least (1 s, 2 s, ...).
      const row = new RegExp(
        `^Retry in ([3-9]|10) s: Cannot connect to ws://127\\.0\\.0\\.1:${port}: connection refused\\.$`,
      );
      const lines = await pane.waitFor(
        "the countdown after two tries",
        (l) =>
          row.test(nonEmpty(l).at(-2) ?? "") &&
          nonEmpty(l).at(-1) === "sophia>",
        30_000,
      );
      // Stopped by its operator: the server's words, and what happens now,
      // as a script's output says it too (README).
      assert.equal(
        count(lines, /^Server is shutting down\. Reconnecting\.\.\.$/),
        1,
        lines.join("\n"),
      );
      // Joined back from the rows it was wrapped over (hanging indent).
      const text = lines.join("\n").replaceAll("\n  ", " ");
      assert.equal(
        text.split(`Still reconnecting: ${error}`).length - 1,
        1,
        lines.join("\n"),
      );
      assert.equal(count(lines, /^Retry in/), 1, lines.join("\n"));
      await pane.type("/quit");
      await pane.keys("Enter");
      // The client is gone (its tmux session with it) before its folder goes.
      const deadline = Date.now() + WAIT_MS;
      while (await pane.tmux("has-session").then(() => true, () => false)) {
        if (Date.now() > deadline) throw new Error("the client did not end");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      server.kill("SIGKILL");
      await server.finish();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a terminal tries again once per wait while a line is typed offline, not once per key, and the waits do not grow with it",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-reconnect-" });
    await makeKeys(dir);
    const server = serveProcess(dir);
    try {
      const port = await listeningPort(server);
      await using pane = new Pane();
      await pane.start(connectCommand({ dir, port, user: "sophia" }), 200);
      await pane.waitFor("the prompt", (l) => l.some((x) => x === "sophia>"));
      server.kill("SIGKILL");
      await server.finish();
      await pane.waitFor(
        "the first wait",
        (l) => l.some((x) => /Reconnecting in \d+ s \(attempt 1;/.test(x)),
      );
      // Key by key, as a person types (one send-keys each, so one read
      // each): before, each key started an attempt, and 30 keys made it
      // attempt 30 or so, 10 s apart. The waits are 0.5-1 s, 1-2 s, 2-4 s.
      for (const key of "typed while the server was down") {
        await pane.type(key);
      }
      const lines = await pane.lines();
      const attempts = lines.flatMap((x) => {
        const found = /Reconnecting(?: in \d+ s)? \(attempt (\d+)/.exec(x);
        return found === null ? [] : [Number(found[1])];
      });
      assert.equal(attempts.length, 1, lines.join("\n"));
      assert.ok(attempts[0]! <= 3, lines.join("\n"));
      await pane.keys("C-u");
      await pane.type("/quit");
      await pane.keys("Enter");
      const deadline = Date.now() + WAIT_MS;
      while (await pane.tmux("has-session").then(() => true, () => false)) {
        if (Date.now() > deadline) throw new Error("the client did not end");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      server.kill("SIGKILL");
      await server.finish();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
