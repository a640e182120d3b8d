/**
 * A `--json` script whose input ends while the client reconnects learns the
 * fate of every line it wrote, by its id: a line the dropped connection cut
 * off before its answer (said pending or not) gets an `error` with code
 * `unanswered` (the server may have stored it: not "Not sent"), a line read
 * meanwhile (queued) an `error` with code `connection`, and the exit status
 * is 1.
 */

import assert from "node:assert/strict";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

for (const pending of [false, true]) {
  Deno.test(
    `chat connect --json: input ending while reconnecting answers each line by id, one cut off${
      pending ? " once said pending" : ""
    } as unanswered, exit 1`,
    async () => {
      await using chat = await ServedChat.start("chat-json-end-reconnecting-");
      const server = await chat.serve();
      const proxy = new HoldingProxy(Number(chat.port));
      await using _proxy = { [Symbol.asyncDispose]: () => proxy.close() };
      const bot = chat.connect("bot", { port: proxy.port, args: ["--json"] });
      await bot.waitFor(/"type":"welcome"/);
      await bot.write('{"cmd":"send","text":"first line","id":"a"}\n');
      await bot.waitFor(/"type":"sent","re":"a"/);
      // The server reads nothing more: the next line goes up unanswered.
      // Killed on the way out whatever happens: a stopped process ignores
      // the SIGTERM that the chat's disposal sends.
      using _frozen = { [Symbol.dispose]: () => server.kill("SIGKILL") };
      await server.freeze();
      const up = proxy.upBytes;
      await bot.write('{"cmd":"send","text":"stuck line","id":"b"}\n');
      await bot.waitUntil(
        () => proxy.upBytes > up || null,
        "the stuck line sent up",
      );
      if (pending) {
        // Before: the pending notice carried no `re`.
        await bot.waitFor(
          /"type":"notice","re":"b","text":"[^"]*pending/,
          WAIT_MS,
        );
      }
      server.kill("SIGKILL");
      await bot.waitFor(/"type":"connection","state":"lost"/);
      await bot.write('{"cmd":"send","text":"queued line","id":"c"}\n');
      await bot.waitFor(/"type":"queued","re":"c"/);
      await bot.closeStdin();
      const status = await bot.finish();
      const events = bot.stdout.split("\n").filter((line) =>
        line.startsWith("{")
      ).map((line) => JSON.parse(line) as JsonEvent);
      const answers = (re: string) =>
        events.filter((event) => event.re === re && event.type === "error");
      // Before: "ERROR: Not sent: ..." with code "internal" (once said
      // pending: no event at all, its lines never written).
      assert.deepEqual(answers("b"), [{
        type: "error",
        re: "b",
        code: "unanswered",
        text:
          "ERROR: No answer from the server to your message to everyone before the connection ended: it may or may not be delivered, and is not sent again",
      }], bot.stdout);
      assert.equal(answers("c").length, 1, bot.stdout);
      assert.equal(answers("c")[0]!.code, "connection", bot.stdout);
      assert.equal(status.code, 1, bot.stdout);
    },
  );
}
