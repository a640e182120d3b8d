/**
 * Lines typed in one order by one person, of every kind (public, /msg and
 * /group end to end, /file offers), reach each recipient in that order: typed at once at
 * a terminal, and typed while the connection was down (queued, sent once
 * back). A real `chat serve`, a real `chat connect` on a pseudo-terminal
 * (interactive: lines do not wait for each other's answers) behind a proxy
 * that cuts it off, and a real `chat connect` reading.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

const PTY = await hasPty();

/** Where each of `tokens` first shows in `text`, in the order they came. */
function arrivalOrder(text: string, tokens: readonly string[]): string[] {
  return tokens
    .map((token) => ({ token, at: text.indexOf(token) }))
    .filter(({ at }) => at >= 0)
    .sort((a, b) => a.at - b.at)
    .map(({ token }) => token);
}

Deno.test({
  name:
    "lines of every kind typed in one order reach the recipient in that order, typed at once and typed while cut off",
  ignore: !PTY,
  async fn() {
    await using chat = await ServedChat.start("chat-order-kinds-");
    await chat.serve();
    const proxy = new GateProxy(Number(chat.port));
    try {
      const [bob] = await chat.signIn(["bob"], {
        acceptFiles: true,
        // Which says an offer as it comes, not only once the file is in.
        args: ["--json"],
      });
      const alice = chat.connect("alice", { tty: true, port: proxy.port });
      await alice.waitFor(/Username registered/);
      await chat.keysOf("alice", () => true);
      await alice.write("/create team\r");
      await alice.waitFor(/Group 'team' created/);
      await bob.write("/join team\n");
      await bob.waitFor(/Joined group 'team'/);
      // The first ones set up the end-to-end sessions, in turn.
      await alice.write("/msg bob warm\r");
      await bob.waitFor(/"warm"/);
      await alice.write("/group team warm team\r");
      await bob.waitFor(/"warm team"/);

      // Typed at once: none waits for the one before it to be answered.
      // The offer among them: its recipient shows it once its key is here
      // and the file consented to, and the lines after it wait for that.
      const live = ["g1", "p1", "m1", "f1", "p2", "g2", "p3"];
      // One line at a time, each once echoed (several at once are a
      // paste, which asks first), none waiting for the one before's answer.
      const typed = async (tokens: string[], tag: string) => {
        for (const token of tokens) {
          const text = `${tag}${token}`;
          if (token.startsWith("f")) {
            await Deno.writeTextFile(join(chat.dir, `${text}.txt`), text);
          }
          await alice.write(
            token.startsWith("f")
              ? `/file bob ${join(chat.dir, text)}.txt\r`
              : token.startsWith("g")
              ? `/group team ${text}\r`
              : token.startsWith("m")
              ? `/msg bob ${text}\r`
              : `${text}\r`,
          );
          await alice.waitFor(new RegExp(text));
        }
      };
      await typed(live, "live-");
      const liveTokens = live.map((token) => `live-${token}`);
      await waitForAll(bob, liveTokens);
      await bob.waitFor(/"file_received".*live-f1/);

      // Typed while cut off: queued, and sent once back.
      proxy.cut();
      await alice.waitFor(/Reconnecting/);
      const offline = ["g1", "p1", "f1", "m1", "p2", "g2", "p3"];
      await typed(offline, "away-");
      proxy.down = false;
      const offlineTokens = offline.map((token) => `away-${token}`);
      await waitForAll(bob, offlineTokens);

      assert.deepEqual(
        {
          live: arrivalOrder(bob.stdout, liveTokens),
          away: arrivalOrder(bob.stdout, offlineTokens),
        },
        { live: liveTokens, away: offlineTokens },
        bob.stdout,
      );
      await quit(bob);
    } finally {
      await proxy.close();
    }
  },
});

/** Waits until every one of `tokens` has reached `reader`. */
async function waitForAll(
  reader: ChatProcess,
  tokens: readonly string[],
): Promise<void> {
  for (const token of tokens) {
    await reader.waitFor(new RegExp(token), 30_000);
  }
}
