/**
 * chat connect does not start without end-to-end keys it has: when its key
 * or session files cannot be read (a peer grew the sessions' archive past
 * what is read back, a full disk, a damaged file), it stops with an error
 * instead of going on with private messages in the clear.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

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

Deno.test("chat connect whose keys are sealed under another storage key, or damaged, acknowledges none of the private messages that waited: with its files back it shows each once", async () => {
  await using chat = await ServedChat.start("chat-e2e-unreadable-wait-");
  await chat.serve("--data", chat.data);
  const [amy, bob] = await chat.signIn(["amy", "bob"], {
    wanted: hasOneTimeKeys,
  });
  await amy.write("/msg bob first, with the keys\n");
  await bob.waitFor(/Private message from amy: first, with the keys/);
  await quit(bob);
  await amy.waitFor(/\*\*\* bob left the chat \*\*\*/);
  await amy.write("/msg bob while away one\n");
  await amy.write("/msg bob while away two\n");
  await amy.waitFor(/Private message to bob: while away two/);

  const folder = join(chat.dir, "config-bob", "chat");
  const keyring = [...Deno.readDirSync(folder)].find((entry) =>
    entry.name.startsWith("e2e_keys_")
  );
  assert.ok(keyring !== undefined, "no keyring was written");
  const keyringPath = join(folder, keyring.name);
  const storageKeyPath = join(folder, "storage_key");
  const kept = {
    keyring: await Deno.readFile(keyringPath),
    storageKey: await Deno.readFile(storageKeyPath),
  };
  // A storage key that is not the one the files were sealed under, then a
  // damaged keyring: each time chat connect stops, taking nothing.
  await Deno.remove(storageKeyPath);
  const stranger = chat.connect("bob");
  assert.equal((await stranger.finish()).code, 1, stranger.stderr);
  assert.match(stranger.stderr, /does not start without your end-to-end keys/);
  await Deno.writeFile(storageKeyPath, kept.storageKey, { mode: 0o600 });
  await Deno.writeTextFile(keyringPath, "damaged");
  const damaged = chat.connect("bob");
  assert.equal((await damaged.finish()).code, 1, damaged.stderr);
  assert.match(damaged.stderr, /does not start without your end-to-end keys/);

  // The files back: what waited comes, each once, in order.
  await Deno.writeFile(keyringPath, kept.keyring);
  const back = chat.connect("bob");
  await back.waitFor(/Private message from amy: while away two/);
  for (const text of ["while away one", "while away two"]) {
    assert.equal(back.stdout.split(text).length - 1, 1, back.stdout);
  }
  assert.match(back.stdout, /while away one[\s\S]*while away two/);
  assert.doesNotMatch(back.stdout + back.stderr, /could not be opened/);
  await quit(back);
  await quit(amy);
});
