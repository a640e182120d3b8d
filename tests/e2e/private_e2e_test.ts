/**
 * Private messages end to end between real `chat connect` processes through
 * a real `chat serve` (issue 17 item 2; docs/PROTOCOL.md 11.7): shown with
 * the seed's wording, never in the server's database or log, delivered
 * offline across a server restart, and kept (sealed) across client restarts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { isSealed } from "../../src/crypto/at_rest.ts";
import { allBytes } from "../_helpers/all_bytes.ts";
import { hasOneTimeKeys } from "../_helpers/published_keys.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect sends private messages end to end: shown as private messages, absent from the server's database and log", async () => {
  await using chat = await ServedChat.start("chat-e2e-private-");
  const server = await chat.serve("--data", chat.data);
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    wanted: hasOneTimeKeys,
  });

  await alice.write("/msg bob the owl flies at midnight\n");
  await bob.waitFor(
    /Private message from alice: the owl flies at midnight/,
  );
  await alice.waitFor(/Private message to bob: the owl flies at midnight/);
  await bob.write("/msg alice bring the lantern\n");
  await alice.waitFor(/Private message from bob: bring the lantern/);
  // Both sides again, on the ratchet's next steps.
  await alice.write("/msg bob and the map\n");
  await bob.waitFor(/Private message from alice: and the map/);

  await quit(alice);
  await quit(bob);
  server.kill("SIGTERM");
  await server.finish();
  const stored = await allBytes(chat.data);
  assert.ok(stored.length > 0);
  const log = server.stdout + server.stderr;
  for (const secret of ["owl flies", "lantern", "the map"]) {
    assert.ok(!stored.includes(secret), `the database holds '${secret}'`);
    assert.ok(!log.includes(secret), `the log holds '${secret}'`);
  }
  assert.doesNotMatch(
    alice.stdout + bob.stdout + alice.stderr + bob.stderr,
    // An honest host re-dates nothing (sender_time.ts).
    /host of the server can read|says it was written at/,
  );
  // The clients keep their sessions sealed at rest, 0600.
  for (const user of ["alice", "bob"]) {
    const folder = join(chat.dir, `config-${user}`, "chat");
    for (const name of ["e2e_state_", "e2e_keys_"]) {
      const file = [...Deno.readDirSync(folder)].find((e) =>
        e.name.startsWith(name)
      );
      assert.ok(file !== undefined, `${user} has no ${name} file`);
      const path = join(folder, file.name);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      const text = await Deno.readTextFile(path);
      assert.ok(isSealed(text), `${path} is not sealed`);
      assert.ok(!text.includes("lantern"));
    }
  }
});

Deno.test("an end-to-end message to someone offline, sent and read across server restarts, arrives, and the conversation goes on after both clients restart", async () => {
  await using chat = await ServedChat.start("chat-e2e-offline-");
  let server = await chat.serve("--data", chat.data);
  // Bob signs in once (publishing his keys), then leaves.
  let [bob] = await chat.signIn(["bob"], { wanted: hasOneTimeKeys });
  await quit(bob);
  // The server restarts in between: bob's keys are in its store.
  server.kill("SIGTERM");
  await server.finish();
  server = await chat.serve("--data", chat.data);

  let alice = chat.connect("alice");
  await alice.waitFor(/SUCCESS: Username registered\./);
  await alice.write("/msg bob sent while you slept\n");
  await alice.waitFor(
    /bob is offline; the message will be delivered when they connect\./,
  );
  await quit(alice);

  server.kill("SIGTERM");
  await server.finish();
  server = await chat.serve("--data", chat.data);

  bob = chat.connect("bob");
  await bob.waitFor(/Private message from alice: sent while you slept/);
  await bob.write("/msg alice good morning\n");
  await bob.waitFor(
    /alice is offline; the message will be delivered when they connect\./,
  );
  alice = chat.connect("alice");
  await alice.waitFor(/Private message from bob: good morning/);
  // The history of the conversation comes from what the clients opened.
  await alice.write("/history bob\n");
  await alice.waitFor(/End of history for your conversation with bob/);
  // Opened from the archive, and shown before the reply that ends it.
  const line = alice.stdout.search(/to bob: sent while you slept/);
  assert.ok(line >= 0, alice.stdout);
  assert.ok(
    line < alice.stdout.search(/End of history for your conversation/),
  );
  await quit(alice);
  await quit(bob);
  assert.doesNotMatch(
    alice.stdout + alice.stderr + bob.stdout + bob.stderr,
    /could not be opened|ERROR|host of the server can read|says it was written at/,
  );
});

Deno.test("chat connect /verify shows the same safety number on both sides, /list marks the contact verified once compared, and a new key is announced and changes the number", async () => {
  await using chat = await ServedChat.start("chat-e2e-verify-");
  const server = await chat.serve("--data", chat.data);
  const [bob, alice] = await chat.signIn(["bob", "alice"], {
    wanted: hasOneTimeKeys,
  });
  await alice.write("/msg bob hello\n");
  await bob.waitFor(/Private message from alice: hello/);

  const number =
    /Safety number with \w+ .*:\n {2}((?:\d{5} ){5}\d{5})\n {2}((?:\d{5} ){5}\d{5})\n/;
  await alice.write("/verify bob\n");
  const [, a1, a2] = await alice.waitFor(number);
  await bob.write("/verify alice\n");
  const [, b1, b2] = await bob.waitFor(number);
  assert.equal(`${a1} ${a2}`, `${b1} ${b2}`);
  await alice.waitFor(/bob is not verified\./);

  await alice.write("/verify bob 12345\n");
  await alice.waitForStderr(/ERROR: A safety number is 60 digits/);
  await alice.write(`/verify bob ${b1} ${b2}\n`);
  await alice.waitFor(
    /The safety numbers match: bob \(key SHA256:\S+\) is marked verified/,
  );
  await alice.write("/list\n");
  await alice.waitFor(/\*\*\* bob - Last Message: .* - verified \*\*\*/);
  await quit(bob);
  // A script exits 1 after a command failed (the short number).
  await alice.write("/quit\n");
  assert.equal((await alice.finish()).code, 1);

  // bob comes back with a new key (a new laptop; the host started afresh,
  // so the name is free): alice is warned, and the number changes, the
  // same new one on both sides.
  server.kill("SIGTERM");
  await server.finish();
  await Deno.remove(chat.data, { recursive: true });
  await Deno.remove(join(chat.dir, "config-bob"), { recursive: true });
  await chat.serve("--data", chat.data);
  // alice's client again: it remembers bob's key and that it was verified.
  const [alice2, newBob] = await chat.signIn(["alice", "bob"], {
    wanted: hasOneTimeKeys,
  });
  await newBob.write("/msg alice it is me, on a new laptop\n");
  await alice2.waitForStderr(/WARNING: bob's identity key has changed!/);
  await alice2.write("/list\n");
  await alice2.waitFor(/\*\*\* bob - .* - KEY CHANGED since verified \*\*\*/);
  await alice2.write("/trust bob\n");
  await alice2.waitFor(/Private message from bob: it is me, on a new laptop/);
  await alice2.write("/verify bob\n");
  const [, c1, c2] = await alice2.waitFor(number);
  await newBob.write("/verify alice\n");
  const [, d1, d2] = await newBob.waitFor(number);
  assert.equal(`${c1} ${c2}`, `${d1} ${d2}`);
  assert.notEqual(`${c1} ${c2}`, `${a1} ${a2}`);
  await quit(newBob);
  await quit(alice2);
});

Deno.test("chat connect /verify names the contact as the server spells it, typed in other capitals", async () => {
  await using chat = await ServedChat.start("chat-e2e-verify-spelling-");
  const server = await chat.serve("--data", chat.data);
  const [bob, alice] = await chat.signIn(["Bob", "alice"], {
    wanted: hasOneTimeKeys,
  });
  // A session open already: no key fetched, whose reply spells the name.
  await alice.write("/msg bob hello\n");
  await bob.waitFor(/Private message from alice: hello/);
  await alice.write("/verify bob\n");
  await alice.waitFor(
    /Safety number with Bob \(the same on both sides; compare it with theirs, then \/verify Bob <number>\):\n(?: {2}.*\n){2}Bob is not verified\./,
  );
  assert.doesNotMatch(alice.stdout, /with bob|bob is not verified/);
  await quit(alice);
  await quit(bob);
  server.kill("SIGTERM");
  await server.finish();
});
