/** Liveness and reconnection with real processes: dead servers are noticed, clients come back. */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { readPublicKeyFile } from "../../src/crypto/key_files.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

async function withKeys(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-live-" });
  try {
    await makeKeys(dir);
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("chat connect reconnects after a server restart, under the same name, and sends what was typed meanwhile", async () => {
  await withKeys(async (dir) => {
    let server = serveProcess(dir);
    const servers = [server];
    try {
      const port = await listeningPort(server);
      const sophia = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        "sophia",
      ]);
      await sophia.waitFor(/SUCCESS: Username registered\./);
      server.kill("SIGKILL");
      await server.finish();
      await sophia.waitFor(
        /The connection to the server was lost\. Reconnecting\.\.\.\n/,
      );
      await sophia.write("typed while offline\n");
      await sophia.waitFor(/\(queued\) typed while offline\n/);
      // Attempts fail while the server is down: said once, not per try.
      await sophia.waitFor(/Still reconnecting: Cannot connect to .*refused/);

      server = serveProcess(dir, port);
      servers.push(server);
      await server.waitFor(/listening on/);
      await sophia.waitFor(/Reconnected as sophia\./, WAIT_MS);
      const jojo = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        "jojo",
      ]);
      await jojo.waitFor(/SUCCESS: Username registered\./);
      await sophia.write("after the restart\n/quit\n");
      assert.equal((await sophia.finish()).code, 0, sophia.stdout);
      // The queued line is confirmed once it went, after the reconnection.
      assert.match(
        sophia.stdout,
        /Reconnected as sophia\.\nBroadcast message sent: typed while offline\n/,
      );
      // One line per change of state, however many attempts it took.
      assert.equal(sophia.stdout.match(/Reconnecting/g)?.length, 1);
      assert.ok(
        (sophia.stdout.match(/Still reconnecting/g)?.length ?? 0) <= 2,
        sophia.stdout,
      );
      await jojo.waitFor(/\[Broadcast from sophia\]: after the restart/);
      // Sent once: the room's history holds it once.
      await jojo.write("/history\n");
      await jojo.waitFor(/End of history|No history/);
      assert.equal(
        jojo.stdout.match(/sophia\]: typed while offline/g)?.length,
        1,
        jojo.stdout,
      );
      assert.equal((await jojo.finish()).code, 0);
    } finally {
      for (const s of servers) {
        s.kill("SIGKILL");
        await s.finish();
      }
    }
  });
});

Deno.test("chat connect --no-reconnect says the server went away and exits non-zero", async () => {
  await withKeys(async (dir) => {
    const server = serveProcess(dir);
    try {
      const port = await listeningPort(server);
      const client = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        "nana",
        "--no-reconnect",
      ]);
      await client.waitFor(/SUCCESS: Username registered\./);
      server.kill("SIGTERM");
      await client.waitFor(/Server is shutting down\./);
      assert.equal((await client.finish()).code, 1);
      assert.doesNotMatch(client.stdout, /Reconnecting/);
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("ChatClient notices a server that stops answering (frozen process) by its pings", async () => {
  await withKeys(async (dir) => {
    const server = serveProcess(dir);
    try {
      const port = await listeningPort(server);
      const { spki } = await readPublicKeyFile(`${dir}/public.pem`);
      const client = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
        pinnedSpki: spki,
        pingIntervalMs: 300,
      });
      assert.equal((await client.register("watcher")).t, "welcome");
      await server.freeze();
      const started = Date.now();
      const ending = await client.ended;
      assert.deepEqual(ending, {
        clean: false,
        reason: "The server stopped answering.",
      });
      assert.ok(Date.now() - started < 3000);
      server.kill("SIGCONT");
    } finally {
      server.kill("SIGKILL");
      await server.finish();
    }
  });
});

Deno.test("startServer pings a silent peer and closes the connection when no pong comes", async () => {
  await using server = await startTestServer({
    connectionLimits: { idleTimeoutSeconds: 1 },
  });
  // A raw TCP peer that upgrades and then never answers anything.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${
          btoa("0123456789abcdef")
        }\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const opcodes: number[] = [];
    const buffer = new Uint8Array(65536);
    let pending = new Uint8Array(0);
    const deadline = Date.now() + WAIT_MS;
    let headerDone = false;
    while (!opcodes.includes(0x8) && Date.now() < deadline) {
      const read = await conn.read(buffer);
      if (read === null) break;
      const joined = new Uint8Array(pending.byteLength + read);
      joined.set(pending);
      joined.set(buffer.subarray(0, read), pending.byteLength);
      pending = joined;
      if (!headerDone) {
        const text = new TextDecoder().decode(pending);
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) continue;
        assert.match(text, /^HTTP\/1\.1 101/);
        pending = pending.subarray(end + 4);
        headerDone = true;
      }
      // Server frames are unmasked: opcode, 7-bit or 16-bit length, payload.
      while (pending.byteLength >= 2) {
        let length = pending[1]! & 0x7f;
        let offset = 2;
        if (length === 126) {
          if (pending.byteLength < 4) break;
          length = (pending[2]! << 8) | pending[3]!;
          offset = 4;
        }
        if (pending.byteLength < offset + length) break;
        opcodes.push(pending[0]! & 0x0f);
        pending = pending.subarray(offset + length);
      }
    }
    // First the server_hello (text), then a ping when we stayed silent, then the close.
    assert.equal(opcodes[0], 0x1);
    assert.ok(opcodes.includes(0x9), `a ping was sent: ${opcodes}`);
    assert.ok(
      opcodes.indexOf(0x8) > opcodes.indexOf(0x9),
      `then a close: ${opcodes}`,
    );
  } finally {
    conn.close();
  }
});
