/**
 * Honest senders and recipients are never cut off by the rate limit's count
 * of file data (PROTOCOL 5.8: a chunk of less than 16 KiB that does not end
 * the file, or an acknowledgement moving less than that short of what was
 * sent, takes a token of the stray file data bucket, 64 a second, bursts of
 * 256). A real `chat serve` with its default limits and real `chat connect`
 * users: a burst of small files (each one chunk that ends it, an empty one,
 * one just over a chunk, one just over the acknowledgement step) to a friend
 * and to a group of two, every file arrives byte for byte, and no one is
 * disconnected.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FILE_ACK_BYTES, FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

/**
 * 20 files of 1 KiB, and the edges: empty, 10 bytes, just over a chunk, just
 * over an ack. Typed at once, the offers and key work of these 24 pass the
 * server's burst of 40 counted messages: before offers refused 'slow down'
 * went again after its pause, the last 7 were refused and never sent.
 */
const SIZES = [
  ...Array.from({ length: 20 }, () => 1024),
  0,
  10,
  FILE_CHUNK_BYTES + 1,
  FILE_ACK_BYTES + 10,
];

async function files(
  chat: ServedChat,
  sizes = SIZES,
): Promise<Map<string, Uint8Array>> {
  const written = new Map<string, Uint8Array>();
  for (const [index, size] of sizes.entries()) {
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
    }
    const name = `f${index}.bin`;
    await Deno.writeFile(join(chat.dir, name), bytes);
    written.set(name, bytes);
  }
  return written;
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

/** Waits until `pattern` is in `chat`'s output `times` times. */
async function untilCount(
  chat: ChatProcess,
  pattern: RegExp,
  times: number,
): Promise<void> {
  await chat.waitUntil(
    () => count(chat.stdout, pattern) >= times ? true : null,
    `${times} of ${pattern}`,
    120_000,
  );
}

/** Nothing says a connection was cut off or had to go again. */
function neverCutOff(output: string): void {
  assert.doesNotMatch(
    output,
    /too many messages|slow down|Disconnected|Reconnect|connection (?:was )?lost/i,
    output,
  );
}

Deno.test("a burst of 24 small files to a friend, typed at once, all arrive in the order typed, and those the server refused as too fast go again after its pause", async () => {
  await using chat = await ServedChat.start("chat-file-burst-");
  await chat.serve();
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    acceptFiles: true,
  });
  const written = await files(chat);
  // One write: every /file line reaches the client at once.
  await alice.write(
    [...written.keys()].map((name) => `/file bob ${join(chat.dir, name)}\n`)
      .join(""),
  );
  const total = written.size;
  await untilCount(alice, /sent to bob successfully/, total);
  for (const [name, bytes] of written) {
    assert.deepEqual(
      await Deno.readFile(join(chat.dir, "downloads-bob", name)),
      bytes,
      name,
    );
  }
  assert.equal(count(bob.stdout, /You received file/), total, bob.stdout);
  // Offered in the order typed: one refused as too fast went again in its
  // turn, before those typed after it.
  assert.deepEqual(
    [...alice.stdout.matchAll(/Offering (f\d+\.bin)/g)].map((m) => m[1]),
    [...written.keys()],
    alice.stdout,
  );
  neverCutOff(alice.stdout + alice.stderr);
  neverCutOff(bob.stdout + bob.stderr);
  await quit(bob);
  await quit(alice);
});

Deno.test("a burst of 14 small group files to two members all arrive, and neither the sender nor a member acknowledging is cut off", async () => {
  await using chat = await ServedChat.start("chat-file-burst-group-");
  await chat.serve();
  const [bob, carol, alice] = await chat.signIn(["bob", "carol", "alice"], {
    acceptFiles: true,
  });
  await alice.write("/create team\n");
  await alice.waitFor(/Group 'team' created/);
  for (const member of [bob, carol]) {
    await member.write("/join team\n");
    await member.waitFor(/Joined group 'team'/);
  }
  // A group file costs more counted messages (the members asked for, its
  // key to each): 14 typed at once pass the burst, and before offers and
  // keys refused 'ERROR: slow down' went again after the pause, some were
  // never sent.
  const written = await files(chat, SIZES.slice(10));
  await alice.write(
    [...written.keys()].map((name) =>
      `/groupfile team ${join(chat.dir, name)}\n`
    ).join(""),
  );
  const total = written.size;
  await untilCount(
    alice,
    /sent to group team: received by bob, carol\./,
    total,
  );
  for (const [member, name] of [[bob, "bob"], [carol, "carol"]] as const) {
    assert.equal(
      count(member.stdout, /\[Receive f\d+\.bin from Group team alice\]/),
      total,
      member.stdout,
    );
    for (const [file, bytes] of written) {
      assert.deepEqual(
        await Deno.readFile(join(chat.dir, `downloads-${name}`, file)),
        bytes,
        `${name}: ${file}`,
      );
    }
  }
  for (const user of [alice, bob, carol]) {
    neverCutOff(user.stdout + user.stderr);
  }
  for (const user of [bob, carol, alice]) await quit(user);
});

Deno.test("a 48 MiB file goes through whole: its 384 chunks of 128 KiB and its acknowledgements every 1 MiB are paced by the window, not counted (past 256 they would cut the sender off)", async () => {
  await using chat = await ServedChat.start("chat-file-big-rate-");
  await chat.serve();
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    acceptFiles: true,
  });
  const size = 48 * 1024 * 1024;
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  const path = join(chat.dir, "big.bin");
  await Deno.writeFile(path, bytes);
  await alice.write(`/file bob ${path}\n`);
  await alice.waitFor(/File big\.bin sent to bob successfully\./, 120_000);
  assert.deepEqual(
    await Deno.readFile(join(chat.dir, "downloads-bob", "big.bin")),
    bytes,
  );
  neverCutOff(alice.stdout + alice.stderr);
  neverCutOff(bob.stdout + bob.stderr);
  await quit(bob);
  await quit(alice);
});
