/**
 * A resize while output waits for the terminal (tmux): the lines and the
 * prompt redrawn between them were queued for the old width, and once
 * written at the new one each erase of the prompt went up too few rows.
 */

import assert from "node:assert/strict";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { hasTmux } from "../_helpers/tmux.ts";

const TMUX = await hasTmux();

Deno.test({
  name:
    "terminal: a resize while lines wait for the terminal leaves no stale copy of the prompt among them",
  ignore: !TMUX,
  async fn() {
    const { pane, jojo, dispose } = await sophiaBesideJojo({
      prefix: "chat-resize-",
      args: () => ["--no-time"],
      width: 100,
      height: 30,
    });
    await using _scene = { [Symbol.asyncDispose]: dispose };
    // One row at 100 columns, two at 40.
    const typed = "typed " + "y".repeat(60);
    await pane.type(typed);
    await pane.waitFor(
      "the typed line",
      (l) => l.some((line) => line === `sophia> ${typed}`),
    );
    // tmux stopped: nobody reads the pane's terminal, the client's output
    // waits in its queue, each line with its erase and redraw of the prompt.
    const tmuxPid = Number((await pane.tmux("display", "-p", "#{pid}")).trim());
    Deno.kill(tmuxPid, "SIGSTOP");
    // Far more than the terminal holds, in few lines (the server's rate
    // limit counts messages).
    const count = 120;
    try {
      for (let n = 0; n < count; n++) {
        const reply = await jojo.client.say(`m${n} ${"x".repeat(1500)}`);
        assert.equal(reply.t, "ok", JSON.stringify(reply));
      }
    } finally {
      Deno.kill(tmuxPid, "SIGCONT");
    }
    await pane.resize(40);
    const lines = await pane.waitFor(
      "the last line and the prompt",
      (l) =>
        l.some((line) => line.includes(`m${count - 1} `)) &&
        l.filter((line) => line !== "").at(-1)?.startsWith("sophia> typed") ===
          true,
      60_000,
    );
    // The live prompt is the only one: no row of it left among the lines.
    const prompts = lines.filter((line) => line.startsWith("sophia> typed"));
    assert.equal(prompts.length, 1, lines.join("\n"));
  },
});
