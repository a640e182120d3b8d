/**
 * `/query`, `/me`, `/away` and `/ignore` through real `chat serve` and
 * `chat connect` processes (issue 15, item 2).
 */

import assert from "node:assert/strict";
import {
  ChatProcess,
  listeningPort,
  serveProcess,
} from "../_helpers/process.ts";

/** A server with its key in a fresh folder, and a way to start clients. */
async function setUp() {
  const dir = await Deno.makeTempDir({ prefix: "chat-conv-" });
  const keygen = new ChatProcess([
    "keygen",
    "--bits",
    "2048",
    "--out",
    dir,
  ]);
  assert.equal((await keygen.finish()).code, 0, keygen.stderr);
  const server = serveProcess(dir);
  const port = await listeningPort(server);
  const clients: ChatProcess[] = [];
  const connect = async (
    name: string,
    env: Record<string, string> = {},
    ...extra: string[]
  ) => {
    const client = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      name,
      ...extra,
    ], { env });
    clients.push(client);
    await client.waitFor(/SUCCESS: Username registered\./);
    return client;
  };
  return {
    dir,
    connect,
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.kill();
      await Promise.all(clients.map((c) => c.finish()));
      server.kill();
      await server.finish();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Lines of `process`'s output that match `pattern`. */
function linesMatching(process: ChatProcess, pattern: RegExp): string[] {
  return process.stdout.split("\n").filter((line) => pattern.test(line));
}

Deno.test("chat connect: /query sends plain lines to a user or group until /query alone; /me is an action everywhere", async () => {
  await using chat = await setUp();
  const jojo = await chat.connect("jojo");
  const sophia = await chat.connect("sophia");

  await sophia.write("/query jojo\n");
  await sophia.waitFor(/Plain lines now go to jojo \(private\)/);
  await sophia.write("just for you\n");
  await jojo.waitFor(/^Private message from sophia: just for you$/m);
  await sophia.waitFor(/^Private message to jojo: just for you$/m);
  await sophia.write("/me winks\n");
  await jojo.waitFor(/^Private: \* sophia winks$/m);
  await sophia.waitFor(/^Private action to jojo: \* sophia winks$/m);

  await sophia.write("/create haha\n");
  await sophia.waitFor(/Group 'haha' created/);
  await jojo.write("/join haha\n");
  await jojo.waitFor(/Joined group 'haha'/);
  await sophia.write("/query #haha\n");
  await sophia.waitFor(/Plain lines now go to group haha/);
  await sophia.write("hello group\n");
  await jojo.waitFor(
    /^\[Receive group haha message from sophia\]: hello group$/m,
  );
  await sophia.write("/me laughs\n");
  await jojo.waitFor(/^\[haha\] \* sophia laughs$/m);
  // The seed's commands still go where they say.
  await sophia.write("/msg jojo direct\n");
  await jojo.waitFor(/^Private message from sophia: direct$/m);

  await sophia.write("/query\n");
  await sophia.waitFor(/Plain lines go to everyone again/);
  await sophia.write("everyone again\n");
  await jojo.waitFor(/^\[Broadcast from sophia\]: everyone again$/m);
  await sophia.write("/me waves\n");
  await jojo.waitFor(/^\* sophia waves$/m);
  // Only what was said in the public room reached it.
  assert.deepEqual(linesMatching(jojo, /^\[Broadcast from/), [
    "[Broadcast from sophia]: everyone again",
  ]);
  // A mistyped command is not sent anywhere, and a suggestion is made.
  await sophia.write("/mgs jojo oops\n");
  await sophia.waitForStderr(
    /ERROR: Unknown command '\/mgs'\. Did you mean \/msg\? Type \/help/,
  );
});

Deno.test("chat connect: /query of a name nobody online has says so at once, with the name likely meant", async () => {
  await using room = await setUp();
  const sophia = await room.connect("sophia");
  await room.connect("jojo");
  await sophia.waitFor(/\*\*\* jojo joined the chat \*\*\*/);
  await sophia.write("/query jojp\n");
  await sophia.waitFor(
    /Plain lines now go to jojp \(private\); \/query alone goes back to everyone\nNo one named 'jojp' is online now; did you mean jojo\?\n/,
  );
  await sophia.write("/query nobody\n");
  await sophia.waitFor(/No one named 'nobody' is online now\.\n/);
  // Someone online: nothing more is said, and the name is the server's.
  await sophia.write("/query JOJO\n");
  await sophia.waitFor(/Plain lines now go to jojo \(private\)/);
  await sophia.write("/query\n");
  await sophia.waitFor(/Plain lines go to everyone again\n/);
  assert.deepEqual(linesMatching(sophia, /No one named/), [
    "No one named 'jojp' is online now; did you mean jojo?",
    "No one named 'nobody' is online now.",
  ]);
});

// Seen trying the README as a new user: `/msg jojp hi` with jojo online
// said only that jojp is not online, where /query jojp named jojo.
Deno.test("chat connect: /msg to a name nobody online has keeps the server's words and adds the one name online likely meant", async () => {
  await using room = await setUp();
  const sophia = await room.connect("sophia");
  await room.connect("jojo");
  await sophia.waitFor(/\*\*\* jojo joined the chat \*\*\*/);
  await sophia.write("/msg jojp hi\n");
  await sophia.waitForStderr(/Did you mean jojo\?\n/);
  // Two names as close: no guess (a wrong one sends the line elsewhere).
  await room.connect("jojq");
  await sophia.waitFor(/\*\*\* jojq joined the chat \*\*\*/);
  await sophia.write("/msg jojp hi\n");
  await sophia.write("/msg nobody hi\n");
  await sophia.waitForStderr(/User 'nobody' is not online\.\n/);
  assert.deepEqual(sophia.stderr.split("\n").filter((l) => l !== ""), [
    "ERROR: User 'jojp' is not online. Did you mean jojo?",
    "ERROR: User 'jojp' is not online.",
    "ERROR: User 'nobody' is not online.",
  ]);
});

Deno.test("chat connect: /join, /group and /showgroupmembers of a group that does not exist add the one group likely meant, made after this client connected too", async () => {
  await using room = await setUp();
  const jojo = await room.connect("jojo");
  const sophia = await room.connect("sophia");
  await sophia.write("/create haha\n");
  await sophia.waitFor(/Group 'haha' created and joined/);
  await jojo.write("/join hahq\n");
  await jojo.write("/group hahq hi\n");
  await jojo.write("/showgroupmembers hahq\n");
  await jojo.write("/join nope\n");
  await jojo.waitForStderr(/Group 'nope' does not exist\.\n/);
  assert.deepEqual(jojo.stderr.split("\n").filter((l) => l !== ""), [
    "ERROR: Group 'hahq' does not exist. Did you mean haha?",
    "ERROR: Group 'hahq' does not exist. Did you mean haha?",
    "ERROR: Group 'hahq' does not exist. Did you mean haha?",
    "ERROR: Group 'nope' does not exist.",
  ]);
});

Deno.test("chat connect: /away shows in /list, is told to each sender once, and /away alone clears it", async () => {
  await using chat = await setUp();
  const jojo = await chat.connect("jojo");
  const sophia = await chat.connect("sophia");
  const nana = await chat.connect("nana");

  await jojo.write("/away lunch, back at 2\n");
  await jojo.waitFor(/You are marked as away: lunch, back at 2/);
  await sophia.write("/list\n");
  await sophia.waitFor(
    /^\*\*\* jojo - Last Message: never - away: lunch, back at 2 \*\*\*$/m,
  );
  await sophia.write("/msg jojo are you there?\n");
  await sophia.waitFor(/^jojo is away: lunch, back at 2$/m);
  await sophia.write("/msg jojo hello?\n");
  await sophia.write("/msg jojo marker\n");
  await jojo.waitFor(/Private message from sophia: marker/);
  await sophia.waitFor(/Private message to jojo: marker/);
  assert.equal(linesMatching(sophia, /is away:/).length, 1, sophia.stdout);
  // Another sender is told too; the messages were delivered all the same.
  await nana.write("/msg jojo hi\n");
  await nana.waitFor(/^jojo is away: lunch, back at 2$/m);
  await jojo.waitFor(/Private message from nana: hi/);

  await jojo.write("/away\n");
  await jojo.waitFor(/You are no longer marked as away/);
  await sophia.write("/list\n");
  await sophia.write("/msg jojo back?\n");
  await jojo.waitFor(/Private message from sophia: back\?/);
  await sophia.waitFor(/Private message to jojo: back\?/);
  assert.equal(linesMatching(sophia, /is away:/).length, 1, sophia.stdout);
  assert.equal(
    linesMatching(sophia, /^\*\*\* jojo - Last Message: never \*\*\*$/).length,
    1,
    sophia.stdout,
  );
});

Deno.test("chat connect: /ignore hides a user's messages by key, persists 0600 per server, /unignore shows them again", async () => {
  await using chat = await setUp();
  const config = `${chat.dir}/jojo-config`;
  const env = { XDG_CONFIG_HOME: config };
  // jojo takes every file offer, but not from someone ignored.
  const files = [
    "--accept-files",
    "all",
    "--downloads",
    `${chat.dir}/jojo-downloads`,
    "--no-open",
  ];
  const jojo = await chat.connect("jojo", env, ...files);
  const sophia = await chat.connect("sophia");
  // Clients share one test config folder, so one identity key: nana gets her
  // own, or ignoring sophia's key would hide her too.
  const nana = await chat.connect("nana", {
    XDG_CONFIG_HOME: `${chat.dir}/nana-config`,
  });

  await jojo.write("/ignore sophia\n");
  await jojo.waitFor(/Ignoring sophia \(key SHA256:[A-Za-z0-9+/]{43}\)/);
  await sophia.write("you cannot hear me\n");
  await sophia.write("/msg jojo nor this\n");
  await sophia.waitFor(/Private message to jojo: nor this/);
  await nana.write("marker from nana\n");
  await jojo.waitFor(/\[Broadcast from nana\]: marker from nana/);
  assert.doesNotMatch(jojo.stdout, /cannot hear me|nor this/);
  await Deno.writeTextFile(`${chat.dir}/note.txt`, "a note");
  await sophia.write(`/file jojo ${chat.dir}/note.txt\n`);
  await sophia.waitForStderr(/ERROR: jojo declined note\.txt/);
  assert.doesNotMatch(jojo.stdout, /note\.txt/);
  await jojo.write("/ignore\n");
  await jojo.waitFor(/Ignored:\n {2}sophia \(key SHA256:/);

  const file = `${config}/chat/ignored`;
  assert.match(await Deno.readTextFile(file), / SHA256:\S+ sophia\n/);
  if (Deno.build.os !== "windows") {
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  }

  // Still ignored after a restart of the client.
  jojo.kill();
  await jojo.finish();
  const again = await chat.connect("jojo", env, ...files);
  await sophia.write("still ignored\n");
  await nana.write("second marker\n");
  await again.waitFor(/\[Broadcast from nana\]: second marker/);
  assert.doesNotMatch(again.stdout, /still ignored/);

  await again.write("/unignore sophia\n");
  await again.waitFor(/sophia's messages are shown again/);
  await sophia.write("heard again\n");
  await again.waitFor(/\[Broadcast from sophia\]: heard again/);
  await sophia.write(`/file jojo ${chat.dir}/note.txt\n`);
  await sophia.waitFor(/File note\.txt sent to jojo successfully\./);
  await again.write("/ignore jojo\n");
  await again.waitForStderr(/ERROR: You cannot ignore yourself/);
});

Deno.test("chat connect: /ignore hides a user's comings and goings too, not others'", async () => {
  // Signing in and out in a loop put a line on every screen each time, and
  // /ignore of the one doing it hid none of them.
  await using chat = await setUp();
  const jojo = await chat.connect("jojo", {
    XDG_CONFIG_HOME: `${chat.dir}/jojo-config`,
  });
  const sophiaConfig = { XDG_CONFIG_HOME: `${chat.dir}/sophia-config` };
  const sophia = await chat.connect("sophia", sophiaConfig);
  await jojo.waitFor(/\*\*\* sophia joined the chat \*\*\*/);
  await jojo.write("/ignore sophia\n");
  await jojo.waitFor(/Ignoring sophia \(key SHA256:[A-Za-z0-9+/]{43}\)/);
  const from = jojo.stdout.length;
  sophia.kill();
  await sophia.finish();
  // Her key, signing in again.
  const back = await chat.connect("sophia", sophiaConfig);
  back.kill();
  await back.finish();
  // nana's coming and going is the marker: what the server sent before it
  // has been shown.
  const nana = await chat.connect("nana", {
    XDG_CONFIG_HOME: `${chat.dir}/nana-config`,
  });
  nana.kill();
  await nana.finish();
  await jojo.waitFor(/\*\*\* nana left the chat \*\*\*/);
  const after = jojo.stdout.slice(from);
  assert.match(after, /\*\*\* nana joined the chat \*\*\*/);
  assert.doesNotMatch(after, /sophia (joined|left) the chat/);
});

Deno.test("chat connect: /away is set again after the client reconnects to a restarted server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-conv-" });
  const keygen = new ChatProcess(["keygen", "--bits", "2048", "--out", dir]);
  assert.equal((await keygen.finish()).code, 0, keygen.stderr);
  let server = serveProcess(dir);
  const servers = [server];
  const clients: ChatProcess[] = [];
  try {
    const port = await listeningPort(server);
    const connect = (name: string) => {
      const client = new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        name,
      ]);
      clients.push(client);
      return client;
    };
    const jojo = connect("jojo");
    await jojo.waitFor(/SUCCESS: Username registered\./);
    await jojo.write("/away gone fishing\n");
    await jojo.waitFor(/You are marked as away: gone fishing/);
    server.kill("SIGKILL");
    await server.finish();
    server = serveProcess(dir, port);
    servers.push(server);
    await server.waitFor(/listening on/);

    const sophia = connect("sophia");
    await sophia.waitFor(/SUCCESS: Username registered\./);
    // jojo comes back on its own schedule: ask until the list shows it away.
    const away =
      /\*\*\* jojo - Last Message: never - away: gone fishing \*\*\*/;
    const deadline = Date.now() + 30_000;
    for (;;) {
      await sophia.write("/list\n");
      const found = await sophia.waitFor(away, 1000).then(
        () => true,
        () => false,
      );
      if (found) break;
      assert.ok(Date.now() < deadline, sophia.stdout + jojo.stdout);
    }
  } finally {
    for (const c of clients) c.kill();
    await Promise.all(clients.map((c) => c.finish()));
    for (const s of servers) {
      s.kill("SIGKILL");
      await s.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
