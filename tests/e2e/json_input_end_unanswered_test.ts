/**
 * A `--json` script whose input ends, connected, with a line the server has
 * not answered gets one event for it, the `unanswered` error by its id, not
 * also the count meant for a person ("1 line you sent had no answer from
 * the server when you left: ..."), a notice without `re` for the same line.
 */

import assert from "node:assert/strict";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("chat connect --json: input ending with a line unanswered answers it by id, with no count of such lines besides", async () => {
  await using chat = await ServedChat.start("chat-json-end-unanswered-");
  const server = await chat.serve();
  const proxy = new HoldingProxy(Number(chat.port));
  await using _proxy = { [Symbol.asyncDispose]: () => proxy.close() };
  const bot = chat.connect("bot", { port: proxy.port, args: ["--json"] });
  await bot.waitFor(/"type":"welcome"/);
  await bot.write('{"cmd":"send","text":"first line","id":"a"}\n');
  await bot.waitFor(/"type":"sent","re":"a"/);
  // The server reads nothing more: the next line goes up unanswered.
  // Killed on the way out whatever happens: a stopped process ignores the
  // SIGTERM that the chat's disposal sends.
  using _frozen = { [Symbol.dispose]: () => server.kill("SIGKILL") };
  await server.freeze();
  const up = proxy.upBytes;
  await bot.write('{"cmd":"send","text":"stuck line","id":"b"}\n');
  await bot.waitUntil(
    () => proxy.upBytes > up || null,
    "the stuck line sent up",
  );
  // Said pending: nothing more goes up on its own until the input ends.
  await bot.waitFor(/"type":"notice","re":"b","text":"[^"]*pending/, WAIT_MS);
  const beforeEnd = proxy.upBytes;
  await bot.closeStdin();
  // Leaving has begun (its goodbye goes up): the frozen server would never
  // close the connection, so it is cut here, as a dead network would.
  await bot.waitUntil(
    () => proxy.upBytes > beforeEnd || null,
    "the goodbye sent up",
    40_000,
  );
  proxy.cutAll();
  const status = await bot.finish();
  const events = bot.stdout.split("\n").filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as JsonEvent);
  assert.deepEqual(
    events.filter((event) => event.re === "b" && event.type === "error"),
    [{
      type: "error",
      re: "b",
      code: "unanswered",
      text:
        "ERROR: No answer from the server to your message to everyone before the connection ended: it may or may not be delivered, and is not sent again",
    }],
    bot.stdout,
  );
  // Before: also {"type":"notice","text":"1 line you sent had no answer
  // from the server when you left: ..."}.
  assert.deepEqual(
    events.filter((event) =>
      event.type === "notice" && /had no answer/.test(String(event.text))
    ),
    [],
    bot.stdout,
  );
  assert.equal(status.code, 1, bot.stdout);
});
