/**
 * Files sent from the terminal to more people at once than the server lets
 * a sender have under way (8, `maxTransfersPerUser`), as a person sees it
 * (tmux): the 9th waits for one of the 8 to end, said in one line, and is
 * offered then. Before, only a `--json` bot's files waited (FilesAtOnce);
 * at the terminal the 9th was offered at once and refused by the server
 * (`ERROR: You already have 8 transfers running; wait for one to finish`).
 * A real server, sophia at a real `chat connect`, nine people who are asked
 * and do not answer.
 */

import assert from "node:assert/strict";
import { hasTmux } from "../_helpers/tmux.ts";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { TestClient } from "../_helpers/chat.ts";

const TMUX = await hasTmux();

Deno.test({
  name:
    "a terminal sending a file to 9 people at once offers 8, says the 9th waits for one of them to end, and offers it once one ends",
  ignore: !TMUX,
  async fn() {
    const scene = await sophiaBesideJojo({
      prefix: "chat-at-once-terminal-",
      args: () => ["--no-time"],
      width: 220,
      height: 60,
    });
    const people: TestClient[] = [];
    try {
      const { server, dir, pane } = scene;
      for (let i = 1; i <= 9; i++) {
        people.push(await TestClient.connect(server, `p${i}`));
      }
      const path = `${dir}/notes.txt`;
      await Deno.writeTextFile(path, "x".repeat(1000));
      // One command at a time, each once the one before it reached its
      // recipient (enterLine: nine lines at once would be a paste).
      for (let i = 1; i <= 8; i++) {
        await pane.enterLine(
          `/file p${i} ${path}`,
          () => people[i - 1]!.waitFor((m) => m.message.t === "file_offer"),
        );
      }
      const offered = (p: TestClient) =>
        p.inbox.find((m) => m.message.t === "file_offer")?.message;
      const held = await pane.enterLine(
        `/file p9 ${path}`,
        () =>
          pane.waitFor(
            "the 9th said to wait (or refused)",
            (l) =>
              l.some((x) =>
                /notes\.txt waits: 8 files are under way/.test(x)
              ) ||
              l.some((x) => /transfers running/.test(x)),
          ),
      );
      assert.deepEqual(
        held.filter((x) => /transfers running|waits: 8 files/.test(x)),
        [
          "notes.txt waits: 8 files are under way already, the most at once; it is offered once one of them ends (/transfers lists it, /cancel stops it)",
        ],
        held.join("\n"),
      );
      assert.equal(offered(people[8]!), undefined);
      // p1 declines: one of the 8 ends, and the 9th is offered.
      const first = offered(people[0]!) as { xfer: number };
      people[0]!.client.post({ t: "file_decline", xfer: first.xfer });
      await people[8]!.waitFor((m) => m.message.t === "file_offer");
      const after = await pane.lines();
      assert.deepEqual(
        after.filter((x) => /transfers running/.test(x)),
        [],
        after.join("\n"),
      );
    } finally {
      for (const p of people) await p.quit().catch(() => {});
      await scene.dispose();
    }
  },
});
