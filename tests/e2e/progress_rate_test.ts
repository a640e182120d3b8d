/**
 * The sender's progress row of a file whose offer was answered late: its
 * rate and time left are those of the transfer, not of the wait for the
 * answer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, testKeys } from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const MIB = 1024 * 1024;
/** How long the recipient takes to answer: a person reading the question. */
const ANSWER_AFTER_MS = 4000;

const units: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: MIB,
  GiB: MIB * 1024,
};
const bytesOf = (n: string, unit: string) => Number(n) * units[unit]!;

// Seen: "big.bin to jojo 57.0 MiB/190.7 MiB 29% 15.7 MiB/s 9s left" a second
// into a transfer going at 60 MiB/s, the rate measured from the offer, made
// 2.5 s before jojo said yes (and a resumed file's rate counted the part
// that was already there).
Deno.test({
  name:
    "chat connect's progress row measures a file's rate from its first chunk, not from the offer",
  ignore: !(await hasTmux()),
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-progress-rate-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    const file = join(dir, "big.bin");
    using out = await Deno.open(file, { write: true, create: true });
    const block = new Uint8Array(MIB);
    for (let i = 0; i < 96; i++) {
      crypto.getRandomValues(block.subarray(0, 65536));
      await out.write(block);
    }
    const jojo = new ChatProcess(
      [
        "connect",
        `127.0.0.1:${server.port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        "jojo",
        "--downloads",
        join(dir, "jojo-downloads"),
        "--no-open",
        "--accept-files",
        "ask",
      ],
      { env: { XDG_CONFIG_HOME: join(dir, "jojo-config") } },
    );
    try {
      await jojo.waitFor(/SUCCESS: Username registered\./);
      await using pane = new Pane();
      await pane.start(
        connectCommand({ dir, port: server.port, user: "sophia" }),
        100,
        24,
      );
      await pane.waitFor("the prompt", (l) => l.some((x) => x === "sophia>"));
      await pane.type(`/file jojo ${file}`);
      await pane.keys("Enter");
      await jojo.waitFor(/sophia wants to send you big\.bin .*Accept\?/);
      // The scenario, not a synchronisation: a person answers a while later.
      await new Promise((resolve) => setTimeout(resolve, ANSWER_AFTER_MS));
      const accepted = Date.now();
      await jojo.write("y\n");
      const row =
        /big\.bin to jojo ([\d.]+) (B|KiB|MiB)\/96\.0 MiB \d+% ([\d.]+) (B|KiB|MiB)\/s/;
      let seen: { done: number; rate: number; at: number } | null = null;
      await pane.waitFor("a progress row with a rate, or the end", (l) => {
        const at = Date.now();
        for (const line of l) {
          const m = row.exec(line);
          if (m !== null && bytesOf(m[1]!, m[2]!) > 0) {
            seen = {
              done: bytesOf(m[1]!, m[2]!),
              rate: bytesOf(m[3]!, m[4]!),
              at,
            };
            return true;
          }
        }
        return l.some((x) => x.includes("sent to jojo successfully"));
      }, 60_000);
      assert.ok(seen !== null, "no progress row with bytes was seen");
      const { done, rate, at } = seen as {
        done: number;
        rate: number;
        at: number;
      };
      // What was sent since the answer, over the time since it, is at most
      // the rate shown (it was drawn before `at`, and began after `accepted`):
      // measured from the offer, it was under a half.
      const sinceAnswer = (at - accepted) / 1000;
      assert.ok(
        rate * sinceAnswer >= 0.9 * done,
        `${rate} B/s shown after ${done} B in at most ${sinceAnswer} s`,
      );
      await pane.waitFor(
        "the end",
        (l) =>
          l.some((x) => x.includes("File big.bin sent to jojo successfully")),
        60_000,
      );
    } finally {
      jojo.kill("SIGKILL");
      await jojo.finish();
    }
  },
});
