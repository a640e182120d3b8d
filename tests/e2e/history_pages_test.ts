/**
 * `/history NAME N` between real `chat connect` processes through a real
 * `chat serve` shows N messages even when group keys (end to end, stored in
 * the private conversation, shown as no line) are among the last N items
 * stored: the client asks again with `before` (docs/PROTOCOL.md 5.4,
 * `history`) and shows the lines oldest first with one end line.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { E2eKeyError, fetchBundle } from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
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
  ], { env: { XDG_CONFIG_HOME: join(dir, `config-${user}`) } });
}

/** Waits (with a deadline) until each of `names` has published keys. */
async function waitForKeys(
  dir: string,
  port: string,
  ...names: string[]
): Promise<void> {
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(`${dir}/public.pem`),
  );
  const probe = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
    pinnedSpki: spki,
  });
  try {
    assert.equal((await probe.register("probe")).t, "welcome");
    for (const name of names) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await fetchBundle(probe, name);
          break;
        } catch (error) {
          if (!(error instanceof E2eKeyError) || error.code !== "no_keys") {
            throw error;
          }
        }
        if (Date.now() > deadline) assert.fail(`${name} published no keys`);
        await probe.request({ t: "ping" });
      }
    }
  } finally {
    await probe.quit();
  }
}

async function quit(process: ChatProcess): Promise<void> {
  await process.write("/quit\n");
  const status = await process.finish();
  assert.equal(status.code, 0, process.stdout + process.stderr);
}

Deno.test("chat connect's /history NAME 2 shows 2 messages when the last items stored are group keys: it pages back with before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-history-pages-" });
  const processes: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    const server = serveProcess(dir, 0, "--data", `${dir}/data`);
    processes.push(server);
    const port = await listeningPort(server);
    const alice = connect(dir, port, "alice");
    const bob = connect(dir, port, "bob");
    processes.push(alice, bob);
    for (const p of [alice, bob]) {
      await p.waitFor(/SUCCESS: Username registered\./);
    }
    await waitForKeys(dir, port, "alice", "bob");
    await alice.write("/msg bob first\n");
    await bob.waitFor(/Private message from alice: first/);
    await alice.write("/msg bob second\n");
    await bob.waitFor(/Private message from alice: second/);
    // Each group's first message sends alice's sender key for it to bob end
    // to end, stored in their private conversation: the last two items
    // stored there are keys, which make no line.
    for (const group of ["team", "crew"]) {
      await alice.write(`/create ${group}\n`);
      await alice.waitFor(new RegExp(`Group '${group}' created`));
      await bob.write(`/join ${group}\n`);
      await bob.waitFor(new RegExp(`Joined group '${group}'`));
      await alice.write(`/group ${group} hi ${group}\n`);
      await bob.waitFor(
        new RegExp(
          `\\[Receive group ${group} message from alice\\]: hi ${group}`,
        ),
      );
    }

    const before = bob.stdout.length;
    await bob.write("/history alice 2\n");
    await bob.waitFor(/End of history for your conversation with alice/);
    assert.match(
      bob.stdout.slice(before),
      /^(?:[^\n]*\n)*?\[history [^\]]*\] Private message from alice: first\n\[history [^\]]*\] Private message from alice: second\nEnd of history for your conversation with alice \(2 messages\)\.\n/,
    );
    // Asked for one: the newest message, and no older one with it.
    const one = bob.stdout.length;
    await bob.write("/history alice 1\n");
    await bob.waitFor(
      /End of history for your conversation with alice \(1 message\)\./,
    );
    const shown = bob.stdout.slice(one);
    assert.match(shown, /Private message from alice: second\n/);
    assert.doesNotMatch(shown, /alice: first/);
    await quit(alice);
    await quit(bob);
  } finally {
    for (const p of processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
