/**
 * `chat connect` against a real server whose frames something on the
 * network tampers with (a proxy): the user is told what came and what it
 * may mean, not that the connection was lost, and the client reconnects.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_MESSAGE_BYTES } from "../../src/transport/tcp_websocket.ts";
import { startTestServer, testKeys } from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { announcedFrame, TamperingProxy } from "../_helpers/tampering_proxy.ts";

/**
 * Runs `chat connect` as bob through a tampering proxy in front of a real
 * server; `tamper` runs once he is in. Asserts that he came back in, quit
 * and exited without a crash; resolves with his stdout, all he wrote (stdout
 * and stderr) and exit code.
 */
async function tampered(
  tamper: (proxy: TamperingProxy, bob: ChatProcess) => Promise<void>,
): Promise<{ stdout: string; all: string; code: number }> {
  await using server = await startTestServer();
  await using proxy = new TamperingProxy(server.port);
  const dir = await Deno.makeTempDir({ prefix: "chat-tampered-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const bob = new ChatProcess([
    "connect",
    `127.0.0.1:${proxy.port}`,
    "--pub",
    pub,
    "--user",
    "bob",
  ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
  try {
    await bob.waitFor(/Username registered/);
    await tamper(proxy, bob);
    await bob.waitFor(/Reconnected as bob\./);
    await bob.write("/quit\n");
    const status = await bob.finish();
    const all = bob.stdout + bob.stderr;
    assert.doesNotMatch(all, /^\s+at .+:\d+:\d+\)?$|Uncaught|panicked/m, all);
    assert.doesNotMatch(all, /connection to the server was lost/i, all);
    assert.equal(status.signal, null, all);
    return { stdout: bob.stdout, all, code: status.code };
  } finally {
    bob.kill("SIGKILL");
    await bob.finish();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("chat connect says so when a frame from the server announces more than the protocol allows, and reconnects", async () => {
  const { stdout, code } = await tampered(async (proxy, bob) => {
    await proxy.inject(announcedFrame(2 ** 31));
    await bob.waitFor(/Reconnecting/);
  });
  assert.equal(code, 0, stdout);
  assert.match(
    stdout,
    new RegExp(
      "^The connection to the server was closed: the server broke the " +
        "WebSocket protocol \\(it sent a frame of 2147483648 bytes, over " +
        `the ${MAX_MESSAGE_BYTES} left for its message\\)\\. It may be a ` +
        "different program, or something on the network is tampering with " +
        "the connection\\. Reconnecting\\.\\.\\.$",
      "m",
    ),
  );
});

Deno.test("chat connect says so when a frame from the server fails authentication, and reconnects", async () => {
  const { stdout, all } = await tampered(async (proxy, bob) => {
    // The last byte of a sealed frame is its AES-GCM tag's.
    const changed = proxy.changeNextBinaryFrame((payload) => {
      payload[payload.length - 1]! ^= 0x01;
    });
    await bob.write("/list\n");
    await changed;
    await bob.waitFor(/Reconnecting/);
  });
  assert.match(
    stdout,
    /^The connection to the server was closed: the server sent a frame that failed the encryption's checks \(Frame \d+ failed authentication\)\. Something on the network may be tampering with the connection, or the server has a bug\. Reconnecting\.\.\.$/m,
  );
  // Said once: the /list the frame cut off is answered in a few words.
  assert.equal(all.match(/failed the encryption's checks/g)?.length, 1, all);
  for (const line of all.match(/^.*Not sent.*$/gm) ?? []) {
    assert.equal(
      line,
      "ERROR: Not sent: the connection to the server was closed.",
    );
  }
});
