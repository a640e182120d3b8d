/**
 * /history after `chat admin release`: the name's next key is shown the old
 * key's lines as another person's (a `--json` bot is told which in its
 * welcome), with real server and client processes.
 */

import assert from "node:assert/strict";
import { schemaProblem } from "../../src/client/json_output.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

function client(
  dir: string,
  port: string,
  user: string,
  identity: string,
): ChatProcess {
  return new ChatProcess([
    "connect",
    `127.0.0.1:${port}`,
    "--pub",
    `${dir}/public.pem`,
    "--user",
    user,
    "--identity",
    identity,
  ]);
}

Deno.test("/history shows a released name's old lines to its next key as another person's, and the next key's own as its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-released-history-" });
  await makeKeys(dir);
  const server = serveProcess(dir, 0, "--data", `${dir}/data`);
  try {
    const port = await listeningPort(server);
    const bob = client(dir, port, "bob", `${dir}/bob.pem`);
    await bob.waitFor(/SUCCESS: Username registered\./);
    await bob.write("/create lab\n");
    await bob.waitFor(/SUCCESS: Group 'lab' created and joined\./);
    const old = client(dir, port, "alice", `${dir}/old.pem`);
    await old.waitFor(/SUCCESS: Username registered\./);
    await old.write("/join lab\n");
    await old.waitFor(/SUCCESS: Joined group 'lab'\./);
    await old.write("said by the old key\n");
    await old.waitFor(/Broadcast message sent: said by the old key/);
    await old.write("/group lab lab line of the old key\n");
    await old.waitFor(/Group message to lab: lab line of the old key/);
    await bob.waitFor(/lab line of the old key/);
    await old.write("/quit\n");
    assert.equal((await old.finish()).code, 0, old.stderr);

    const released = new ChatProcess([
      "admin",
      "release",
      "alice",
      "--data",
      `${dir}/data`,
    ]);
    assert.equal((await released.finish()).code, 0, released.stderr);

    const next = client(dir, port, "alice", `${dir}/next.pem`);
    await next.waitFor(/SUCCESS: Username registered\./);
    await next.write("/join lab\n");
    await next.waitFor(/SUCCESS: Joined group 'lab'\./);
    await next.write("said by the next key\n");
    await next.waitFor(/Broadcast message sent: said by the next key/);
    await next.write("/history\n");
    await next.waitFor(/End of history for the public room/);
    await next.write("/history lab\n");
    await next.waitFor(/history for group 'lab'/);
    await next.write("/quit\n");
    assert.equal((await next.finish()).code, 0, next.stderr);
    await bob.write("/quit\n");
    assert.equal((await bob.finish()).code, 0, bob.stderr);
    const shown = next.stdout;
    // The old key's line, as everyone else sees it; never as this key's own.
    assert.match(shown, /\[Broadcast from alice\]: said by the old key/);
    assert.doesNotMatch(shown, /Broadcast message sent: said by the old key/);
    assert.doesNotMatch(shown, /Group message to lab: lab line of the old key/);
    // This key's own line, in its history, as its own.
    assert.equal(
      shown.match(/Broadcast message sent: said by the next key/g)?.length,
      2,
    );
  } finally {
    server.kill("SIGKILL");
    await server.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect --json: a released name's next key is told in its welcome which of the name's messages another key sent (ownAfter), and its history agrees", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-released-json-" });
  await makeKeys(dir);
  const server = serveProcess(dir, 0, "--data", `${dir}/data`);
  try {
    const port = await listeningPort(server);
    const old = client(dir, port, "alice", `${dir}/old.pem`);
    await old.waitFor(/SUCCESS: Username registered\./);
    await old.write("said by the old key\n");
    await old.waitFor(/Broadcast message sent: said by the old key/);
    await old.write("/quit\n");
    assert.equal((await old.finish()).code, 0, old.stderr);
    const released = new ChatProcess([
      "admin",
      "release",
      "alice",
      "--data",
      `${dir}/data`,
    ]);
    assert.equal((await released.finish()).code, 0, released.stderr);

    const bot = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "alice",
      "--identity",
      `${dir}/next.pem`,
      "--json",
    ]);
    await bot.write('{"cmd":"send","text":"said by the next key"}\n');
    await bot.write('{"cmd":"history","id":"h"}\n');
    await bot.write('{"cmd":"quit"}\n');
    assert.equal((await bot.finish()).code, 0, bot.stderr);
    const events = bot.stdout.split("\n").filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) {
      assert.equal(schemaProblem(event), null, JSON.stringify(event));
    }
    const welcome = events.find((e) => e.type === "welcome");
    // Before, the welcome had name and text only: a bot telling its own
    // lines by name took the old key's for its own.
    assert.equal(typeof welcome?.ownAfter, "number", bot.stdout);
    const ownAfter = welcome!.ownAfter as number;
    const idOf = (text: string) =>
      events.find((e) =>
        e.type === "message" && e.history === true && e.from === "alice" &&
        e.text === text
      )?.id as number | undefined;
    const oldId = idOf("said by the old key");
    const nextId = idOf("said by the next key");
    assert.ok(oldId !== undefined && nextId !== undefined, bot.stdout);
    assert.ok(oldId <= ownAfter, `${oldId} > ${ownAfter}`);
    assert.ok(nextId > ownAfter, `${nextId} <= ${ownAfter}`);
  } finally {
    server.kill("SIGKILL");
    await server.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
