/**
 * Two `chat connect` from one OS account (the default identity key and
 * config folder shared, different names: a classroom's several terminals on
 * one machine) each keep their own end-to-end files (client/e2e_paths.ts):
 * killed and started again, both still read what comes, held or new. And a
 * keyring and sessions written by a version without names are taken over.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

async function killed(process: ChatProcess): Promise<void> {
  process.kill("SIGKILL");
  await process.finish();
}

const TROUBLE = /could not be opened|unknown or already used|ERROR|WARNING/;

Deno.test("two chat connect with one identity and config folder, as different names, both killed and started again, still read held and new private messages", async () => {
  await using chat = await ServedChat.start("chat-e2e-shared-");
  await chat.serve("--data", chat.data);
  // Started together: one identity key and one storage key come of it.
  let alice = chat.connect("alice", { config: "shared" });
  let bob = chat.connect("bob", { config: "shared" });
  const carol = chat.connect("carol", { config: "carol" });
  for (const p of [alice, bob, carol]) {
    await p.waitFor(/SUCCESS: Username registered\./);
  }
  for (const name of ["alice", "bob", "carol"]) {
    await chat.keysOf(name, hasOneTimeKeys);
  }
  await carol.write("/msg alice one for alice\n");
  await alice.waitFor(/Private message from carol: one for alice/);
  await carol.write("/msg bob one for bob\n");
  await bob.waitFor(/Private message from carol: one for bob/);
  await alice.write("/msg carol alice answers\n");
  await carol.waitFor(/Private message from alice: alice answers/);
  await bob.write("/msg carol bob answers\n");
  await carol.waitFor(/Private message from bob: bob answers/);
  const folder = join(chat.dir, "shared", "chat");
  const files = [...Deno.readDirSync(folder)].map((e) => e.name)
    .filter((name) => /^e2e_(keys|state)_[^.]+$/.test(name)).sort();
  assert.equal(files.length, 4, files.join(", "));
  assert.ok(files.every((name) => /_(alice|bob)$/.test(name)), files.join());

  await killed(alice);
  await killed(bob);
  // Held for them, on the sessions they had.
  await carol.write("/msg alice held for alice\n");
  await carol.waitFor(/Private message to alice: held for alice/);
  await carol.write("/msg bob held for bob\n");
  await carol.waitFor(/Private message to bob: held for bob/);

  alice = chat.connect("alice", { config: "shared" });
  bob = chat.connect("bob", { config: "shared" });
  await alice.waitFor(/Private message from carol: held for alice/);
  await bob.waitFor(/Private message from carol: held for bob/);
  await carol.write("/msg alice new for alice\n");
  await alice.waitFor(/Private message from carol: new for alice/);
  await carol.write("/msg bob new for bob\n");
  await bob.waitFor(/Private message from carol: new for bob/);
  await alice.write("/msg carol alice is back\n");
  await carol.waitFor(/Private message from alice: alice is back/);
  await bob.write("/msg carol bob is back\n");
  await carol.waitFor(/Private message from bob: bob is back/);

  await quit(alice);
  await quit(bob);
  await quit(carol);
  for (const p of [alice, bob, carol]) {
    assert.doesNotMatch(p.stdout + p.stderr, TROUBLE);
  }
});

Deno.test("chat connect takes over the keyring and sessions a version without names kept per identity, and reads what was held for it", async () => {
  await using chat = await ServedChat.start("chat-e2e-takeover-");
  await chat.serve("--data", chat.data);
  let alice = chat.connect("alice", { config: "shared" });
  const carol = chat.connect("carol", { config: "carol" });
  for (const p of [alice, carol]) {
    await p.waitFor(/SUCCESS: Username registered\./);
  }
  for (const name of ["alice", "carol"]) {
    await chat.keysOf(name, hasOneTimeKeys);
  }
  await carol.write("/msg alice before the upgrade\n");
  await alice.waitFor(/Private message from carol: before the upgrade/);
  await quit(alice);
  // As an older version left them: e2e_keys_<fingerprint>, no name.
  const folder = join(chat.dir, "shared", "chat");
  for (const entry of [...Deno.readDirSync(folder)]) {
    const old = /^(e2e_(?:keys|state)_.+)_alice$/.exec(entry.name);
    if (old !== null) {
      await Deno.rename(join(folder, entry.name), join(folder, old[1]!));
    }
  }
  const legacy = () =>
    [...Deno.readDirSync(folder)].map((e) => e.name)
      .filter((name) => /^e2e_(keys|state)_[\w-]{43}$/.test(name));
  assert.equal(legacy().length, 2, legacy().join(", "));
  await carol.write("/msg alice after the upgrade\n");
  await carol.waitFor(/Private message to alice: after the upgrade/);

  alice = chat.connect("alice", { config: "shared" });
  await alice.waitFor(/Private message from carol: after the upgrade/);
  assert.deepEqual(legacy(), []);
  await quit(alice);
  await quit(carol);
  assert.doesNotMatch(alice.stdout + alice.stderr, TROUBLE);
});

Deno.test("chat connect of a name already running: one the server replaced ends and lets the keys go; while one cut off still has them, the newcomer gets none (one warning, /msg, /group and /file refused, no file written)", async () => {
  await using chat = await ServedChat.start("chat-e2e-same-name-");
  let proxy: HoldingProxy | null = null;
  try {
    await chat.serve("--data", chat.data);
    const carol = chat.connect("carol", { config: "carol" });
    await carol.waitFor(/SUCCESS: Username registered\./);
    await chat.keysOf("carol", hasOneTimeKeys);
    // The first, through a proxy that goes away, as its network does.
    proxy = new HoldingProxy(Number(chat.port));
    const cutOff = chat.connect("alice", {
      config: "shared",
      port: proxy.port,
    });
    await cutOff.waitFor(/SUCCESS: Username registered\./);
    await chat.keysOf("alice", hasOneTimeKeys);
    await carol.write("/msg alice before the cut\n");
    await cutOff.waitFor(/Private message from carol: before the cut/);
    const network = proxy;
    proxy = null;
    await network.close();
    await carol.waitFor(/\*\*\* alice left the chat \*\*\*/);
    const folder = join(chat.dir, "shared", "chat");
    const before = await filesIn(folder);

    // It still runs, trying to come back, with the keys.
    const newcomer = chat.connect("alice", { config: "shared" });
    await newcomer.waitFor(/SUCCESS: Username registered\./);
    await newcomer.waitForStderr(
      new RegExp(
        `^WARNING: Another chat connect signed in as alice has its end-to-end keys \\(pid ${cutOff.child.pid}\\)`,
        "m",
      ),
    );
    await newcomer.write("/msg carol not in the clear\n");
    await newcomer.waitForStderr(
      /ERROR: Not sent: private messages go from the other chat connect/,
    );
    await newcomer.write("/create crew\n/group crew nor in the group\n");
    await newcomer.waitForStderr(
      /ERROR: Not sent: group messages go from the other chat connect/,
    );
    // Nor a file, whose key would go in its offer.
    const notes = join(chat.dir, "notes.txt");
    await Deno.writeTextFile(notes, "not in the clear either\n");
    await newcomer.write(`/file carol ${notes}\n`);
    await newcomer.waitForStderr(
      /ERROR: Not sent: files go from the other chat connect/,
    );
    await newcomer.write("/quit\n");
    await newcomer.finish();
    assert.equal(newcomer.stderr.match(/WARNING/g)?.length, 1);
    assert.doesNotMatch(carol.stdout, /not in the clear/);
    assert.deepEqual(await filesIn(folder), before);

    // Once it has ended, the name's next process has the keys, sessions
    // and all.
    await killed(cutOff);
    const next = chat.connect("alice", { config: "shared" });
    await next.waitFor(/SUCCESS: Username registered\./);
    await carol.write("/msg alice after the cut\n");
    await next.waitFor(/Private message from carol: after the cut/);
    // Signed in again elsewhere while it runs: the server replaces it, it
    // ends, and the newest has the keys without a warning.
    const replacing = chat.connect("alice", { config: "shared" });
    await replacing.waitFor(/SUCCESS: Username registered\./);
    assert.equal((await next.finish()).code, 1);
    assert.match(next.stdout + next.stderr, /signed in from another place/);
    await carol.write("/msg alice to the newest\n");
    await replacing.waitFor(/Private message from carol: to the newest/);
    await replacing.write("/msg carol the newest answers\n");
    await carol.waitFor(/Private message from alice: the newest answers/);
    await quit(replacing);
    await quit(carol);
    assert.doesNotMatch(replacing.stdout + replacing.stderr, TROUBLE);
  } finally {
    await proxy?.close();
  }
});

