/**
 * A `chat connect --json` sender's file has one outcome, said once and
 * final (README "--json"), when the server is killed and started again
 * under it: while its offer is unanswered, and while the file is under way.
 * The client offers it again once back and it arrives; before, the script
 * was first told it failed (an `error` with code `file`, or `file_sent`
 * with `ok: false`), then that it was sent, and exited with status 1.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";

for (const stage of ["unanswered", "under way"] as const) {
  Deno.test(
    `chat connect --json: a file whose server is killed and started again while its offer is ${stage} has one final event for its re, file_sent ok, and exit 0`,
    () => killedUnderFile(stage),
  );
}

async function killedUnderFile(stage: "unanswered" | "under way") {
  await using chat = await ServedChat.start("chat-json-file-once-");
  let server = await chat.serve();
  const downloads = join(chat.dir, "downloads-bob");
  // bob behind a proxy that stops what goes to him at a byte count: the
  // file is under way, part of it his, when the server dies (on a quiet
  // machine 24 MiB went whole before any progress could be seen).
  const proxy = new HoldingProxy(Number(chat.port));
  const [bob] = await chat.signIn(["bob"], {
    port: proxy.port,
    args: [
      "--json",
      "--downloads",
      downloads,
      "--no-open",
      ...(stage === "under way" ? ["--accept-files", "all"] : []),
    ],
  });
  const alice = chat.connect("alice", { args: ["--json"] });
  await alice.waitFor(/"type":"welcome"/);

  const file = join(chat.dir, "film.raw");
  const bytes = new Uint8Array(stage === "under way" ? 24 * 1024 * 1024 : 4096);
  for (let i = 0; i < bytes.length; i += 65_536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  }
  await Deno.writeFile(file, bytes);
  if (stage === "under way") proxy.holdAt(proxy.downBytes + 2 * 1024 * 1024);
  await alice.write(
    `${JSON.stringify({ cmd: "file", to: "bob", path: file, id: "f1" })}\n`,
  );
  if (stage === "unanswered") {
    // Asked, and not answered yet.
    await bob.waitFor(/"type":"file_offer".*"decision":"ask"/, 20_000);
  } else {
    // Accepted, and 2 MiB of it on its way to bob: held there.
    await proxy.holding();
  }
  server.kill("SIGKILL");
  await server.child.status;
  proxy.release();
  await alice.waitFor(/"type":"connection","state":"lost"/, 20_000);
  server = await chat.serve();

  if (stage === "unanswered") {
    // bob is asked again once both are back (the first offer died with
    // the server): he takes it.
    const offers = () =>
      events(bob).filter((e) => e.type === "file_offer").length;
    await bob.waitUntil(
      () => offers() >= 2 || null,
      "the file offered to bob again",
      60_000,
    );
    const again = events(bob).filter((e) => e.type === "file_offer").at(-1)!;
    await bob.write(`${JSON.stringify({ cmd: "accept", xfer: again.xfer })}\n`);
  }
  await alice.waitFor(/"type":"file_sent","re":"f1"/, 120_000);
  await bob.waitFor(/"type":"file_received"/, 30_000);
  assert.deepEqual(await Deno.readFile(join(downloads, "film.raw")), bytes);

  await alice.write('{"cmd":"quit"}\n');
  await proxy.close();
  const status = await alice.finish();
  const finals = events(alice).filter((e) =>
    e.re === "f1" && (e.type === "file_sent" || e.type === "error")
  );
  // One final event, the right one.
  assert.equal(finals.length, 1, alice.stdout);
  assert.equal(finals[0]!.type, "file_sent", alice.stdout);
  assert.equal(finals[0]!.ok, true, alice.stdout);
  // Told meanwhile that it goes again, by its re (not final).
  assert.match(
    alice.stdout,
    /"type":"notice","re":"f1","text":"Not sent yet: film\.raw will be offered again once reconnected, resuming where it stopped"/,
  );
  // Counted once, as sent.
  assert.equal(status.code, 0, alice.stdout + alice.stderr);
}

function events(chat: { stdout: string }): JsonEvent[] {
  return chat.stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as JsonEvent);
}
