/**
 * A held file given its place waits for the offer of the one given its place
 * before it (to that recipient) to be passed on, so that files reach the
 * wire in the order typed (outgoing_files.ts). While it waits, it is listed
 * still: /transfers shows it under its number, /cancel of that number stops
 * it, /quit names it and the second /quit stops it. Before, it was in no
 * list for as long as the earlier offer took (up to 27 s of retries after a
 * server's slow_down). A real `chat serve`, alice a real `chat connect` on a
 * pseudo-terminal behind a proxy that holds what the server sends her (so
 * photo5's offer is not passed on), bob a real `chat connect --json` who
 * answers nothing. Slow: in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { type ChatProcess, hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

/** Waits for `pattern` in what `p` wrote after `from` characters of it. */
function after(
  p: ChatProcess,
  from: number,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  return p.waitUntil(
    () => p.stdout.slice(from).match(pattern),
    String(pattern),
  );
}

/**
 * alice with four offers to bob under way (the most at once), photo5 and
 * photo6 held; two of the offers taken back, photo5 goes out with what the
 * server answers held, photo6 has its place and waits for photo5's offer.
 */
async function photo6WaitsItsTurn(
  chat: ServedChat,
  proxy: HoldingProxy,
): Promise<{ alice: ChatProcess; bob: ChatProcess }> {
  const { alice, bob } = await chat.bobAndAlice(proxy.port);
  await chat.keysOf("alice", () => true);
  await chat.keysOf("bob", () => true);
  await alice.write("/msg bob hello\r");
  await bob.waitFor(/"text":"hello"/);
  for (const name of ["f1", "f2", "f3", "f4", "photo5", "photo6"]) {
    await Deno.writeFile(
      join(chat.dir, `${name}.bin`),
      new Uint8Array(1000).fill(7),
    );
  }
  // One line at a time: lines coming together are asked about as a paste.
  for (const name of ["f1", "f2", "f3", "f4"]) {
    await alice.write(`/file bob ${join(chat.dir, `${name}.bin`)}\r`);
    await alice.waitFor(new RegExp(`Offering ${name}\\.bin`));
  }
  await alice.write(`/file bob ${join(chat.dir, "photo5.bin")}\r`);
  await alice.waitFor(/photo5\.bin waits/);
  await alice.write(`/file bob ${join(chat.dir, "photo6.bin")}\r`);
  await alice.waitFor(/photo6\.bin waits/);
  let mark = alice.stdout.length;
  await alice.write("/transfers\r");
  const [, one] = await after(alice, mark, /(\d+)\. offered f1\.bin/);
  const [, two] = await after(alice, mark, /(\d+)\. offered f2\.bin/);
  await after(alice, mark, /photo6\.bin to bob: waiting to offer it/);
  // From now on nothing the server sends reaches alice: photo5's offer is
  // never passed on.
  proxy.holdAt(proxy.downBytes);
  mark = alice.stdout.length;
  await alice.write(`/cancel ${one}\r`);
  await after(alice, mark, /Took back the offer of f1\.bin/);
  mark = alice.stdout.length;
  await alice.write(`/cancel ${two}\r`);
  await after(alice, mark, /Took back the offer of f2\.bin/);
  // photo5 is offered (or its key goes) and photo6 has its place: it
  // waits for photo5's offer to be passed on.
  await proxy.holding();
  return { alice, bob };
}

Deno.test({
  name:
    "chat connect: a held file waiting for the earlier one's offer is listed by /transfers and stopped by /cancel",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-held-turn-cancel-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    try {
      const { alice, bob } = await photo6WaitsItsTurn(chat, proxy);
      let mark = alice.stdout.length;
      await alice.write("/transfers\r");
      // Listed under the number it had, as waiting for photo5's offer (it
      // has its place). Before, it was in no list: "photo5.bin" alone; then
      // it said it waited for one of the 4 under way to end.
      const [, six] = await after(
        alice,
        mark,
        // The line wraps at the terminal's 80 columns after "before".
        /(\d+)\. sending photo6\.bin to bob: waiting to offer it, once the file sent before/,
      );
      mark = alice.stdout.length;
      await alice.write(`/cancel ${six}\r`);
      await after(alice, mark, /Cancelled sending photo6\.bin\./);
      assert.doesNotMatch(alice.stdout.slice(mark), /has already ended/);
      mark = alice.stdout.length;
      await alice.write("/transfers\r");
      await after(alice, mark, /photo5\.bin/);
      assert.doesNotMatch(alice.stdout.slice(mark), /photo6/);
      proxy.release();
      // photo5's offer is passed on, and photo6, stopped, is never offered.
      await bob.waitFor(/"file_offer"[^\n]*photo5/);
      await alice.write("/quit\r");
      await alice.write("/quit\r");
      await alice.finish();
      await bob.write('{"cmd":"quit"}\n');
      await bob.finish();
      assert.doesNotMatch(bob.stdout, /photo6/);
      assert.doesNotMatch(alice.stdout, /Offering photo6/);
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "chat connect: /quit names a held file waiting for the earlier one's offer and the second /quit stops it",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-held-turn-quit-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    try {
      const { alice, bob } = await photo6WaitsItsTurn(chat, proxy);
      const mark = alice.stdout.length;
      await alice.write("/quit\r");
      // Counted in the question (f3, f4, photo5 and photo6; the first
      // three named, "and 1 more"). Before, 3: photo6 was left out.
      await after(alice, mark, /4 files are still being sent/);
      await alice.write("/quit\r");
      const status = await alice.finish();
      assert.equal(status.code, 0, alice.stdout);
      proxy.release();
      await bob.write('{"cmd":"quit"}\n');
      await bob.finish();
      assert.doesNotMatch(bob.stdout, /photo6/);
    } finally {
      await proxy.close();
    }
  },
});
