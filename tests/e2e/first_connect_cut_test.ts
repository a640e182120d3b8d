/**
 * `chat connect` whose first connection the server cuts in its handshake
 * (no Close frame: as the server cuts the oldest connection still in its
 * handshake of the address holding the most when another address needs
 * the room at its cap of connections still starting, docs/PROTOCOL.md
 * 1.1) tries again with a reconnection's waits, saying so
 * once, as the page does, rather than ending with a final error; and
 * gives up after FIRST_CONNECT_TRIES. A real server behind a real proxy
 * that cuts the first connections after their upgrade, and real
 * `chat connect --json` processes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { HandshakeCutProxy } from "../_helpers/handshake_cut_proxy.ts";
import { ChatProcess, makeKeys, shellQuote } from "../_helpers/process.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";
import { WAIT_MS } from "../_helpers/patience.ts";
import { FIRST_CONNECT_TRIES } from "../../src/client/reconnect_status.ts";
import { HANDSHAKE_TIMEOUT_MS } from "../../src/protocol/limits.ts";

const TMUX = await hasTmux();

function connectJson(dir: string, port: number, pub: string): ChatProcess {
  return new ChatProcess(
    [
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      pub,
      "--user",
      "jojo",
      "--downloads",
      join(dir, "downloads"),
      "--json",
    ],
    { env: { XDG_CONFIG_HOME: join(dir, "config") } },
  );
}

Deno.test("chat connect --json cut in its first handshakes tries again, saying so once, and signs in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-" });
  await using server = await startTestServer();
  await using proxy = new HandshakeCutProxy(server.port, 2);
  const sophia = await TestClient.connect(server, "sophia");
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const jojo = connectJson(dir, proxy.port, pub);
  try {
    // Before: {"type":"error",...,"text":"ERROR: Cannot connect to
    // ws://127.0.0.1:PORT: the connection closed during the handshake"},
    // and the process ended.
    await jojo.waitFor(/^\{"type":"welcome".*$/m, WAIT_MS + 10_000);
    await jojo.write("hello after the cuts\n");
    await sophia.waitFor(({ text }) => text === "hello after the cuts");
    assert.equal(proxy.cutCount, 2);
    const busy = jojo.stdout.split("\n").filter((line) =>
      line.includes("did not let you in yet")
    );
    assert.equal(busy.length, 1, jojo.stdout);
    assert.match(busy[0]!, /"type":"notice"/);
    assert.match(
      busy[0]!,
      new RegExp(
        `The server at ws://127\\.0\\.0\\.1:${proxy.port} did not let you in yet \\(it closed the connection during the handshake\\); it may be busy, as when a whole class joins at once: trying again, up to ${
          FIRST_CONNECT_TRIES - 1
        } times`,
      ),
    );
    assert.ok(!jojo.stdout.includes('"type":"error"'), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect --json cut in every handshake gives up after FIRST_CONNECT_TRIES tries with one final error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-all-" });
  await using server = await startTestServer();
  await using proxy = new HandshakeCutProxy(server.port, Infinity);
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const jojo = connectJson(dir, proxy.port, pub);
  try {
    const status = await jojo.finish();
    assert.equal(status.code, 1, jojo.stdout + jojo.stderr);
    assert.equal(proxy.cutCount, FIRST_CONNECT_TRIES, jojo.stdout);
    const errors = jojo.stdout.split("\n").filter((line) =>
      line.includes('"type":"error"')
    );
    assert.equal(errors.length, 1, jojo.stdout);
    assert.match(
      errors[0]!,
      /ERROR: Cannot connect to ws:\/\/127\.0\.0\.1:\d+: the connection closed during the handshake/,
    );
    assert.equal(
      jojo.stdout.split("\n").filter((line) =>
        line.includes("did not let you in yet")
      ).length,
      1,
      jojo.stdout,
    );
  } finally {
    await jojo.closeStdin().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect --json whose pinned key is not the server's says so at once and never tries again, though a cut would be", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-key-" });
  await using server = await startTestServer();
  await using proxy = new HandshakeCutProxy(server.port, 0);
  await makeKeys(join(dir, "other"));
  const jojo = connectJson(
    dir,
    proxy.port,
    join(dir, "other", "public.pem"),
  );
  try {
    const status = await jojo.finish();
    assert.equal(status.code, 1, jojo.stdout + jojo.stderr);
    assert.equal(proxy.links, 1, jojo.stdout);
    assert.match(jojo.stdout, /Server key mismatch/);
    assert.ok(!jojo.stdout.includes("trying again"), jojo.stdout);
  } finally {
    await jojo.closeStdin().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "chat connect on a terminal leaves at once at a second Ctrl-C while its first connection waits to try again",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-ctrl-c-" });
    await using server = await startTestServer();
    await using proxy = new HandshakeCutProxy(server.port, Infinity);
    await Deno.writeTextFile(
      join(dir, "public.pem"),
      (await testKeys()).publicPem,
    );
    await using pane = new Pane();
    const command = connectCommand({ dir, port: proxy.port, user: "jojo" });
    await pane.start([
      "sh",
      "-c",
      `${command.map(shellQuote).join(" ")}; echo "EXITED $?"; sleep 600`,
    ]);
    // The wait before the 5th try is 4 to 8 s: Ctrl-C comes inside it.
    await proxy.cut(4);
    await pane.waitFor(
      "the retry line",
      (lines) => lines.some((line) => line.includes("did not let you in yet")),
    );
    await pane.keys("C-c");
    await pane.waitFor(
      "the hint of Ctrl-C",
      (lines) => lines.some((line) => line.includes("Ctrl-C again")),
    );
    await pane.keys("C-c");
    const lines = await pane.waitFor(
      "the client to end",
      (lines) => lines.some((line) => line.startsWith("EXITED")),
    );
    // Before: the client went on to its 5th and 6th tries, then said the
    // final error.
    assert.equal(proxy.links, 4, lines.join("\n"));
    assert.ok(lines.includes("EXITED 0"), lines.join("\n"));
    assert.ok(!lines.some((line) => line.includes("ERROR")), lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "chat connect on a terminal meeting a server it does not know yet leaves at once at Ctrl-D while its first connection waits to try again",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-ask-" });
    await using server = await startTestServer();
    await using proxy = new HandshakeCutProxy(server.port, Infinity);
    await using pane = new Pane();
    // No --pub and no known_hosts: the server's key is asked about once
    // it is seen (asksFirst), the first use of a server by a new user.
    const command = connectCommand({ dir, port: proxy.port, user: "jojo" });
    command.splice(command.indexOf("--pub"), 2);
    await pane.start([
      "sh",
      "-c",
      `${command.map(shellQuote).join(" ")}; echo "EXITED $?"; sleep 600`,
    ]);
    // The wait before the 5th try is 4 to 8 s: Ctrl-D comes inside it.
    await proxy.cut(4);
    await pane.waitFor(
      "the retry line",
      (lines) => lines.some((line) => line.includes("did not let you in yet")),
    );
    await pane.keys("C-d");
    const lines = await pane.waitFor(
      "the client to end",
      (lines) => lines.some((line) => line.startsWith("EXITED")),
    );
    // Before: Ctrl-D was not heard before the key's question; the client
    // went on to its 5th and 6th tries, then said the final error.
    assert.equal(proxy.links, 4, lines.join("\n"));
    assert.ok(lines.includes("EXITED 0"), lines.join("\n"));
    assert.ok(!lines.some((line) => line.includes("ERROR")), lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("chat connect --json whose first handshake times out at a busy server tries again, with a waiting event, and signs in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-first-stall-" });
  await using server = await startTestServer();
  // The first connection's handshake gets no answer after the upgrade: the
  // client's own deadline (HANDSHAKE_TIMEOUT_MS) ends it.
  await using proxy = new HandshakeCutProxy(server.port, 1, "stall");
  const sophia = await TestClient.connect(server, "sophia");
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const jojo = connectJson(dir, proxy.port, pub);
  try {
    // Before: {"type":"error",...,"text":"ERROR: Cannot connect to
    // ws://127.0.0.1:PORT: the handshake did not finish within 10 s"}, and
    // the process ended.
    await jojo.waitFor(
      /^\{"type":"welcome".*$/m,
      WAIT_MS + HANDSHAKE_TIMEOUT_MS,
    );
    await jojo.write("hello after the wait\n");
    await sophia.waitFor(({ text }) => text === "hello after the wait");
    assert.equal(proxy.cutCount, 1);
    const lines = jojo.stdout.split("\n");
    const busy = lines.filter((line) =>
      line.includes("did not finish the handshake")
    );
    assert.equal(busy.length, 1, jojo.stdout);
    assert.match(
      busy[0]!,
      new RegExp(
        `"type":"notice".*The server at ws://127\\.0\\.0\\.1:${proxy.port} did not finish the handshake within 10 s; it may be busy, as when a whole class joins at once: trying again, up to ${
          FIRST_CONNECT_TRIES - 1
        } times`,
      ),
    );
    // A program is told each wait as a reconnection's: the attempt it
    // waits for, when, and why the last one failed.
    const waits = lines.filter((line) => line.includes('"state":"waiting"'))
      .map((line) => JSON.parse(line));
    assert.equal(waits.length, 1, jojo.stdout);
    assert.equal(waits[0].type, "connection");
    assert.equal(waits[0].attempt, 2);
    assert.ok(!Number.isNaN(Date.parse(waits[0].retryAt)), jojo.stdout);
    assert.match(waits[0].error, /did not finish within 10 s/);
    assert.ok(!jojo.stdout.includes('"type":"error"'), jojo.stdout);
  } finally {
    await jojo.closeStdin();
    await jojo.finish();
    await sophia.quit();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "chat connect on a terminal counts down each wait of its first connection, a line a try, and says how to give up",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-first-cut-count-" });
    await using server = await startTestServer();
    await using proxy = new HandshakeCutProxy(server.port, 2);
    await Deno.writeTextFile(
      join(dir, "public.pem"),
      (await testKeys()).publicPem,
    );
    await using pane = new Pane();
    await pane.start(connectCommand({ dir, port: proxy.port, user: "jojo" }));
    const countdown = /^Trying again in \d+ s\.\.\. \(Ctrl-D to give up\)$/;
    // Before: one line at the first wait, then nothing for the waits after
    // it (up to 10 s each): the user could not tell whether it hung.
    const lines = await pane.waitFor(
      "signed in after two waits",
      (lines) => lines.includes("SUCCESS: Username registered."),
    );
    assert.equal(
      lines.filter((line) => countdown.test(line)).length,
      2,
      lines.join("\n"),
    );
    assert.equal(
      lines.filter((line) => line.includes("did not let you in yet")).length,
      1,
      lines.join("\n"),
    );
    await Deno.remove(dir, { recursive: true });
  },
});
