/**
 * Group messages end to end between real `chat connect` processes through a
 * real `chat serve` (issue 17 item 3; docs/PROTOCOL.md 11.11): shown with the
 * seed's wording, in neither the server's database nor its log; a member who
 * left does not see what follows; an offline member gets what was said while
 * away after a server restart; a new member reads on from when they joined.
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

let probes = 0;

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
    // A fresh name each time: a name stays bound to the key that took it.
    assert.equal((await probe.register(`probe${++probes}`)).t, "welcome");
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

/** Every file under `path`, as text (latin1), joined. */
async function allBytes(path: string): Promise<string> {
  let out = "";
  for await (const entry of Deno.readDir(path)) {
    const full = join(path, entry.name);
    if (entry.isFile) {
      out += new TextDecoder("latin1").decode(await Deno.readFile(full));
    } else if (entry.isDirectory) out += await allBytes(full);
  }
  return out;
}

async function quit(process: ChatProcess): Promise<void> {
  await process.write("/quit\n");
  const status = await process.finish();
  assert.equal(status.code, 0, process.stdout + process.stderr);
}

Deno.test("chat connect sends group messages end to end: members read them, a member who left does not, an offline member gets them after a server restart, and the server keeps only ciphertext", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-group-" });
  const processes: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    let server = serveProcess(dir, 0, "--data", `${dir}/data`);
    processes.push(server);
    const servers = [server];
    const port = await listeningPort(server);
    const alice = connect(dir, port, "alice");
    const bob = connect(dir, port, "bob");
    let carol = connect(dir, port, "carol");
    processes.push(alice, bob, carol);
    for (const p of [alice, bob, carol]) {
      await p.waitFor(/SUCCESS: Username registered\./);
    }
    await waitForKeys(dir, port, "alice", "bob", "carol");
    await alice.write("/create team\n");
    await alice.waitFor(/Group 'team' created/);
    await bob.write("/join team\n");
    await bob.waitFor(/Joined group 'team'/);
    await carol.write("/join team\n");
    await carol.waitFor(/Joined group 'team'/);

    await alice.write("/group team the eagle lands at dawn\n");
    await bob.waitFor(
      /\[Receive group team message from alice\]: the eagle lands at dawn/,
    );
    await carol.waitFor(
      /\[Receive group team message from alice\]: the eagle lands at dawn/,
    );
    await bob.write("/group team bring the blue kite\n");
    await alice.waitFor(
      /\[Receive group team message from bob\]: bring the blue kite/,
    );
    await carol.waitFor(
      /\[Receive group team message from bob\]: bring the blue kite/,
    );

    // Carol leaves: what follows is sealed on new chains she never gets.
    await carol.write("/leave team\n");
    await carol.waitFor(/Left group 'team'/);
    await alice.write("/group team carol must not read this\n");
    await bob.waitFor(
      /\[Receive group team message from alice\]: carol must not read this/,
    );
    await quit(carol);
    assert.doesNotMatch(carol.stdout, /carol must not read this/);

    // Bob goes offline; alice writes; the server restarts; bob comes back.
    await quit(bob);
    await alice.write("/group team while you were away\n");
    await alice.waitFor(/while you were away/);
    await quit(alice);
    server.kill("SIGTERM");
    await server.finish();
    server = serveProcess(dir, port, "--data", `${dir}/data`);
    processes.push(server);
    servers.push(server);
    await listeningPort(server);
    const bob2 = connect(dir, port, "bob");
    processes.push(bob2);
    await bob2.waitFor(
      /\[Receive group team message from alice\]: while you were away/,
    );
    // A newcomer reads on from when they joined, not before.
    carol = connect(dir, port, "dave");
    processes.push(carol);
    await carol.waitFor(/SUCCESS: Username registered\./);
    await waitForKeys(dir, port, "dave");
    await carol.write("/join team\n");
    await carol.waitFor(/Joined group 'team'/);
    await bob2.write("/group team welcome dave\n");
    await carol.waitFor(
      /\[Receive group team message from bob\]: welcome dave/,
    );
    await carol.write("/history team\n");
    await carol.waitFor(/End of history for group 'team' \(1 message\)/);
    await quit(carol);
    await quit(bob2);
    assert.doesNotMatch(carol.stdout, /eagle|blue kite|while you were away/);

    server.kill("SIGTERM");
    await server.finish();
    const stored = await allBytes(join(dir, "data"));
    const log = servers.map((p) => p.stdout + p.stderr).join("");
    assert.ok(stored.length > 0);
    for (
      const secret of [
        "eagle lands",
        "blue kite",
        "must not read",
        "were away",
        "welcome dave",
      ]
    ) {
      assert.ok(!stored.includes(secret), `the database holds '${secret}'`);
      assert.ok(!log.includes(secret), `the log holds '${secret}'`);
    }
    for (const p of [alice, bob, bob2]) {
      assert.doesNotMatch(p.stdout + p.stderr, /host of the server can read/);
    }
  } finally {
    for (const p of processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect's /history counts the lines it shows: a group's sender key in a private conversation is stored, and not counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-group-history-" });
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
    await alice.write("/msg bob hello bob\n");
    await bob.waitFor(/Private message from alice: hello bob/);
    await alice.write("/create team\n");
    await alice.waitFor(/Group 'team' created/);
    await bob.write("/join team\n");
    await bob.waitFor(/Joined group 'team'/);
    // Alice's sender key for the group goes to bob end to end, stored in
    // their private conversation, before her first message.
    await alice.write("/group team hi team\n");
    await bob.waitFor(/\[Receive group team message from alice\]: hi team/);

    await bob.write("/history alice 5\n");
    await bob.waitFor(/End of history for your conversation with alice/);
    const from = bob.stdout.lastIndexOf("hello bob");
    const shown = bob.stdout.slice(bob.stdout.lastIndexOf("\n", from));
    assert.match(
      shown,
      /\n\[history [^\]]*\] Private message from alice: hello bob\nEnd of history for your conversation with alice \(1 message\)\.\n/,
    );
    await bob.write("/history team\n");
    await bob.waitFor(/End of history for group 'team' \(1 message\)\./);
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

Deno.test("chat connect reads a group member's messages again after /unignore: their chain came while they were ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-group-ignore-" });
  const processes: ChatProcess[] = [];
  try {
    await makeKeys(dir);
    const server = serveProcess(dir);
    processes.push(server);
    const port = await listeningPort(server);
    const alice = connect(dir, port, "alice");
    const bob = connect(dir, port, "bob");
    processes.push(alice, bob);
    for (const p of [alice, bob]) {
      await p.waitFor(/SUCCESS: Username registered\./);
    }
    await waitForKeys(dir, port, "alice", "bob");
    await alice.write("/create team\n");
    await alice.waitFor(/Group 'team' created/);
    await bob.write("/join team\n");
    await bob.waitFor(/Joined group 'team'/);
    await bob.write("/ignore alice\n");
    await bob.waitFor(/Ignoring alice/);
    await alice.write("/group team you do not hear this\n");
    await alice.waitFor(/you do not hear this/);
    await bob.write("/group team marker\n");
    await alice.waitFor(/\[Receive group team message from bob\]: marker/);
    await bob.write("/unignore alice\n");
    await bob.waitFor(/alice's messages are shown again/);
    await alice.write("/group team heard again\n");
    await bob.waitFor(
      /\[Receive group team message from alice\]: heard again/,
    );
    assert.doesNotMatch(bob.stdout, /you do not hear this/);
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
