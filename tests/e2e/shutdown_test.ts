import assert from "node:assert/strict";
import { ChatClient, wasUnanswered } from "../../src/client/chat_client.ts";
import { readPublicKeyFile } from "../../src/crypto/key_files.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import {
  type ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

Deno.test("RunningServer.shutdown tells every client with an encrypted goodbye and closes", async () => {
  const server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  const started = Date.now();
  await server.shutdown();
  assert.ok(Date.now() - started < 3000, "shutdown is prompt");
  for (const client of [sophia, jojo]) {
    const ending = await client.client.ended;
    assert.deepEqual(ending, {
      clean: true,
      reason: "Server is shutting down.",
      bye: "shutdown",
    });
    assert.ok(
      client.inbox.some((m) =>
        m.message.t === "bye" && m.message.reason === "shutdown"
      ),
    );
  }
  await assert.rejects(
    ChatClient.connect(server.url, { pinnedSpki: server.spki }),
  );
});

Deno.test("ChatClient.ended reports a cut connection as not clean, and pending requests fail", async () => {
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  const jojo = await TestClient.connect(server, "jojo");
  const pending = jojo.client.request({ t: "list" });
  jojo.client.abort();
  const ending = await jojo.client.ended;
  assert.equal(ending.clean, false);
  const reply = await pending;
  assert.equal(reply.t === "error" && reply.code, "internal");
  assert.match(reply.t === "error" ? reply.text : "", /^ERROR: Not sent: /);
  await sophia.waitFor((m) => m.message.t === "presence" && !m.message.online);
  await sophia.quit();
  assert.deepEqual(await sophia.client.ended, {
    clean: true,
    reason: "Disconnected.",
  });
});

Deno.test("ChatClient.quit right after sending: every message before the goodbye is still handled", async () => {
  await using server = await startTestServer({
    connectionLimits: { messagesPerSecond: 0, messagesPerSecondPerAddress: 0 },
  });
  const listener = await TestClient.connect(server, "listener");
  const talker = await TestClient.connect(server, "talker");
  // Not awaited: large enough to fill several 1 MiB frames, which the server
  // is still decrypting when the goodbye and the close arrive.
  const padding = "x".repeat(12_000);
  for (let i = 0; i < 300; i++) {
    void talker.client.say(`last words ${i} ${padding}`);
  }
  await talker.client.quit();
  await listener.waitFor((m) =>
    m.message.t === "presence" && !m.message.online
  );
  const heard = listener.inbox.filter((m) => m.message.t === "public").map((
    m,
  ) => m.text);
  assert.equal(heard.length, 300);
  assert.equal(
    heard.at(-1)?.split(" ").slice(0, 3).join(" "),
    "last words 299",
  );
  await listener.quit();
});

Deno.test("ChatClient.register cut by a SIGTERM or SIGKILL of the server process is unanswered, not refused, and the restarted server welcomes the same key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-register-restart-" });
  const data = `${dir}/data`;
  let server: ChatProcess | null = null;
  let proxy: HoldingProxy | null = null;
  try {
    await makeKeys(dir);
    const { spki } = await readPublicKeyFile(`${dir}/public.pem`);
    server = serveProcess(dir, 0, "--data", data, "--no-web");
    const port = await listeningPort(server);
    proxy = new HoldingProxy(Number(port));
    const url = `ws://127.0.0.1:${proxy.port}`;
    const identity = await testIdentity();
    const signIn = async () => {
      const client = await ChatClient.connect(url, { pinnedSpki: spki });
      return { client, reply: await client.register("sophia", identity) };
    };
    const first = await signIn();
    assert.equal(first.reply.t, "welcome");
    await first.client.quit();
    for (
      const [signal, reason] of [
        ["SIGTERM", "server is shutting down."],
        ["SIGKILL", "the connection to the server was lost."],
      ] as const
    ) {
      const client = await ChatClient.connect(url, { pinnedSpki: spki });
      // All the server says from here on waits in the proxy: once something
      // is held, the server has the register and has answered it.
      proxy.holdAt(proxy.downBytes);
      const registering = client.register("sophia", identity);
      await proxy.holding();
      server.kill(signal);
      const status = await server.finish();
      assert.equal(status.success, signal === "SIGTERM", server.stdout);
      proxy.release();
      // What the soak counted as "register refusals internal": the reply
      // this client makes up for a request its connection ended under.
      const reply = await registering;
      assert.ok(wasUnanswered(reply), JSON.stringify(reply));
      assert.equal(
        reply.t === "error" && reply.text,
        `ERROR: Not sent: ${reason}`,
      );
      assert.doesNotMatch(server.stdout, /internal error|store failed/);
      assert.equal(server.stderr, "");
      await client.ended;
      server = serveProcess(dir, port, "--data", data, "--no-web");
      await listeningPort(server);
      const again = await signIn();
      assert.equal(again.reply.t, "welcome", JSON.stringify(again.reply));
      await again.client.quit();
    }
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await proxy?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// Ctrl-C on a terminal signals the whole process group: under `deno task`
// the server gets SIGINT from the terminal and again from the task runner.
Deno.test("chat serve says 'Shutting down...' once when stopped by two signals (Ctrl-C under deno task)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-stop-twice-" });
  let server: ChatProcess | null = null;
  try {
    await makeKeys(dir);
    server = serveProcess(dir, 0, "--data", ":memory:", "--no-web");
    await listeningPort(server);
    // Two different signals: the kernel merges two pending SIGINTs into one.
    server.kill("SIGINT");
    server.kill("SIGTERM");
    const status = await server.finish();
    assert.equal(status.code, 0, server.stderr);
    assert.equal(server.stdout.match(/Shutting down\.\.\./g)?.length, 1);
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
