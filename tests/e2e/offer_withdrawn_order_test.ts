/**
 * Two offers wait for bob's answer, alice's asked about and carol's behind
 * it; alice takes hers back. Bob reads `alice took back the offer of ...`
 * and then carol's question, not carol's question first and the line about
 * alice's under it, between the question and its answer row. Real
 * `chat serve`, bob a real `chat connect` on a pseudo-terminal, alice and
 * carol real `chat connect --json`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

Deno.test({
  name:
    "an offer taken back while another waits behind it is said before the next question is asked",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-offer-withdrawn-order-");
    await chat.serve();
    const bob = chat.connect("bob", { tty: true });
    await bob.waitFor(/Username registered/);
    const [alice, carol] = await chat.signIn(["alice", "carol"], {
      args: ["--json"],
    });
    const first = join(chat.dir, "first.zip");
    const second = join(chat.dir, "second.txt");
    await Deno.writeFile(first, new Uint8Array(4096));
    await Deno.writeTextFile(second, "hello\n");
    await alice.write(
      JSON.stringify({ cmd: "file", to: "bob", path: first }) + "\n",
    );
    await bob.waitFor(/alice wants to send you first\.zip/);
    await carol.write(
      JSON.stringify({ cmd: "file", to: "bob", path: second }) + "\n",
    );
    await bob.waitFor(/1 of 2 offers/);
    await alice.write('{"cmd":"transfers"}\n');
    await alice.waitFor(/1\. offered first\.zip to bob/);
    await alice.write('{"cmd":"cancel","number":1}\n');
    await bob.waitFor(/carol wants to send you second\.txt \(6 B\)\. Accept\?/);
    await bob.waitFor(/alice\s+took\s+back\s+the\s+offer\s+of\s+first\.zip/);
    const tookBack = bob.stdout.search(/alice\s+took\s+back\s+the\s+offer/);
    const question = bob.stdout.search(
      /carol wants to send you second\.txt \(6 B\)\. Accept\?/,
    );
    // Before: carol's question came first, the line about alice's after it.
    assert.ok(tookBack < question, bob.stdout);
    await bob.write("/quit\r");
    await bob.finish();
    // Their files were taken back and declined: each exits 1, as a script
    // with a failed command does.
    for (const user of [alice, carol]) {
      await user.write('{"cmd":"quit"}\n');
      await user.finish();
    }
  },
});
