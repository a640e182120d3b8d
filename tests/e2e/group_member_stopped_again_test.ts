/**
 * A group file's member whose part broke (their connection dropped) is
 * offered the file again alone; stopped before that offer reaches them (the
 * sender's session ends while they are away), their final outcome says what
 * happened: the group's offer reached them and they did not receive it
 * (`bob disconnected`). Before, it said the session ended before the file
 * was offered, at the terminal and in `--json`'s `file_sent` alike. A real
 * `chat serve`, bob a real `chat connect` behind a proxy that holds the
 * file half-way, carol and alice real `chat connect`s.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { STOPPED_AT_END } from "../../src/client/outgoing_files.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import type { ChatProcess } from "../_helpers/process.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const SIZE = 8 * 1024 * 1024;

/**
 * alice (`--json` if `json`) sends team (bob, carol) a file; bob is cut
 * half-way, carol gets it; once alice says it will be offered again, she
 * ends her session (the server stops; she does not reconnect). Returns
 * alice, ended.
 */
async function stoppedWhileAway(json: boolean): Promise<ChatProcess> {
  await using chat = await ServedChat.start("chat-member-stopped-");
  const server = await chat.serve();
  const proxy = new HoldingProxy(Number(chat.port));
  try {
    const [carol] = await chat.signIn(["carol"], { acceptFiles: true });
    const [bob] = await chat.signIn(["bob"], {
      acceptFiles: true,
      port: proxy.port,
    });
    const [alice] = await chat.signIn(["alice"], {
      args: json ? ["--json", "--no-reconnect"] : ["--no-reconnect"],
    });
    const path = join(chat.dir, "big.bin");
    const bytes = new Uint8Array(SIZE);
    for (let at = 0; at < SIZE; at += 65536) {
      crypto.getRandomValues(bytes.subarray(at, at + 65536));
    }
    await Deno.writeFile(path, bytes);
    await alice.write(
      json ? '{"cmd":"create","group":"team","id":"c"}\n' : "/create team\n",
    );
    await alice.waitFor(/Group 'team' created/);
    for (const member of [bob, carol]) {
      await member.write("/join team\n");
      await member.waitFor(/Joined group 'team'/);
    }
    proxy.holdAt(proxy.downBytes + SIZE / 4);
    await alice.write(
      json
        ? `${
          JSON.stringify({ cmd: "groupfile", group: "team", path, id: "f" })
        }\n`
        : `/groupfile team ${path}\n`,
    );
    // bob holds a quarter of it; the group goes on at his pace until he is gone.
    await Promise.race([
      proxy.holding(),
      alice.waitFor(/ERROR|will be offered again/, WAIT_MS).then(() => {
        throw new Error(`no hold: ${alice.stdout}${alice.stderr}`);
      }),
    ]);
    bob.kill("SIGKILL");
    await bob.finish();
    proxy.release();
    await carol.waitFor(/\[Receive big\.bin from Group team alice\]/, WAIT_MS);
    await alice.waitFor(/will be offered again/, WAIT_MS);
    // The session ends while bob is away: alice does not reconnect.
    server.kill("SIGKILL");
    await alice.finish();
    return alice;
  } finally {
    await proxy.close();
  }
}

Deno.test("a group member offered a file again alone, stopped while away, is told they did not receive it: at the terminal", async () => {
  const alice = await stoppedWhileAway(false);
  const said = alice.stdout + alice.stderr;
  assert.doesNotMatch(said, new RegExp(STOPPED_AT_END), said);
  assert.match(
    alice.stderr,
    /File big\.bin was not received by bob: bob disconnected[^]*File big\.bin was not received by bob: bob disconnected/,
    said,
  );
});

Deno.test("a group member offered a file again alone, stopped while away, is told they did not receive it: --json file_sent", async () => {
  const alice = await stoppedWhileAway(true);
  const finals = alice.stdout.split("\n").filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line)).filter((e) =>
      e.type === "file_sent" && e.re === "f"
    );
  // The group's outcome, then bob's own, final.
  assert.equal(finals.length, 2, alice.stdout);
  assert.equal(finals[0].group, "team");
  assert.equal(finals[1].to, "bob", alice.stdout);
  assert.equal(finals[1].ok, false);
  assert.notEqual(finals[1].reason, STOPPED_AT_END, alice.stdout);
  assert.deepEqual(
    finals[1].results.map((r: { name: string; reason: string }) => [
      r.name,
      r.reason,
    ]),
    [["bob", "bob disconnected"]],
    alice.stdout,
  );
});
