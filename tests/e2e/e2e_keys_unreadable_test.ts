/**
 * chat connect does not start without end-to-end keys it has: when its key
 * or session files cannot be read (a peer grew the sessions' archive past
 * what is read back, a full disk, a damaged file), it stops with an error
 * instead of going on with private messages in the clear.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

function connect(dir: string, port: string): ChatProcess {
  return new ChatProcess([
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    "alice",
  ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
}

Deno.test("chat connect stops, rather than send private messages in the clear, when its end-to-end files cannot be read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-unreadable-" });
  const processes: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    const server = serveProcess(dir, 0);
    processes.push(server);
    const port = await listeningPort(server);
    // A first start writes the keys.
    const first = connect(dir, port);
    processes.push(first);
    await first.waitFor(/Username registered/);
    await first.write("/quit\n");
    assert.equal((await first.finish()).code, 0);
    const folder = join(dir, "config", "chat");
    const keys = [...Deno.readDirSync(folder)].find((entry) =>
      entry.name.startsWith("e2e_keys_")
    );
    assert.ok(keys !== undefined, "no keyring was written");
    await Deno.writeTextFile(join(folder, keys.name), "damaged");

    const second = connect(dir, port);
    processes.push(second);
    const status = await second.finish();
    assert.equal(status.code, 1, second.stdout + second.stderr);
    assert.match(
      second.stderr,
      /^ERROR: .*chat connect does not start without your end-to-end keys/m,
    );
    assert.doesNotMatch(second.stdout, /Username registered/);
  } finally {
    for (const p of processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
