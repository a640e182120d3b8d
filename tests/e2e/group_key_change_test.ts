/**
 * A group member who comes back with a new identity key (a new laptop; the
 * operator released the name), once accepted with `/trust`, reads the
 * group's next messages, whether they were online or offline when those
 * were sent: the sender's chain was given to their old key, and must be
 * given again, to the new one (docs/PROTOCOL.md 11.11); a new key not yet
 * accepted is given nothing. A private message sent while they were offline
 * opens too. The other way round, a group message the member sends with the
 * new key before it is accepted is kept with the key change (its sender key
 * is held there too) and shown once `/trust` accepts it, not lost after the
 * wait for a sender key. Real `chat connect` processes through a real `chat
 * serve`.
 */

import assert from "node:assert/strict";
import { ChatProcess } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

/**
 * Waits until jojo shows sophia's `text` in `group`; fails at once with the
 * error when it could not be opened instead (its sender key never came).
 */
async function readsGroupLine(
  jojo: ChatProcess,
  group: string,
  text: string,
): Promise<void> {
  const shown = new RegExp(
    `\\[Receive group ${group} message from sophia\\]: ${text}`,
  );
  const refused = new RegExp(
    `.*from sophia in ${group} could not be opened.*`,
  );
  const outcome = await jojo.waitUntil(
    () =>
      shown.test(jojo.stdout)
        ? "shown"
        : jojo.stderr.match(refused)?.[0] ?? null,
    String(shown),
    30_000,
  );
  assert.equal(outcome, "shown");
}

Deno.test("chat connect gives its group chain again to a member whose new identity key was accepted: they read the next message, sent while they were offline or online; what they sent before it was accepted is shown once it is", async () => {
  await using chat = await ServedChat.start("chat-e2e-group-key-");
  let server = await chat.serve("--data", chat.data);
  let [sophia, jojo] = await chat.signIn(["sophia", "jojo"]);
  await sophia.write("/create haha\n");
  await sophia.waitFor(/Group 'haha' created/);
  await sophia.write("/create kiki\n");
  await sophia.waitFor(/Group 'kiki' created/);
  for (const group of ["haha", "kiki"]) {
    await jojo.write(`/join ${group}\n`);
    await jojo.waitFor(new RegExp(`Joined group '${group}'`));
    // jojo's old key is given sophia's chain.
    await sophia.write(`/group ${group} hello\n`);
    await readsGroupLine(jojo, group, "hello");
  }
  await quit(jojo);
  await quit(sophia);

  // jojo lost his key: the operator releases the name, and jojo signs in
  // with a new one (a new config folder, so a new identity file).
  server.kill("SIGTERM");
  await server.finish();
  const release = new ChatProcess([
    "admin",
    "release",
    "jojo",
    "--data",
    chat.data,
  ]);
  assert.equal((await release.finish()).code, 0, release.stderr);
  server = await chat.serve("--data", chat.data);
  sophia = chat.connect("sophia");
  jojo = chat.connect("jojo", { config: "config-jojo-new" });
  for (const p of [sophia, jojo]) {
    await p.waitFor(/SUCCESS: Username registered\./);
  }
  const [, newKey] = await jojo.waitFor(
    /Created your identity key (SHA256:\S+)/,
  );
  await chat.keysOf("jojo", ({ fingerprint }) => fingerprint === newKey);
  // The release took the name out of its groups (the next key may be
  // someone else): jojo joins them again.
  for (const group of ["kiki", "haha"]) {
    await jojo.write(`/join ${group}\n`);
    await jojo.waitFor(new RegExp(`SUCCESS: Joined group '${group}'\\.`));
  }
  // jojo writes first, with the new key: sophia holds his sender key until
  // she accepts the key, and the message with it (not refused after the
  // wait for the sender key).
  await jojo.write("/group kiki a word from my new key\n");
  await jojo.waitFor(/a word from my new key/);
  const held = await sophia.waitUntil(
    () =>
      (sophia.stdout + sophia.stderr).match(
        /A group message from jojo in kiki waits until you accept their new key|.*from jojo in kiki could not be opened.*/,
      )?.[0] ?? null,
    "jojo's group message held",
    30_000,
  );
  assert.match(held, /waits until you accept/);
  // Before sophia accepts the new key, it is given nothing: this one is
  // never read (jojo is told after 10 s; the test goes on meanwhile).
  await sophia.write("/group kiki before you were trusted\n");
  await sophia.waitFor(/before you were trusted/);
  await sophia.write("/msg jojo are you there?\n");
  await sophia.waitForStderr(/WARNING: jojo's identity key has changed!/);
  await sophia.write("/trust jojo\n");
  await jojo.waitFor(/Private message from sophia: are you there\?/);
  await sophia.waitFor(
    /\[Receive group kiki message from jojo\]: a word from my new key/,
  );

  // Online: the next message opens at once.
  await sophia.write("/group kiki now that you are trusted\n");
  // (Not readsGroupLine: the one before /trust is refused in kiki, maybe
  // meanwhile.)
  await jojo.waitFor(
    /\[Receive group kiki message from sophia\]: now that you are trusted/,
    30_000,
  );
  const online = jojo;

  // Offline: the messages wait on the server, and open when jojo is back.
  await quit(jojo);
  await sophia.write("/group haha while you were away\n");
  await sophia.waitFor(/while you were away/);
  await sophia.write("/msg jojo a private word while you were away\n");
  await sophia.waitFor(/a private word while you were away/);
  jojo = chat.connect("jojo", { config: "config-jojo-new" });
  await readsGroupLine(jojo, "haha", "while you were away");
  await jojo.waitFor(
    /Private message from sophia: a private word while you were away/,
  );
  await sophia.write("/group haha and later\n");
  await readsGroupLine(jojo, "haha", "and later");
  await quit(jojo);
  // A script exits 1 after a command failed (the held /msg).
  await sophia.write("/quit\n");
  assert.equal((await sophia.finish()).code, 1);
  for (const p of [online, jojo]) {
    assert.doesNotMatch(p.stdout, /before you were trusted/);
  }
  assert.equal(
    sophia.stdout.match(/a word from my new key/g)?.length,
    1,
    sophia.stdout,
  );
});
