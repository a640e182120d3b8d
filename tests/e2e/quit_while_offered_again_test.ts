/**
 * A non-interactive client (`chat connect --json`, or its input not a
 * terminal) told to quit while a file waits to be offered again (its
 * recipient's connection broke mid-transfer, and they are away) leaves
 * promptly, saying once which file was left undelivered and to whom; it
 * does not wait out the 5 minutes of offering it again (README
 * "Resuming"). Before, `quit` waited until the file was given up. A real
 * `chat serve`; bob a real `chat connect` behind a proxy that holds the
 * file part way, then killed; alice a real `chat connect`, its input a pipe.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const SIZE = 8 * 1024 * 1024;

for (const json of [true, false]) {
  Deno.test(
    `chat connect${
      json ? " --json" : " (input a pipe)"
    }: quit while a file waits to be offered again says what is left undelivered and leaves at once`,
    async () => {
      await using chat = await ServedChat.start("chat-quit-again-");
      await chat.serve();
      const proxy = new HoldingProxy(Number(chat.port));
      try {
        const [bob] = await chat.signIn(["bob"], {
          acceptFiles: true,
          port: proxy.port,
        });
        const [alice] = await chat.signIn(["alice"], {
          args: json ? ["--json"] : [],
        });
        const path = join(chat.dir, "big.bin");
        const bytes = new Uint8Array(SIZE);
        for (let at = 0; at < SIZE; at += 65536) {
          crypto.getRandomValues(bytes.subarray(at, at + 65536));
        }
        await Deno.writeFile(path, bytes);
        proxy.holdAt(proxy.downBytes + SIZE / 4);
        await alice.write(
          json
            ? `${JSON.stringify({ cmd: "file", to: "bob", path, id: "f" })}\n`
            : `/file bob ${path}\n`,
        );
        await proxy.holding();
        bob.kill("SIGKILL");
        await bob.finish();
        proxy.release();
        await alice.waitFor(/Not sent yet: big\.bin will be offered again/);
        await alice.write(json ? '{"cmd":"quit","id":"q"}\n' : "/quit\n");
        // Well within the 5 minutes the file would be offered again for.
        const left = await Promise.race([
          alice.finish().then(() => true),
          new Promise<false>((resolve) => setTimeout(resolve, WAIT_MS, false)),
        ]);
        const said = alice.stdout + alice.stderr;
        if (!left) alice.kill();
        assert.ok(left, `still running ${WAIT_MS} ms after quit:\n${said}`);
        // Said once: which file, to whom, and that it is not offered again.
        const undelivered = said.match(
          /Not delivered: big\.bin to bob \(it was waiting to be offered again\)/g,
        );
        assert.equal(undelivered?.length, 1, said);
        if (json) {
          // Its outcome, final, by its `re`: bob did not get it.
          const finals = alice.stdout.split("\n").filter((l) =>
            l.startsWith("{")
          ).map((l) => JSON.parse(l)).filter((e) =>
            e.type === "file_sent" && e.re === "f" && e.again !== true
          );
          assert.equal(finals.length, 1, alice.stdout);
          assert.equal(finals[0].ok, false, alice.stdout);
        }
      } finally {
        await proxy.close();
      }
    },
  );
}
