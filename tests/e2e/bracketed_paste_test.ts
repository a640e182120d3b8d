/**
 * Bracketed paste in a real terminal emulator (tmux, as in terminal_test.ts):
 * `paste-buffer -p` wraps the text in `ESC[200~` ... `ESC[201~` only when
 * the program turned the mode on, as a terminal does. A paste is then known
 * exactly: a pasted line break sends nothing by itself, and typed lines are
 * never taken for a paste. And the mode is off again once the client has
 * gone, whichever way it went, or the shell after it gets the brackets.
 */

import assert from "node:assert/strict";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { hasTmux, type Pane } from "../_helpers/tmux.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/bracketed_paste_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

/**
 * sophia at `chat connect` in a pane, and jojo beside her. With `thenCat`,
 * the pane runs `cat -v` once the client has gone (after a line saying so):
 * a program that never turns bracketed paste on, which shows the brackets
 * (as `^[[200~`) if the client left the mode on.
 */
async function chatPane(options: { thenCat?: boolean; args?: string[] } = {}) {
  const { server, dir, pane, jojo, dispose } = await sophiaBesideJojo({
    prefix: "chat-paste-",
    args: () => ["--no-time", ...options.args ?? []],
    width: 100,
    height: 30,
    ...(options.thenCat
      ? {
        wrap: (command: string[]) => [
          "sh",
          "-c",
          '"$@"; echo "client exited"; exec cat -v',
          "sh",
          ...command,
        ],
      }
      : {}),
  });
  return {
    server,
    pane,
    jojo,
    /** Pastes `text` as a terminal does, bracketed if the client asked. */
    async paste(text: string): Promise<void> {
      await pane.tmux("set-buffer", "-b", "p", "--", text);
      await pane.tmux("paste-buffer", "-p", "-d", "-b", "p");
    },
    /**
     * sophia's history file once `check` accepts it (each typed line
     * rewrites it, after it is sent).
     */
    async history(check: (text: string) => boolean): Promise<string> {
      const folder = `${dir}/config/chat/history`;
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        // A rewrite goes through a temporary beside the file: skipped.
        const names = await Array.fromAsync(Deno.readDir(folder)).catch(
          () => [],
        );
        const file = names.map((e) => e.name).find((n) => !n.endsWith(".tmp"));
        const text = file === undefined
          ? ""
          : await Deno.readTextFile(`${folder}/${file}`).catch(() => "");
        if (check(text)) return text;
        if (Date.now() > deadline) {
          throw new Error(`the history file never matched:\n${text}`);
        }
        // Polling the file, not waiting for time to pass: the check decides.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    /** What sophia said, as jojo received it, in order. */
    heard(): string[] {
      return jojo.chat().filter(([, from]) => from === "sophia").map((
        [, , text],
      ) => text);
    },
    [Symbol.asyncDispose]: dispose,
  };
}

Deno.test({
  name:
    "terminal: a bracketed paste of one line stays in the editor (its line break sends nothing); Enter sends it with what was typed after",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane();
    const { pane, jojo } = chat;
    // Without the brackets the line break is Enter: the line would go now.
    await chat.paste("a pasted line\n");
    await pane.waitFor(
      "the paste in the editor",
      (l) => lastLine(l) === "sophia> a pasted line",
    );
    await pane.type(", edited");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "a pasted line, edited");
    assert.deepEqual(chat.heard(), ["a pasted line, edited"]);

    // Control characters in a paste are no keys: a tab is four spaces,
    // Ctrl-C (which would clear the line), Ctrl-D, Escape sequences (an
    // arrow, a colour) and a nested start marker are dropped.
    await chat.paste(
      "tab\there\x03 ctrl-c\x04 ctrl-d\x1b[D\x1b[31m escapes\x1b[200~ nested",
    );
    await pane.waitFor(
      "the cleaned paste",
      (l) => lastLine(l) === "sophia> tab    here ctrl-c ctrl-d escapes nested",
    );
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text.endsWith("nested"));
    assert.deepEqual(chat.heard(), [
      "a pasted line, edited",
      "tab    here ctrl-c ctrl-d escapes nested",
    ]);
  },
});

