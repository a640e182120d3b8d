/**
 * A friend typing `/file` six times at once: the receiver takes 4 files
 * from one sender at once (receiving_share.ts), so the sender holds the
 * 5th and 6th until one of the first 4 ends, then offers them, in the
 * order typed (sending_places.ts). Before, both were refused and had to be
 * sent again by hand. A real `chat serve`, alice a real `chat connect` on a
 * pseudo-terminal (a script's or a program's `/file` lines go one after the
 * other), bob a real `chat connect --json`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";
import { type ChatProcess, hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

const FILES = MAX_RECEIVING_PER_SENDER + 2;

/** The JSON events of `stdout` of type `type`. */
function events(stdout: string, type: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as Record<string, unknown>).filter((e) =>
    e.type === type
  );
}

async function writeFiles(dir: string, bytes: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 1; i <= FILES; i++) {
    const path = join(dir, `photo${i}.jpg`);
    await Deno.writeFile(path, new Uint8Array(bytes + i).fill(i));
    paths.push(path);
  }
  return paths;
}

/**
 * Pastes a `/file` line for each of `paths` (all at once: asked about as a
 * paste, answered yes), as a user dropping six files on the terminal.
 */
async function pasteFiles(alice: ChatProcess, paths: string[]): Promise<void> {
  await alice.write(paths.map((path) => `/file bob ${path}\r`).join(""));
  await alice.waitFor(new RegExp(`Send ${paths.length} lines\\? \\[y/N\\]`));
  await alice.write("y\r");
}

async function quitBoth(alice: ChatProcess, bob: ChatProcess): Promise<void> {
  await alice.write("/quit\r");
  await alice.write("/quit\r");
  await alice.finish();
  await bob.write('{"cmd":"quit"}\n');
  await bob.finish();
}

Deno.test({
  name:
    "chat connect --accept-files all: 6 files sent to one friend at once all arrive, none refused",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-many-files-all-");
    await chat.serve();
    const [bob] = await chat.signIn(["bob"], {
      acceptFiles: true,
      args: ["--json"],
    });
    const alice = chat.connect("alice", { tty: true });
    await alice.waitFor(/Username registered/);
    const paths = await writeFiles(chat.dir, 16 * 1024 * 1024);
    await pasteFiles(alice, paths);
    await bob.waitUntil(
      () => events(bob.stdout, "file_received").length >= FILES ? true : null,
      `${FILES} files received`,
    );
    assert.deepEqual(events(bob.stdout, "file_failed"), [], bob.stdout);
    await quitBoth(alice, bob);
  },
});

Deno.test({
  name:
    "chat connect --json, asked: the 5th and 6th files to one friend wait, listed, until one of the first 4 ends, then are offered in the order typed",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-many-files-ask-");
    await chat.serve();
    const { alice, bob } = await chat.bobAndAlice();
    const paths = await writeFiles(chat.dir, 1000);
    await pasteFiles(alice, paths);
    const offers = (n: number) =>
      bob.waitUntil(
        () => {
          const seen = events(bob.stdout, "file_offer");
          return seen.length >= n ? seen : null;
        },
        `${n} offers`,
      );
    const asked = await offers(MAX_RECEIVING_PER_SENDER);
    // The 5th and 6th wait at alice's end, listed, and bob is not asked.
    await alice.write("/transfers\r");
    await alice.waitFor(/photo6\.jpg\s+to\s+bob:\s+waiting/);
    assert.match(alice.stdout, /photo5\.jpg\s+to\s+bob:\s+waiting/);
    // /quit names them with the others (and leaves only when typed again).
    await alice.write("/quit\r");
    await alice.waitFor(
      /6\s+files\s+are\s+still\s+being\s+sent\s+or\s+waiting\s+for\s+an\s+answer/,
    );
    assert.equal(events(bob.stdout, "file_offer").length, asked.length);
    assert.deepEqual(events(bob.stdout, "file_failed"), [], bob.stdout);
    // One taken: the 5th is offered.
    await bob.write(
      JSON.stringify({ cmd: "accept", xfer: asked[0]!.xfer }) + "\n",
    );
    const five = await offers(MAX_RECEIVING_PER_SENDER + 1);
    assert.equal(five.at(-1)!.name, "photo5.jpg");
    for (const offer of five.slice(1)) {
      await bob.write(
        JSON.stringify({ cmd: "accept", xfer: offer.xfer }) + "\n",
      );
    }
    const six = await offers(FILES);
    assert.equal(six.at(-1)!.name, "photo6.jpg");
    await bob.write(
      JSON.stringify({ cmd: "accept", xfer: six.at(-1)!.xfer }) + "\n",
    );
    await bob.waitUntil(
      () => events(bob.stdout, "file_received").length >= FILES ? true : null,
      `${FILES} files received`,
    );
    assert.deepEqual(
      events(bob.stdout, "file_offer").map((e) => e.name),
      paths.map((_, i) => `photo${i + 1}.jpg`),
    );
    assert.deepEqual(events(bob.stdout, "file_failed"), [], bob.stdout);
    await quitBoth(alice, bob);
  },
});
