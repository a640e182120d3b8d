/**
 * A script's `/file` then the end of its input (or `/quit`) sends the file
 * even when its own connection drops mid-transfer (README "Scripting"):
 * the client reconnects with the usual backoff, the transfer resumes where
 * it stopped, and it leaves once the file is through, exit 0. Before, the
 * end of input stopped the reconnecting at once: the file was lost, exit 1
 * ("Could not reconnect: the connection was closed"). A line sent just
 * before the end of input whose answer the drop cut off goes again under
 * its cid, and bob sees it once. A real `chat serve`; alice a real
 * `chat connect` behind a proxy that holds the server's answers once her
 * file is part way up, then cuts her connection; bob a real `chat connect`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const SIZE = 8 * 1024 * 1024;

for (const json of [false, true]) {
  for (const end of ["eof", "quit"] as const) {
    Deno.test(
      `chat connect${json ? " --json" : " (input a pipe)"}: /file then ${
        end === "eof" ? "the end of input" : "/quit"
      }, its connection cut mid-transfer, reconnects, sends the whole file and exits 0`,
      async () => {
        await using chat = await ServedChat.start("chat-script-drop-");
        await chat.serve();
        const proxy = new HoldingProxy(Number(chat.port));
        await using _proxy = { [Symbol.asyncDispose]: () => proxy.close() };
        const [bob] = await chat.signIn(["bob"], { acceptFiles: true });
        const [alice] = await chat.signIn(["alice"], {
          args: json ? ["--json"] : [],
          port: proxy.port,
        });
        const path = join(chat.dir, "big.bin");
        const bytes = new Uint8Array(SIZE);
        for (let at = 0; at < SIZE; at += 65536) {
          crypto.getRandomValues(bytes.subarray(at, at + 65536));
        }
        await Deno.writeFile(path, bytes);
        // A quarter of the file up, the server's answers are held: the
        // transfer stops there until the cut.
        proxy.holdAfterUp(proxy.upBytes + SIZE / 4);
        const file = json
          ? `${JSON.stringify({ cmd: "file", to: "bob", path, id: "f" })}\n`
          : `/file bob ${path}\n`;
        const quit = json ? '{"cmd":"quit","id":"q"}\n' : "/quit\n";
        await alice.write(file + (end === "quit" ? quit : ""));
        if (end === "eof") await alice.closeStdin();
        await proxy.holding();
        proxy.cutAll();
        const status = await alice.finish();
        const said = alice.stdout + alice.stderr;
        assert.equal(status.code, 0, said);
        assert.match(
          said,
          /Connection lost; reconnecting to finish sending big\.bin \(Ctrl-C to give up\)/,
        );
        await bob.waitFor(/You received file big\.bin from alice\./);
        const got = await Deno.readFile(
          join(chat.dir, "downloads-bob", "big.bin"),
        );
        const digest = async (b: Uint8Array<ArrayBuffer>) =>
          new Uint8Array(await crypto.subtle.digest("SHA-256", b)).toHex();
        assert.equal(await digest(got), await digest(bytes));
      },
    );
  }
}

Deno.test(
  "chat connect (input a pipe): a line sent just before the end of input, its answer lost in a cut, is delivered once and the script exits 0",
  async () => {
    await using chat = await ServedChat.start("chat-script-drop-line-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    await using _proxy = { [Symbol.asyncDispose]: () => proxy.close() };
    const [bob] = await chat.signIn(["bob"]);
    const [alice] = await chat.signIn(["alice"], { port: proxy.port });
    // The line reaches the server; its answer is held, then cut off.
    proxy.holdAfterUp(proxy.upBytes + 1);
    await alice.write("only once please\n");
    await alice.closeStdin();
    await proxy.holding();
    await bob.waitFor(/only once please/, WAIT_MS);
    proxy.cutAll();
    const status = await alice.finish();
    const said = alice.stdout + alice.stderr;
    assert.equal(status.code, 0, said);
    await bob.write("/quit\n");
    await bob.finish();
    assert.equal(bob.stdout.match(/only once please/g)?.length, 1, bob.stdout);
  },
);
