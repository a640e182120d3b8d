import assert from "node:assert/strict";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

// Seen: `/msg sophia note` by sophia herself printed
// "[history ...] Private message from sophia: note" (the copy the server
// delivers, found in her own archive) before "Private message to sophia: note".
Deno.test("chat connect shows a private message to oneself once, as sent, and in /history", async () => {
  await using chat = await ServedChat.start("chat-note-to-self-");
  await chat.serve("--data", ":memory:", "--no-web");
  const [sophia] = await chat.signIn(["sophia"]);
  await sophia.write("/msg sophia note to self\n/history sophia 5\n");
  await sophia.waitFor(/End of history for your conversation with sophia/);
  await quit(sophia);
  const lines = sophia.stdout.split("\n");
  const from = lines.filter((l) =>
    l.endsWith("Private message from sophia: note to self")
  );
  assert.deepEqual(
    lines.filter((l) => l.includes("note to self")),
    [
      "Private message to sophia: note to self",
      ...from,
    ],
    sophia.stdout,
  );
  // Once: the line /history shows.
  assert.equal(from.length, 1, sophia.stdout);
  assert.match(from[0]!, /^\[history [\d-]+ [\d:]+\] Private message from/);
});
