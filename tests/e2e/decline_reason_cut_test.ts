/**
 * A reason for not taking a file longer than the server's cut (100
 * characters, PROTOCOL.md 7.1) reaches the sender cut at a word and ended
 * with "...", not in the middle of a word. A real `chat serve`, a real
 * `chat connect --json` receiving, and a client of the library offering by
 * hand a file with a long name and no key (refused: "Cannot take '<name>':
 * the offer carries no file key").
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { MAX_DECLINED_REASON_CHARS } from "../../src/protocol/limits.ts";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect: a refusal longer than the server's cut reaches the sender cut at a word, ended with '...'", async () => {
  await using chat = await ServedChat.start("chat-decline-reason-cut-");
  await chat.serve();
  const [bob] = await chat.signIn(["bob"], {
    acceptFiles: true,
    args: ["--json"],
  });
  const carol = await ChatClient.connect(chat.url, {
    pinnedSpki: await chat.pinnedSpki(),
  });
  try {
    assert.equal((await carol.register("carol")).t, "welcome");
    const name = `${"holiday-".repeat(8)}photos.zip`;
    const reply = await carol.request({
      t: "file_offer",
      name,
      size: 10,
      to: "bob",
    });
    assert.equal(reply.t, "error", JSON.stringify(reply));
    const text = (reply as { text?: string }).text ?? "";
    const reason = text.replace(/^ERROR: .* was not sent to bob: /, "");
    assert.ok(reason.length <= MAX_DECLINED_REASON_CHARS, text);
    // Before: "... photos.zip': the offer carries no f", cut in the middle
    // of a word, nothing to show that more was said.
    assert.ok(reason.endsWith("..."), text);
    const whole = `Cannot take '${name}': the offer carries no file key`;
    const kept = reason.slice(0, -3);
    assert.ok(whole.startsWith(kept), text);
    assert.equal(whole[kept.length], " ", text);
    await bob.waitFor(/"file_failed"/);
  } finally {
    await carol.quit();
  }
  await bob.write('{"cmd":"quit"}\n');
  await bob.finish();
});
