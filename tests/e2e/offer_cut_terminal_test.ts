/**
 * A file whose offer the connection's end left unanswered, as a person at
 * the terminal sees it (tmux): the server is killed while bob is still
 * asked, and started again. The file is not lost (it is offered again once
 * back, and arrives), so the terminal says one true line, that it is not
 * sent yet and will be offered again once reconnected; before, it said
 * `ERROR: Not sent: the connection to the server was lost.` first, and
 * only then that it would be offered again. `--json` already said only the
 * notice (json_file_outcome_once_test.ts): the terminal now does the same.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import type { JsonEvent } from "../_helpers/json_bot.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const TMUX = await hasTmux();

function events(chat: { stdout: string }): JsonEvent[] {
  return chat.stdout.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line) as JsonEvent);
}

Deno.test({
  name:
    "a terminal whose connection drops under a file offer says only that it is not sent yet and will be offered again, no ERROR, and it arrives once back",
  ignore: !TMUX,
  async fn() {
    await using chat = await ServedChat.start("chat-offer-cut-terminal-");
    let server = await chat.serve();
    const downloads = join(chat.dir, "downloads-bob");
    // bob is asked about each file, and answers only the offer made again.
    const [bob] = await chat.signIn(["bob"], {
      args: ["--json", "--downloads", downloads, "--no-open"],
    });
    const path = join(chat.dir, "notes.txt");
    await Deno.writeTextFile(path, "x".repeat(1000));

    await using pane = new Pane();
    await pane.start(
      connectCommand({ dir: chat.dir, port: chat.port, user: "alice" }),
      200,
      40,
    );
    await pane.waitFor("the prompt", (l) => l.some((x) => x === "alice>"));
    await pane.type(`/file bob ${path}`);
    await pane.keys("Enter");
    const offers = () =>
      events(bob).filter((e) => e.type === "file_offer").length;
    await bob.waitUntil(() => offers() >= 1 || null, "bob asked", WAIT_MS);
    // And alice told so: bob's copy of the offer can come before her answer
    // from the same server (two connections), and a server killed in between
    // leaves her never told it went out (a run failed so, at load 9).
    await pane.waitFor(
      "alice told the file is offered",
      (l) =>
        l.includes(
          "Offering notes.txt (1000 B) to bob; waiting for an answer.",
        ),
      WAIT_MS,
    );

    server.kill("SIGKILL");
    await server.child.status;
    const cut = await pane.waitFor(
      "the file said to be offered again",
      (l) => l.some((x) => /notes\.txt will be offered again/.test(x)),
      WAIT_MS,
    );
    // One line, true: nothing of it is lost.
    assert.deepEqual(
      cut.filter((x) =>
        /notes\.txt|^ERROR: Not sent/.test(x) && !/^alice> /.test(x)
      ),
      [
        "Offering notes.txt (1000 B) to bob; waiting for an answer.",
        "Not sent yet: notes.txt will be offered again once reconnected, resuming where it stopped",
      ],
      cut.join("\n"),
    );

    server = await chat.serve();
    await bob.waitUntil(
      () => offers() >= 2 || null,
      "the file offered to bob again",
      60_000,
    );
    const again = events(bob).filter((e) => e.type === "file_offer").at(-1)!;
    await bob.write(`${JSON.stringify({ cmd: "accept", xfer: again.xfer })}\n`);
    const sent = await pane.waitFor(
      "the file sent",
      (l) => l.includes("File notes.txt sent to bob successfully."),
      60_000,
    );
    assert.deepEqual(
      await Deno.readTextFile(join(downloads, "notes.txt")),
      "x".repeat(1000),
    );
    // No ERROR at any time: it was never final.
    assert.deepEqual(
      sent.filter((x) => x.startsWith("ERROR:")),
      [],
      sent.join("\n"),
    );
    await bob.write('{"cmd":"quit"}\n');
  },
});