Deno.test("chat connect without the keys (another of its name, cut off, has them) leaves end-to-end messages unacknowledged: the one with the keys gets each once it is back", async () => {
  await using chat = await ServedChat.start("chat-e2e-keyless-");
  const proxy = { current: null as HoldingProxy | null };
  try {
    await chat.serve("--data", chat.data);
    const carol = chat.connect("carol", { config: "carol" });
    await carol.waitFor(/SUCCESS: Username registered\./);
    await chat.keysOf("carol", hasOneTimeKeys);
    const network = new HoldingProxy(Number(chat.port));
    proxy.current = network;
    const keyed = chat.connect("alice", {
      config: "shared",
      port: network.port,
    });
    await keyed.waitFor(/SUCCESS: Username registered\./);
    await chat.keysOf("alice", hasOneTimeKeys);
    await carol.write("/msg alice before the cut\n");
    await keyed.waitFor(/Private message from carol: before the cut/);
    // Its network goes, and its attempts to come back hang before the
    // server's first byte until `release`.
    network.cutAll();
    network.holdAt(network.downBytes);
    await carol.waitFor(/\*\*\* alice left the chat \*\*\*/);

    const keyless = chat.connect("alice", { config: "shared" });
    await keyless.waitFor(/SUCCESS: Username registered\./);
    await keyless.waitForStderr(/^WARNING: Another chat connect signed in/m);
    // One line for the first, and a short one with the count for the
    // next (a line per burst: what waited at a sign-in comes in one).
    await carol.write("/msg alice while away one\n");
    await keyless.waitFor(
      new RegExp(
        `1 end-to-end message from carol waits for your end-to-end keys, which the chat connect signed in as you \\(pid ${keyed.child.pid}\\) has: the server keeps it for it`,
      ),
    );
    await carol.write("/msg alice while away two\n");
    await keyless.waitFor(
      /1 more end-to-end message from carol waits for your end-to-end keys \(2 in all\)/,
    );
    // Its goodbye acknowledges what it showed (ChatClient.quit), not these.
    await quit(keyless);
    assert.equal(
      keyless.stdout.match(/waits for your end-to-end keys/g)?.length,
      2,
      keyless.stdout,
    );
    assert.doesNotMatch(keyless.stdout + keyless.stderr, /while away/);

    // Back: it signs in again and is sent what waited, each once.
    network.release();
    await keyed.waitFor(/Private message from carol: while away two/);
    await carol.write("/msg alice after the cut\n");
    await keyed.waitFor(/Private message from carol: after the cut/);
    for (const text of ["while away one", "while away two", "after the cut"]) {
      assert.equal(
        keyed.stdout.split(`Private message from carol: ${text}`).length - 1,
        1,
        keyed.stdout,
      );
    }
    assert.match(keyed.stdout, /while away one[\s\S]*while away two/);
    await quit(keyed);
    await quit(carol);
    assert.doesNotMatch(keyed.stdout + keyed.stderr, TROUBLE);
  } finally {
    await proxy.current?.close();
  }
});

