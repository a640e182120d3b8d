/**
 * A file keeps its `/transfers` number from the moment it is typed until it
 * ends: the 5th and 6th files to one friend wait for a place (sending_places.ts),
 * then are offered, then sent, and `/cancel` takes the number listed while
 * they waited at each stage. Before, each stage gave the file a new number:
 * `/cancel 12` of a waiting photo5.jpg answered "Transfer 12 (photo5.jpg)
 * has already ended" once it was offered, and it was listed as 13.
 * A real `chat serve`; alice a real `chat connect` on a pseudo-terminal (so
 * that the six `/file` lines go at once, as a paste); bob a real
 * `chat connect --json`, asked, through a proxy that holds the data of the
 * file he takes part-way, so that it is still being sent when cancelled.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { type ChatProcess, hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

const FILES = MAX_RECEIVING_PER_SENDER + 2;
/** photo6.jpg's size: held part-way, it is still being sent when cancelled. */
const BIG = 8 * 1024 * 1024;

/** The JSON events of `stdout` of type `type`. */
function events(stdout: string, type: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as Record<string, unknown>).filter((e) =>
    e.type === type
  );
}

/**
 * Lists alice's transfers: the number each of `names` is listed under, and
 * what it does.
 */
async function listing(
  alice: ChatProcess,
  names: string[],
): Promise<Map<string, { n: number; doing: string }>> {
  const from = alice.stdout.length;
  await alice.write("/transfers\r");
  return await alice.waitUntil(() => {
    const listed = new Map<string, { n: number; doing: string }>();
    for (const name of names) {
      const match = alice.stdout.slice(from).match(
        new RegExp(
          `(\\d+)\\.\\s+(offered|sending)\\s+${
            name.replace(".", "\\.")
          }\\s+to\\s+bob:\\s+(waiting to offer|waiting for an answer|[\\d.]+ (?:[KMG]i)?B)`,
        ),
      );
      if (match === null) return null;
      listed.set(name, {
        n: Number(match[1]),
        doing: `${match[2]} ${match[3]}`,
      });
    }
    return listed;
  }, `${names.join(", ")} listed`);
}

/** Types `/cancel n` and waits for its answer. */
async function cancel(alice: ChatProcess, n: number): Promise<string> {
  const from = alice.stdout.length;
  await alice.write(`/cancel ${n}\r`);
  const match = await alice.waitUntil(
    () =>
      alice.stdout.slice(from).match(
        /(Took back the offer of \S+\.|Cancelled sending \S+\.|ERROR: [^\r\n]*)/,
      ),
    `the answer to /cancel ${n}`,
  );
  return match[1]!;
}

Deno.test({
  name:
    "/transfers: a file waiting for its place keeps its number once offered and once sent, and /cancel takes it",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-number-kept-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    try {
      const [bob] = await chat.signIn(["bob"], {
        args: ["--json", "--downloads", join(chat.dir, "downloads-bob")],
        port: proxy.port,
      });
      const alice = chat.connect("alice", { tty: true });
      await alice.waitFor(/Username registered/);
      const paths: string[] = [];
      for (let i = 1; i <= FILES; i++) {
        const path = join(chat.dir, `photo${i}.jpg`);
        await Deno.writeFile(
          path,
          new Uint8Array(i === FILES ? BIG : 1000 + i),
        );
        paths.push(path);
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

      // The 5th and 6th wait for a place.
      const names = paths.map((_, i) => `photo${i + 1}.jpg`);
      const first = await listing(alice, names);
      const n = (name: string) => first.get(name)!.n;
      assert.equal(first.get("photo5.jpg")!.doing, "sending waiting to offer");
      assert.equal(first.get("photo6.jpg")!.doing, "sending waiting to offer");

      // photo1 taken back: photo5 is offered, and /cancel of the number it
      // was listed under while it waited (no listing since) takes the offer
      // back. Before: "ERROR: Transfer 5 (photo5.jpg) has already ended".
      assert.equal(
        await cancel(alice, n("photo1.jpg")),
        "Took back the offer of photo1.jpg.",
      );
      const fifth = await offers(MAX_RECEIVING_PER_SENDER + 1);
      assert.equal(fifth.at(-1)!.name, "photo5.jpg");
      assert.equal(
        await cancel(alice, n("photo5.jpg")),
        "Took back the offer of photo5.jpg.",
      );

      // photo2 taken back: photo6 is offered, listed under its number.
      assert.equal(
        await cancel(alice, n("photo2.jpg")),
        "Took back the offer of photo2.jpg.",
      );
      const sixth = await offers(MAX_RECEIVING_PER_SENDER + 2);
      assert.equal(sixth.at(-1)!.name, "photo6.jpg");
      assert.deepEqual(
        (await listing(alice, ["photo6.jpg"])).get("photo6.jpg"),
        {
          n: n("photo6.jpg"),
          doing: "offered waiting for an answer",
        },
      );

      // photo6 taken, its data held part-way: it is being sent, under the
      // number it waited under, which /cancel takes.
      proxy.holdAt(proxy.downBytes + BIG / 2);
      await bob.write(
        JSON.stringify({ cmd: "accept", xfer: sixth.at(-1)!.xfer }) + "\n",
      );
      await proxy.holding();
      const sending = (await listing(alice, ["photo6.jpg"])).get("photo6.jpg")!;
      assert.equal(sending.n, n("photo6.jpg"));
      assert.match(sending.doing, /^sending [\d.]+ (?:[KMG]i)?B$/);
      assert.equal(
        await cancel(alice, n("photo6.jpg")),
        "Cancelled sending photo6.jpg.",
      );
      proxy.release();
      await alice.write("/quit\r");
      await alice.write("/quit\r");
      await alice.finish();
      await bob.write('{"cmd":"quit"}\n');
      await bob.finish();
    } finally {
      await proxy.close();
    }
  },
});
