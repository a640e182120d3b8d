/**
 * Two chat connect processes with one identity and config folder: the
 * first has the end-to-end keys; the second warns, refuses private
 * messages (never in the clear) and leaves the key files alone. Once the
 * first is killed, the next one has the keys.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

function connect(dir: string, port: string, user: string): ChatProcess {
  return new ChatProcess([
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    user,
  ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
}

/** Each end-to-end key and state file's modification time and bytes. */
function e2eFiles(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of Deno.readDirSync(folder)) {
    if (!/^e2e_(keys|state)_/.test(entry.name)) continue;
    const path = join(folder, entry.name);
    files.set(
      entry.name,
      `${Deno.statSync(path).mtime?.getTime()} ${
        btoa(String.fromCharCode(...Deno.readFileSync(path)))
      }`,
    );
  }
  return files;
}

Deno.test("a second chat connect with the same identity warns and leaves the end-to-end files to the first, until it is killed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-lock-" });
  const processes: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    const server = serveProcess(dir, 0);
    processes.push(server);
    const port = await listeningPort(server);
    const folder = join(dir, "config", "chat");

    const first = connect(dir, port, "alice");
    processes.push(first);
    await first.waitFor(/Username registered/);
    // Stopped, it writes nothing, and its lock stays held.
    first.kill("SIGSTOP");
    const before = e2eFiles(folder);
    assert.ok(before.size > 0, "the first wrote no end-to-end files");

    const second = connect(dir, port, "alice2");
    processes.push(second);
    await second.waitForStderr(
      new RegExp(
        `^WARNING: Another chat connect is signed in with your end-to-end keys \\(pid ${first.child.pid}\\): private messages work in that one only`,
        "m",
      ),
    );
    await second.waitFor(/Username registered/);
    await second.write("/msg alice hello\n");
    await second.waitUntil(
      () => (second.stdout + second.stderr).match(/ERROR: Not sent: private/),
      "the private message refused",
    );
    await second.write("/quit\n");
    // A script learns from the exit status that a command failed.
    assert.equal((await second.finish()).code, 1);
    assert.doesNotMatch(second.stdout + second.stderr, /hello/);
    assert.deepEqual(e2eFiles(folder), before);

    first.kill("SIGKILL");
    await first.finish();
    const third = connect(dir, port, "alice");
    processes.push(third);
    await third.waitFor(/Username registered/);
    assert.doesNotMatch(third.stderr, /WARNING/);
    const lock = [...Deno.readDirSync(folder)].find((entry) =>
      entry.name.startsWith("e2e_lock_")
    );
    assert.ok(lock !== undefined);
    assert.equal(
      await Deno.readTextFile(join(folder, lock.name)),
      `${third.child.pid}\n`,
    );
    await third.write("/quit\n");
    assert.equal((await third.finish()).code, 0);
  } finally {
    for (const p of processes) {
      p.kill("SIGKILL");
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