Deno.test("chat connect without the keys says what a /history holds end to end could not be opened, and holds nothing back for it: the one with the keys gets only what waited", async () => {
  await using chat = await ServedChat.start("chat-e2e-keyless-history-");
  const proxy = { current: null as HoldingProxy | null };
  const jojo = { current: null as ChatClient | null };
  try {
    await chat.serve("--data", chat.data);
    const first = chat.connect("alice", { config: "shared" });
    await first.waitFor(/SUCCESS: Username registered\./);
    const { fingerprint } = await chat.keysOf("alice", hasOneTimeKeys);
    // Someone at a script: what they seal is not for opening (it only
    // takes a place in the conversation), what they say is plain.
    const client = await ChatClient.connect(chat.url, {
      pinnedSpki: await chat.pinnedSpki(),
    });
    jojo.current = client;
    let left = 0;
    const leftTwice = Promise.withResolvers<void>();
    client.onMessage(({ message }) => {
      if (message.t !== "presence" || message.online) return;
      if (message.name === "alice" && ++left === 2) leftTwice.resolve();
    });
    assert.equal((await client.register("jojo")).t, "welcome");
    const bytes = (text: string) => new TextEncoder().encode(text);
    const sealed = async () =>
      assert.equal(
        (await client.request(
          { t: "e2e_msg", to: "alice", fingerprint },
          bytes("not an envelope"),
        )).t,
        "ok",
      );
    const say = async (text: string) =>
      assert.equal(
        (await client.request({ t: "msg", to: "alice" }, bytes(text))).t,
        "ok",
      );
    const UNOPENED = "A private message from jojo could not be opened";
    // With the keys, it is tried, said not to open, and acknowledged (the
    // goodbye waits for that).
    await sealed();
    await first.waitForStderr(new RegExp(UNOPENED));
    await quit(first);

    // Signed in again with the keys, then cut off: its attempts to come
    // back hang before the server's first byte until `release`.
    const network = new HoldingProxy(Number(chat.port));
    proxy.current = network;
    const keyed = chat.connect("alice", {
      config: "shared",
      port: network.port,
    });
    await keyed.waitFor(/SUCCESS: Username registered\./);
    network.cutAll();
    network.holdAt(network.downBytes);
    // Gone twice: the goodbye, then the cut.
    await leftTwice.promise;
    const keyless = chat.connect("alice", { config: "shared" });
    await keyless.waitFor(/SUCCESS: Username registered\./);
    await keyless.waitForStderr(/^WARNING: Another chat connect signed in/m);
    // Its copy in a /history: said to be unopened, not to be kept.
    await keyless.write("/history jojo\n");
    await keyless.waitFor(
      /End of history for your conversation with jojo \(0 messages; 1 could not be opened\)\./,
    );
    assert.match(
      keyless.stdout,
      new RegExp(
        `1 end-to-end message from jojo in the history could not be opened without your end-to-end keys, which the chat connect signed in as you \\(pid ${keyed.child.pid}\\) has`,
      ),
    );
    assert.doesNotMatch(
      keyless.stdout,
      /server keeps|for your end-to-end keys/,
    );
    // ... and what comes after it in the conversation is acknowledged.
    await say("after the history");
    await keyless.waitFor(/jojo: after the history/);
    // One that comes live is left for the keys, and so is what follows
    // it; its copy in a /history does not let it go.
    await sealed();
    await keyless.waitFor(
      /1 end-to-end message from jojo waits for your end-to-end keys/,
    );
    await say("behind it");
    await keyless.waitFor(/jojo: behind it/);
    await keyless.write("/history jojo\n");
    await keyless.waitFor(
      /End of history for your conversation with jojo \(2 messages; 2 could not be opened\)\./,
    );
    await quit(keyless);

    // Back: the one with the keys is sent what waited, and only that.
    network.release();
    await keyed.waitFor(/jojo: behind it/);
    assert.equal(keyed.stderr.split(UNOPENED).length - 1, 1, keyed.stderr);
    assert.doesNotMatch(keyed.stdout, /after the history/);
    await quit(keyed);
  } finally {
    await jojo.current?.quit();
    await proxy.current?.close();
  }
});

