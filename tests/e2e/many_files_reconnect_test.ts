/**
 * Six files pasted at once to one friend, four offered and two held at the
 * sender (sending_places.ts), when the sender's connection drops: once it
 * is back, the four go again first, then the 5th and the 6th in the order
 * typed, each once one of the four ends, and all six arrive. Before
 * (resume_order.ts), the files went again in the order their waits for the
 * connection began, which a file open on each offer made shuffled: the 6th
 * was offered before the 5th in 4 runs of 10. A real `chat serve`, alice a
 * real `chat connect` on a pseudo-terminal behind a proxy that cuts her
 * off, bob a real `chat connect --json` who answers when told. Slow: in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { hasPty } from "../_helpers/process.ts";
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

Deno.test({
  name:
    "chat connect: after the sender's connection drops, the 4 files under way go again first, then the 2 held in the order typed, and all 6 arrive",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-many-files-cut-");
    await chat.serve();
    const proxy = new GateProxy(Number(chat.port));
    try {
      const { alice, bob } = await chat.bobAndAlice(proxy.port);
      const paths: string[] = [];
      for (let i = 1; i <= FILES; i++) {
        paths.push(join(chat.dir, `photo${i}.jpg`));
        await Deno.writeFile(paths.at(-1)!, new Uint8Array(1000 + i).fill(i));
      }
      await alice.write(paths.map((path) => `/file bob ${path}\r`).join(""));
      await alice.waitFor(new RegExp(`Send ${FILES} lines\\? \\[y/N\\]`));
      await alice.write("y\r");
      const offers = (n: number) =>
        bob.waitUntil(
          () => {
            const seen = events(bob.stdout, "file_offer");
            return seen.length >= n ? seen : null;
          },
          `${n} offers`,
        );
      await offers(MAX_RECEIVING_PER_SENDER);
      await alice.waitFor(/photo6\.jpg waits: 4 files to bob/);
      proxy.cut();
      // The four under way end; the held two, which were never offered, wait
      // for the next connection without a word.
      for (let i = 1; i <= MAX_RECEIVING_PER_SENDER; i++) {
        await alice.waitFor(
          new RegExp(`photo${i}\\.jpg will be offered again`),
        );
      }
      proxy.down = false;
      await alice.waitFor(/Reconnected as alice\./);
      const again = (await offers(2 * MAX_RECEIVING_PER_SENDER)).slice(
        MAX_RECEIVING_PER_SENDER,
      );
      assert.deepEqual(
        again.map((e) => e.name).sort(),
        ["photo1.jpg", "photo2.jpg", "photo3.jpg", "photo4.jpg"],
      );
      // One of the four taken: the 5th is offered; another: the 6th.
      const accept = (offer: Record<string, unknown>) =>
        bob.write(JSON.stringify({ cmd: "accept", xfer: offer.xfer }) + "\n");
      await accept(again[0]!);
      const five = await offers(2 * MAX_RECEIVING_PER_SENDER + 1);
      assert.equal(five.at(-1)!.name, "photo5.jpg");
      await accept(again[1]!);
      const six = await offers(2 * MAX_RECEIVING_PER_SENDER + 2);
      assert.equal(six.at(-1)!.name, "photo6.jpg");
      for (const offer of [...again.slice(2), ...six.slice(-2)]) {
        await accept(offer);
      }
      await bob.waitUntil(
        () => events(bob.stdout, "file_received").length >= FILES ? true : null,
        `${FILES} files received`,
      );
      // Before, the places the cut freed went to the held two at once, which
      // were offered on the dead connection: an ERROR each, and "will be
      // offered again, resuming where it stopped" of files never offered.
      // The four under way, cut off unanswered, are not sent yet, which is
      // no ERROR (nothing is lost).
      assert.equal(
        alice.stdout.match(
          /Not sent yet: photo\d\.jpg will be offered again once reconnected/g,
        )?.length,
        MAX_RECEIVING_PER_SENDER,
      );
      assert.doesNotMatch(alice.stdout, /ERROR: Not sent/);
      assert.doesNotMatch(alice.stdout, /photo[56]\.jpg will be offered again/);
      await alice.write("/quit\r");
      await alice.finish();
      await bob.write('{"cmd":"quit"}\n');
      await bob.finish();
    } finally {
      await proxy.close();
    }
  },
});
