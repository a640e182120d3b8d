/**
 * A script lists the transfers and cancels one by its number on the next
 * line, as README says (`/transfers`, then `/cancel N`). Both run without
 * waiting for a file under way, and the listing reads the downloads folder
 * first: the cancel ran before the numbers were given and answered
 * `No transfer 1`. Real `chat serve`, alice and bob real
 * `chat connect --json`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("a script's cancel on the line after its transfers takes the number that listing gave", async () => {
  await using chat = await ServedChat.start("chat-transfers-cancel-");
  await chat.serve();
  const [alice, bob] = await chat.signIn(["alice", "bob"], {
    args: ["--json"],
  });
  const file = join(chat.dir, "notes.zip");
  await Deno.writeFile(file, new Uint8Array(2048));
  await alice.write(
    JSON.stringify({ cmd: "file", to: "bob", path: file }) + "\n",
  );
  await bob.waitFor(/"type":"file_offer"/);
  await alice.write('{"cmd":"transfers"}\n{"cmd":"cancel","number":1}\n');
  await alice.waitFor(/"re":3,/);
  // Before: {"type":"error","re":3,"code":"cancel","text":"ERROR: No transfer 1; ..."}
  assert.match(
    alice.stdout,
    /"re":3,"text":"Took back the offer of notes\.zip\."/,
  );
  await bob.waitFor(/"withdrawn":true/);
  for (const user of [alice, bob]) {
    await user.write('{"cmd":"quit"}\n');
    await user.finish();
  }
});