Deno.test({
  name:
    "terminal: a bracketed paste of several lines asks (even two), its unfinished line stays; a paste never ended ends at a pause; a burst of lines after it is still asked about; only typed lines are kept",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane();
    const { pane, jojo } = chat;
    // Two lines: without brackets a burst this short is sent unasked.
    await chat.paste("first\nsecond\nand unfinished");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 2 lines? [y/N]",
    );
    await pane.type("y");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "second");
    await pane.waitFor(
      "the unfinished line back in the editor",
      (l) => lastLine(l) === "sophia> and unfinished",
    );
    await pane.keys("C-u");
    // One line and a rest: asked about too, and no drops both (the rest,
    // brought back unseen, took the next line typed as its end).
    await chat.paste("only one\nrest");
    await pane.waitFor(
      "the question about one line",
      (l) => lastLine(l) === "Send 1 line? [y/N]",
    );
    await pane.keys("Enter");
    await pane.waitFor(
      "the line dropped, the rest with it",
      (l) =>
        l.includes("Not sent: the pasted line") &&
        lastLine(l) === "sophia>",
    );
    // A start marker whose end never comes (a broken terminal): what follows
    // is taken as pasted only until the input pauses, then it is in the editor.
    await pane.tmux("send-keys", "-H", "1b", "5b", "32", "30", "30", "7e");
    await pane.type("never ended");
    await pane.waitFor(
      "the unended paste in the editor",
      (l) => lastLine(l) === "sophia> never ended",
    );
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "never ended");
    // The terminal brackets its pastes, but four lines in one read are still
    // a paste (one made without brackets: tmux's paste-buffer without -p, a
    // paste tool typing keys): asked about, as on a terminal without them.
    await pane.type("k1\rk2\rk3\rk4\r");
    await pane.waitFor(
      "the question about the unbracketed paste",
      (l) => lastLine(l) === "Send 4 lines? [y/N]",
    );
    await pane.type("y\r");
    await jojo.waitFor((m) => m.text === "k4");
    await pane.type("typed\r");
    await jojo.waitFor((m) => m.text === "typed");
    // Pasted text cleared from the line (Ctrl-C) leaves the next line typed.
    await chat.paste("cleared");
    await pane.waitFor(
      "the paste in the editor",
      (l) => lastLine(l) === "sophia> cleared",
    );
    await pane.keys("C-c");
    await pane.waitFor("the line cleared", (l) => lastLine(l) === "sophia>");
    await pane.type("typed after\r");
    await jojo.waitFor((m) => m.text === "typed after");
    assert.deepEqual(chat.heard(), [
      "first",
      "second",
      "never ended",
      "k1",
      "k2",
      "k3",
      "k4",
      "typed",
      "typed after",
    ]);
    // Typed lines are kept in the history file; a line with pasted text in
    // it (sent before the typed ones, were it kept) is not.
    const kept = await chat.history((text) => text.includes("typed after\n"));
    assert.ok(!kept.includes("never ended"), kept);
    assert.ok(!kept.includes("first"), kept);
  },
});

Deno.test({
  name:
    "terminal: the paste question counts only the lines that would be sent: blank lines are not counted, and a burst of three lines among blank ones is sent unasked",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane();
    const { pane, jojo } = chat;
    // Bracketed: one line among blank ones is one line.
    await chat.paste("\n\nthe one\n\n\n");
    await pane.waitFor(
      "the question about one line",
      (l) => lastLine(l) === "Send 1 line? [y/N]",
    );
    await pane.type("y\r");
    await jojo.waitFor((m) => m.text === "the one");
    // Only blank lines: nothing to send, nothing asked.
    await chat.paste("\n\n\n\nstill here");
    await pane.waitFor(
      "the rest in the editor",
      (l) => lastLine(l) === "sophia> still here",
    );
    await pane.keys("C-u");
    await pane.waitFor("an empty line", (l) => lastLine(l) === "sophia>");
    // Without brackets (keys in one read): three lines among blank ones go
    // without a question, where the seven lines of the burst were asked about.
    await pane.type("b1\r\r\rb2\r\rb3\r\r");
    await jojo.waitFor((m) => m.text === "b3");
    // Seven lines, two of them blank: "Send 5 lines?".
    await pane.type("c1\rc2\r\rc3\rc4\r\rc5\r");
    await pane.waitFor(
      "the question about five lines",
      (l) => lastLine(l) === "Send 5 lines? [y/N]",
    );
    await pane.type("n\r");
    await pane.waitFor(
      "the lines not sent",
      (l) => l.some((line) => line.includes("Not sent: the 5 pasted lines")),
    );
    await pane.type("last\r");
    await jojo.waitFor((m) => m.text === "last");
    assert.deepEqual(chat.heard(), ["the one", "b1", "b2", "b3", "last"]);
  },
});

