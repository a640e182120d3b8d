/**
 * /quit while a file is between its key and its offer (its key gone end to
 * end, the server's answer not in yet, so no offer made): the first /quit
 * names the file in its question, and the second stops it and ends the
 * session at once, nothing left running, the file never offered. A real
 * `chat serve`, alice a real `chat connect` on a pseudo-terminal behind a
 * proxy that holds what the server sends her, bob a real `chat connect
 * --json`. Slow: in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { hasPty } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

Deno.test({
  name:
    "chat connect: a second /quit stops a file between its key and its offer and leaves at once",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-quit-between-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    try {
      const { alice, bob } = await chat.bobAndAlice(proxy.port);
      await chat.keysOf("alice", () => true);
      await chat.keysOf("bob", () => true);
      // bob's keys fetched, so the file's key is one end-to-end message
      // whose answer the server sends back.
      await alice.write("/msg bob hello\r");
      await bob.waitFor(/"text":"hello"/);
      const path = join(chat.dir, "notes.txt");
      await Deno.writeFile(path, new Uint8Array(1000).fill(7));
      // What the server answers from now on is held: the file's key goes,
      // and its answer (so its offer) does not come.
      proxy.holdAt(proxy.downBytes);
      await alice.write(`/file bob ${path}\r`);
      await proxy.holding();
      await alice.write("/quit\r");
      // Named in the question, as an offer or a transfer is. Before, the
      // first /quit asked nothing and waited for the file, for as long as
      // the server's answer took.
      await alice.waitFor(/notes\.txt to bob/);
      await alice.write("/quit\r");
      // The second ends it while the answer is still held: nothing waits
      // for it. Before, the session waited on for the file.
      const status = await alice.finish();
      assert.equal(status.code, 0, alice.stdout);
      assert.equal(proxy.heldBytes > 0, true);
      // Gone (2.1 s here, the server's goodbye held too) before the key's
      // wait of 10 s was said: nothing waited for the file.
      assert.doesNotMatch(alice.stdout, /has not answered the key/);
      proxy.release();
      await bob.write('{"cmd":"quit"}\n');
      await bob.finish();
      assert.doesNotMatch(bob.stdout, /"file_offer"/);
    } finally {
      await proxy.close();
    }
  },
});
