/**
 * A file refused before its key was asked for (too large here) is named by
 * the refusal when its key, and with it its name, came end to end before
 * it: --json's `file_failed` says `big.bin`, not the offer's placeholder
 * `(end-to-end)`. A real `chat serve`, real `chat connect --json` processes
 * with end-to-end keys on both sides.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect --json: a file refused as too large before its key was asked for is named in file_failed by its real name", async () => {
  await using chat = await ServedChat.start("chat-refused-file-named-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json", "--max-file-size", "1024"],
  });
  const [alice] = await chat.signIn(["alice"], { args: ["--json"] });
  const path = join(chat.dir, "big.bin");
  await Deno.writeFile(path, new Uint8Array(4096));
  await alice.write(JSON.stringify({ cmd: "file", to: "bob", path }) + "\n");
  const [line] = await bob.waitFor(/\{"type":"file_failed".*\}/);
  const failed = JSON.parse(line) as { name: string; reason: string };
  // Before: "(end-to-end)".
  assert.equal(failed.name, "big.bin", bob.stdout);
  assert.match(failed.reason, /over the limit/, bob.stdout);
  await alice.waitFor(/"type":"error".*big\.bin was not sent to bob/);
  for (const user of [alice, bob]) {
    await user.write('{"cmd":"quit"}\n');
    await user.finish();
  }
});