/** The pid of the client the pane's `sh` runs. */
async function clientPid(pane: Pane): Promise<number> {
  const sh = (await pane.tmux("display", "-p", "#{pane_pid}")).trim();
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", sh],
    stdout: "piped",
  }).output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  assert.ok(Number.isInteger(pid) && pid > 0, `no client under sh ${sh}`);
  return pid;
}

const WAYS_OUT: {
  name: string;
  args?: string[];
  leave: (chat: Awaited<ReturnType<typeof chatPane>>) => Promise<unknown>;
  /** The terminal is gone: the prompt cannot be erased, nor need be. */
  hangup?: true;
}[] = [
  { name: "/quit", leave: ({ pane }) => pane.type("/quit\r") },
  { name: "Ctrl-D", leave: ({ pane }) => pane.keys("C-d") },
  {
    name: "Ctrl-C twice",
    leave: ({ pane }) => pane.keys("C-c", "C-c"),
  },
  {
    name: "the server closing",
    args: ["--no-reconnect"],
    leave: ({ server }) => server.shutdown(),
  },
  {
    name: "SIGTERM",
    leave: async ({ pane }) => Deno.kill(await clientPid(pane), "SIGTERM"),
  },
  {
    name: "SIGINT (kill -INT, not the key)",
    leave: async ({ pane }) => Deno.kill(await clientPid(pane), "SIGINT"),
  },
  {
    name: "SIGHUP",
    leave: async ({ pane }) => Deno.kill(await clientPid(pane), "SIGHUP"),
    hangup: true,
  },
];

for (const way of WAYS_OUT) {
  Deno.test({
    name:
      `terminal: bracketed paste is off again after the client leaves by ${way.name}: the next program gets a paste without the brackets`,
    ignore: !TMUX,
    async fn() {
      await using chat = await chatPane({
        thenCat: true,
        ...way.args ? { args: way.args } : {},
      });
      const { pane } = chat;
      // The mode is on: the pasted line break sends nothing.
      await chat.paste("mode on\n");
      await pane.waitFor(
        "the paste in the editor",
        (l) => lastLine(l) === "sophia> mode on",
      );
      await pane.keys("C-u");
      await pane.waitFor("an empty line", (l) => lastLine(l) === "sophia>");
      await way.leave(chat);
      // After the prompt when the client had no time to erase it.
      const gone = (line: string) => line.endsWith("client exited");
      const exited = await pane.waitFor("the client gone", (l) => l.some(gone));
      // Seen after a kill: "sophia> client exited", the prompt left behind.
      if (!way.hangup) {
        assert.ok(exited.includes("client exited"), exited.join("\n"));
      }
      // cat -v (the tty echoes, cat prints): the brackets would show as ^[[200~.
      await chat.paste("after the client\n");
      const lines = await pane.waitFor(
        "the paste in cat",
        (l) => l.some((line) => line.includes("after the client")),
      );
      const after = lines.slice(lines.findIndex(gone));
      assert.ok(
        !after.some((line) => line.includes("200~")),
        `the paste came bracketed:\n${after.join("\n")}`,
      );
      // Nor is the terminal left raw: its Enter (CR) would reach cat as ^M.
      assert.ok(
        !after.some((line) => line.includes("^M")),
        `the terminal was left raw:\n${after.join("\n")}`,
      );
    },
  });
}