Deno.test({
  name:
    "chat connect on a terminal opens the end-to-end files of the name the server welcomed, not of one it refused first",
  ignore: !await hasPty(),
  fn: async () => {
    await using chat = await ServedChat.start("chat-e2e-asked-name-");
    await chat.serve("--data", chat.data);
    const carol = chat.connect("carol", { config: "carol" });
    await carol.waitFor(/SUCCESS: Username registered\./);
    const asked = chat.track(
      new ChatProcess([
        "connect",
        `127.0.0.1:${chat.port}`,
        "--pub",
        `${chat.dir}/public.pem`,
      ], { env: { XDG_CONFIG_HOME: join(chat.dir, "shared") }, tty: true }),
    );
    await asked.waitFor(/Enter your username: /);
    await asked.write("carol\r");
    // Bound to carol's key: refused, and asked again.
    await asked.waitFor(
      /belongs to another identity key[^]*Enter your username: /,
    );
    await asked.write("dave\r");
    await asked.waitFor(/SUCCESS: Username registered\./);
    await chat.keysOf("dave", hasOneTimeKeys);
    await carol.write("/msg dave welcome dave\n");
    await asked.waitFor(/Private message from carol: welcome dave/);
    const names = [...Deno.readDirSync(join(chat.dir, "shared", "chat"))]
      .map((e) => e.name).filter((name) => /^e2e_[^.]+$/.test(name)).sort();
    // Keys, sessions and lock: all dave's (temporary files aside).
    assert.equal(names.length, 3, names.join(", "));
    assert.ok(names.every((name) => name.endsWith("_dave")), names.join());
    await asked.write("/quit\r");
    assert.equal((await asked.finish()).code, 0, asked.stdout);
    await quit(carol);
  },
});

/** Each end-to-end file in `folder` with its modification time. */
async function filesIn(folder: string): Promise<Record<string, number>> {
  const found: Record<string, number> = {};
  for await (const entry of Deno.readDir(folder)) {
    if (/^e2e_(keys|state)_[^.]+$/.test(entry.name)) {
      found[entry.name] =
        (await Deno.stat(join(folder, entry.name))).mtime?.getTime() ?? 0;
    }
  }
  return found;
}
