/**
 * A file arrives once, even when its sender's connection breaks after the
 * recipients had all of it but before the sender heard so: the sender
 * offers it again once back (outgoing_files.ts), and each recipient, which
 * has that very file from that sender, claims it whole (received_files.ts)
 * rather than saving a second copy as `name (1).ext`. A real `chat serve`,
 * the sender a real `chat connect` behind a proxy that holds what the server
 * sends it from the moment it has sent the whole file (so the server's
 * `file_result` is held, whatever the timing) and is then cut; the
 * recipients real `chat connect`s straight to the server.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

/** Under the 4 MiB window: all of it goes without waiting for an ack. */
const SIZE = 1024 * 1024;

/** The files in `user`'s downloads folder, sorted. */
async function downloads(chat: ServedChat, user: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(chat.dir, `downloads-${user}`))) {
    if (entry.isFile) names.push(entry.name);
  }
  return names.sort();
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

/** alice behind `proxy`, signed in, her keys published. */
async function aliceVia(
  chat: ServedChat,
  proxy: HoldingProxy,
): Promise<ChatProcess> {
  const alice = chat.connect("alice", { port: proxy.port });
  await alice.waitFor(/SUCCESS: Username registered\./);
  await chat.keysOf("alice", () => true);
  return alice;
}

/** A file of SIZE random bytes named `name` in the chat's folder. */
async function randomFile(chat: ServedChat, name: string): Promise<string> {
  const bytes = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  const path = join(chat.dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("a file whose sender was cut off before hearing it arrived is received once", async () => {
  await using chat = await ServedChat.start("chat-file-once-");
  await chat.serve();
  const proxy = new HoldingProxy(Number(chat.port));
  try {
    const [bob] = await chat.signIn(["bob"], { acceptFiles: true });
    const alice = await aliceVia(chat, proxy);
    const path = await randomFile(chat, "live-f1.txt");
    // From the moment alice has sent the whole file, nothing reaches her:
    // bob's verdict is held at the proxy.
    proxy.holdAfterUp(proxy.upBytes + SIZE);
    await alice.write(`/file bob ${path}\n`);
    await bob.waitFor(/You received file live-f1\.txt from alice\./, 30_000);
    await proxy.holding();
    assert.doesNotMatch(alice.stdout, /sent to bob successfully/);
    proxy.cutAll();

    // Back, alice offers it again; bob has it already.
    await alice.waitFor(/sent to bob successfully/, 30_000);
    // Recognised, or (as before) saved a second time.
    await bob.waitFor(/here already|You received file[^]*You received file/);
    assert.deepEqual(await downloads(chat, "bob"), ["live-f1.txt"]);
    assert.equal(count(bob.stdout, /You received file/), 1, bob.stdout);
    assert.match(bob.stdout, /alice sent live-f1\.txt again, which is here/);
    assert.match(
      alice.stdout,
      /bob has live-f1\.txt already: nothing more to send/,
    );
    assert.equal(
      count(alice.stdout, /File live-f1\.txt sent to bob successfully\./),
      1,
      alice.stdout,
    );
    await quit(bob);
    // Its exit status says an error was shown: the first try's broken end.
    await alice.write("/quit\n");
    await alice.finish();
  } finally {
    await proxy.close();
  }
});

Deno.test("a group file whose sender was cut off before hearing it arrived is received once by each member", async () => {
  await using chat = await ServedChat.start("chat-file-once-group-");
  await chat.serve();
  const proxy = new HoldingProxy(Number(chat.port));
  try {
    const [bob, carol] = await chat.signIn(["bob", "carol"], {
      acceptFiles: true,
    });
    const alice = await aliceVia(chat, proxy);
    await alice.write("/create team\n");
    await alice.waitFor(/Group 'team' created/);
    for (const member of [bob, carol]) {
      await member.write("/join team\n");
      await member.waitFor(/Joined group 'team'/);
    }
    const path = await randomFile(chat, "g-f1.bin");
    proxy.holdAfterUp(proxy.upBytes + SIZE);
    await alice.write(`/groupfile team ${path}\n`);
    for (const member of [bob, carol]) {
      await member.waitFor(
        /\[Receive g-f1\.bin from Group team alice\]/,
        30_000,
      );
    }
    await proxy.holding();
    assert.doesNotMatch(alice.stdout, /sent to group team/);
    proxy.cutAll();

    await alice.waitFor(
      /File g-f1\.bin sent to group team: received by (bob, carol|carol, bob)\./,
      30_000,
    );
    for (const [member, name] of [[bob, "bob"], [carol, "carol"]] as const) {
      await member.waitFor(/here already|\[Receive g-f1[^]*\[Receive g-f1/);
      assert.deepEqual(await downloads(chat, name), ["g-f1.bin"]);
      assert.equal(count(member.stdout, /\[Receive g-f1/), 1, member.stdout);
      assert.match(
        member.stdout,
        /alice sent g-f1\.bin to group team again, which is here/,
      );
    }
    assert.match(
      alice.stdout,
      /team members have g-f1\.bin already: nothing more to send/,
    );
    await quit(bob);
    await quit(carol);
    // Its exit status says an error was shown: the first try's broken end.
    await alice.write("/quit\n");
    await alice.finish();
  } finally {
    await proxy.close();
  }
});
