/**
 * A message of several lines (the web page sends one with Shift+Enter) on a
 * real terminal (tmux, as in terminal_test.ts): its lines show as lines, the
 * ones after the first set in under its text and each made safe, in public,
 * private and group messages (end to end), in /history and in the catch-up
 * after a reconnection; a flood of lines shows as a few; the input block
 * stays below. `--json` keeps the text as it came. A real `chat serve`, the
 * senders real `chat connect --json`.
 */

import assert from "node:assert/strict";
import { Bot, type JsonEvent } from "../_helpers/json_bot.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { ServedChat } from "../_helpers/served_chat.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_lines_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

/** A body with a CRLF, an escape sequence and a bidi override on its lines. */
const BODY = "first line\r\n\x1b[31mred\x1b[0m\n\u202Eevil\nlast";

/** BODY's lines as the terminal shows them, set in `column` columns. */
function shown(head: string, column: number): string[] {
  const indent = " ".repeat(column);
  return [
    `${head}first line`,
    `${indent}^[[31mred^[[0m`,
    `${indent}<U+202E>evil`,
    `${indent}last`,
  ];
}

/** The lines from the first that `start` accepts, as many as `like` has. */
function linesFrom(
  lines: string[],
  start: (line: string) => boolean,
  like: string[],
): string[] {
  const at = lines.findIndex(start);
  return at === -1 ? [] : lines.slice(at, at + like.length);
}

Deno.test({
  name:
    "terminal: a message of several lines shows as its lines set in under its text, each made safe (public, private and group, end to end, and /history); 500 lines show as 10; --json keeps the text",
  ignore: !TMUX,
  async fn() {
    await using chat = await ServedChat.start("chat-lines-");
    await chat.serve();
    await using pane = new Pane();
    await pane.start(
      connectCommand({
        dir: chat.dir,
        port: chat.port,
        user: "sophia",
        home: true,
        args: ["--no-time"],
      }),
      100,
      80,
    );
    await pane.waitFor("the prompt", (l) => lastLine(l) === "sophia>");
    const [jojoChat, nanaChat] = await chat.signIn(["jojo", "nana"], {
      args: ["--json"],
    });
    await chat.keysOf("sophia", () => true);
    const jojo = new Bot(jojoChat);
    const nana = new Bot(nanaChat);
    await jojo.ask({ cmd: "create", group: "team" }, "ok");
    await pane.type("/join team\r");
    await pane.waitFor(
      "sophia in team",
      (l) => l.includes("SUCCESS: Joined group 'team'."),
    );

    const expectLines = async (
      what: string,
      start: (line: string) => boolean,
      like: string[],
    ) => {
      const lines = await pane.waitFor(
        what,
        (l) => linesFrom(l, start, like).length === like.length,
      );
      assert.deepEqual(linesFrom(lines, start, like), like);
    };

    await jojo.ask({ cmd: "send", text: BODY }, "sent");
    const pub = shown("[Broadcast from jojo]: ", 23);
    await expectLines("the public message", (l) => l === pub[0], pub);

    await jojo.ask({ cmd: "msg", to: "sophia", text: BODY }, "sent");
    const priv = shown("Private message from jojo: ", 27);
    await expectLines("the private message", (l) => l === priv[0], priv);

    await jojo.ask({ cmd: "group", group: "team", text: BODY }, "sent");
    // Set in no further than 40 columns.
    const group = shown("[Receive group team message from jojo]: ", 40);
    await expectLines("the group message", (l) => l === group[0], group);

    // 500 short lines: the first 9, then how many more.
    const flood = Array.from({ length: 500 }, (_, i) => `n${i}`).join("\n");
    await jojo.ask({ cmd: "send", text: flood }, "sent");
    const indent = " ".repeat(23);
    const few = [
      "[Broadcast from jojo]: n0",
      ...Array.from({ length: 8 }, (_, i) => `${indent}n${i + 1}`),
      `${indent}(... 491 more lines)`,
    ];
    await expectLines("the flood, cut", (l) => l === few[0], few);
    const after = await pane.lines();
    assert.ok(!after.some((l) => l.trim() === "n9"), after.join("\n"));

    // /history shows them the same way (the catch-up after a reconnect
    // comes as history too): set in 40 columns, past its long head.
    await pane.type("/history\r");
    const past = (l: string) =>
      /^\[history [0-9: -]+\] \[Broadcast from jojo\]: first line$/.test(l);
    const history = await pane.waitFor(
      "the message in /history",
      (l) => l.some(past),
    );
    const at = history.findIndex(past);
    assert.deepEqual(history.slice(at + 1, at + 4), shown("", 40).slice(1));

    // The input block is still below, whole.
    await pane.type("typed");
    await pane.waitFor(
      "the typed line in the prompt",
      (l) => lastLine(l)?.endsWith(" sophia> typed") === true,
    );

    // --json keeps the text exactly, breaks and escapes as they came.
    const received = (events: JsonEvent[], kind: string) =>
      events.filter((e) => e.type === "message" && e.kind === kind).map((e) =>
        e.text
      );
    await nanaChat.waitFor(/"text":"n0\\nn1/);
    assert.deepEqual(received(nana.events(), "public"), [BODY, flood]);
    await jojo.ask({ cmd: "msg", to: "nana", text: BODY }, "sent");
    await nanaChat.waitFor(/"kind":"private"/);
    assert.deepEqual(received(nana.events(), "private"), [BODY]);
  },
});

Deno.test({
  name:
    "terminal: a private message of several lines missed while disconnected shows as its lines in the catch-up after reconnecting",
  ignore: !TMUX,
  async fn() {
    await using chat = await ServedChat.start("chat-lines-");
    await chat.serve();
    const proxy = new HoldingProxy(Number(chat.port));
    await using pane = new Pane();
    try {
      await pane.start(
        connectCommand({
          dir: chat.dir,
          port: proxy.port,
          user: "sophia",
          home: true,
          args: ["--no-time"],
        }),
        100,
        40,
      );
      await pane.waitFor("the prompt", (l) => lastLine(l) === "sophia>");
      const [jojoChat] = await chat.signIn(["jojo"], { args: ["--json"] });
      await chat.keysOf("sophia", () => true);
      const jojo = new Bot(jojoChat);
      await pane.waitFor(
        "jojo joining",
        (l) => l.includes("*** jojo joined the chat ***"),
      );
      // sophia's connection drops; her next one gets nothing from the
      // server (its handshake held) until jojo has spoken.
      proxy.cutAll();
      proxy.holdAt(proxy.downBytes);
      await proxy.holding();
      // A private message waits for her (a public one is not kept for
      // whoever is away: README, "Messages wait for you").
      await jojo.ask({ cmd: "msg", to: "sophia", text: BODY }, "sent");
      proxy.release();
      const past = (l: string) =>
        /^\[history [0-9: -]+\] Private message from jojo: first line$/.test(l);
      const lines = await pane.waitFor(
        "the missed message",
        (l) => l.some(past),
        30_000,
      );
      const at = lines.findIndex(past);
      assert.deepEqual(lines.slice(at + 1, at + 4), shown("", 40).slice(1));
    } finally {
      await proxy.close();
    }
  },
});
