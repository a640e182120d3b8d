/**
 * chat connect does not start without end-to-end keys it has: when its key
 * or session files cannot be read (a peer grew the sessions' archive past
 * what is read back, a full disk, a damaged file), it stops with an error
 * instead of going on with private messages in the clear.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect stops, rather than send private messages in the clear, when its end-to-end files cannot be read", async () => {
  await using chat = await ServedChat.start("chat-e2e-unreadable-");
  await chat.serve();
  // A first start writes the keys.
  const first = chat.connect("alice", { config: "config" });
  await first.waitFor(/Username registered/);
  await first.write("/quit\n");
  assert.equal((await first.finish()).code, 0);
  const folder = join(chat.dir, "config", "chat");
  const keys = [...Deno.readDirSync(folder)].find((entry) =>
    entry.name.startsWith("e2e_keys_")
  );
  assert.ok(keys !== undefined, "no keyring was written");
  await Deno.writeTextFile(join(folder, keys.name), "damaged");

  const second = chat.connect("alice", { config: "config" });
  const status = await second.finish();
  assert.equal(status.code, 1, second.stdout + second.stderr);
  assert.match(
    second.stderr,
    /^ERROR: .*chat connect does not start without your end-to-end keys/m,
  );
  assert.doesNotMatch(second.stdout, /Username registered/);
});
