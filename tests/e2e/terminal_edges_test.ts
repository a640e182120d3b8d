/**
 * The line editor at its edges, in a real terminal emulator (tmux, as in
 * terminal_test.ts): lines arriving while the input is in a state the
 * drawing could get wrong. Each incoming line must stay on screen, once and
 * intact, and what the user typed must be drawn once and sent as typed.
 */

import assert from "node:assert/strict";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";
import { TestClient } from "../_helpers/chat.ts";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { hasTmux } from "../_helpers/tmux.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_edges_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

/** sophia at `chat connect` in a pane `width` by `height`, and jojo beside her. */
async function chatPane(width: number, height = 30, flags: string[] = []) {
  const { server, pane, jojo, dispose } = await sophiaBesideJojo({
    prefix: "chat-term-",
    args: (dir) => ["--downloads", `${dir}/downloads`, "--no-time", ...flags],
    width,
    height,
  });
  const said: string[] = [];
  return {
    server,
    pane,
    jojo,
    said,
    /** jojo says `text`; it appears as a line of its own. */
    async say(text: string): Promise<void> {
      await jojo.client.say(text);
      said.push(`[Broadcast from jojo]: ${text}`);
      await pane.waitFor(`'${text}'`, (l) => l.includes(said.at(-1)!));
    },
    /** Everything jojo said is still there, each line once. */
    async assertSaid(): Promise<string[]> {
      const lines = await pane.lines();
      for (const line of said) {
        assert.equal(
          lines.filter((l) => l === line).length,
          1,
          `${line}\n--- the pane:\n${lines.join("\n")}`,
        );
      }
      return lines;
    },
    /** Enter sends `input`, which jojo receives as typed. */
    async send(input: string): Promise<void> {
      await pane.keys("Enter");
      const got = await jojo.waitFor((m) =>
        m.message.t === "public" && m.text === input
      );
      assert.equal(got.text, input);
    },
    [Symbol.asyncDispose]: dispose,
  };
}

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

Deno.test({
  name:
    "terminal: a progress row that no longer fits a narrowed window is erased whole, not left behind",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(80, 30, ["--accept-files", "all"]);
    const { pane, jojo } = chat;
    // A transfer that stays at 4 chunks of 64: its progress row stays up.
    const size = 64 * FILE_CHUNK_BYTES;
    const key = newFileKey();
    const offer = await jojo.client.request({
      t: "file_offer",
      name: "big.bin",
      size,
      to: "sophia",
      ...fileKeyForOffer(key),
    });
    assert.equal(offer.t, "file_ready");
    const xfer = (offer as { xfer: number }).xfer;
    const cipher = await FileCipher.create(key, xfer, size);
    for (let i = 0; i < 4; i++) {
      const offset = i * FILE_CHUNK_BYTES;
      jojo.client.post(
        { t: "file_chunk", xfer, offset },
        await cipher.seal(
          { index: i, offset },
          new Uint8Array(FILE_CHUNK_BYTES),
        ),
        true,
      );
    }
    const status = /big\.bin from/;
    await pane.waitFor(
      "the progress row, whole",
      (l) => l.some((line) => /^big\.bin from jojo .*%/.test(line)),
    );
    const input = "typed under the progress row";
    await pane.type(input);
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    // Narrower than the row: tmux splits it over two rows, and the block
    // is drawn again at the new width.
    await pane.resize(30);
    await chat.say("narrow");
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    const lines = await chat.assertSaid();
    assert.equal(
      lines.filter((line) => status.test(line)).length,
      1,
      `one progress row, no piece of the old one\n${lines.join("\n")}`,
    );
    jojo.client.post({ t: "file_cancel", xfer, reason: "test over" });
    await chat.send(input);
  },
});

// Seen at 40 columns: "big.bin from sophia 102.1 MiB/200.0 Mi…", the
// percentage and the time left cut off the end of the row.
Deno.test({
  name:
    "terminal: a progress row too wide for a narrow window keeps the percentage and the time left",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(36, 30, ["--accept-files", "all"]);
    const { pane, jojo } = chat;
    // A transfer that stays at 4 chunks of 64: its progress row stays up.
    const size = 64 * FILE_CHUNK_BYTES;
    const key = newFileKey();
    const offer = await jojo.client.request({
      t: "file_offer",
      name: "big.bin",
      size,
      to: "sophia",
      ...fileKeyForOffer(key),
    });
    assert.equal(offer.t, "file_ready");
    const xfer = (offer as { xfer: number }).xfer;
    const cipher = await FileCipher.create(key, xfer, size);
    for (let i = 0; i < 4; i++) {
      const offset = i * FILE_CHUNK_BYTES;
      jojo.client.post(
        { t: "file_chunk", xfer, offset },
        await cipher.seal(
          { index: i, offset },
          new Uint8Array(FILE_CHUNK_BYTES),
        ),
        true,
      );
    }
    // The full row ("big.bin from jojo 384.0 KiB/8.0 MiB 4%", and the rate
    // and time left once measured) is wider than 36 columns.
    await pane.waitFor(
      "the progress row with its percentage (and time left, once measured)",
      (l) =>
        l.some((line) => /^big\.bin from jojo \d+%( \d+s left)?$/.test(line)),
    );
    jojo.client.post({ t: "file_cancel", xfer, reason: "test over" });
  },
});

Deno.test({
  name:
    "terminal: the cursor moved into an emoji joined with ZWJ keeps the line above the input",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(80);
    const { pane } = chat;
    await chat.say("the line above the input");
    // 8 + 62 + 4 columns: one row. The cursor between the ZWJ and the
    // second emoji: that part of the line alone would show the ZWJ as
    // <U+200D>, 8 columns more, past the edge.
    const input = `${"x".repeat(62)}👨\u200d👩`;
    await pane.type(input);
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    await pane.keys("Left");
    await chat.say("a line while the cursor is in the emoji");
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    await chat.assertSaid();
    await pane.keys("End");
    await chat.send(input);
  },
});

Deno.test({
  name:
    "terminal: after Ctrl-L, lines that arrive leave no copy of the input in the scrollback",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(80);
    const { pane } = chat;
    await chat.say("before the clear");
    const input = "typed before ctrl-l";
    await pane.type(input);
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    // The block is at the top of the screen: erasing it from there must not
    // clear the whole screen, which tmux scrolls into the scrollback.
    await pane.keys("C-l");
    const deadline = Date.now() + WAIT_MS;
    // Polling the screen (not the scrollback) until the input is on top.
    while (
      !(await pane.tmux("capture-pane", "-p")).startsWith(`sophia> ${input}`)
    ) {
      if (Date.now() > deadline) throw new Error("the screen was not cleared");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await chat.say("after the clear");
    await chat.say("and another");
    await pane.waitFor("the input", (l) => lastLine(l) === `sophia> ${input}`);
    const lines = await chat.assertSaid();
    assert.equal(
      lines.filter((line) => line === `sophia> ${input}`).length,
      1,
      lines.join("\n"),
    );
    await chat.send(input);
  },
});

/** Text that shows where it was cut or garbled: numbered words. */
function typed(length: number, tag: string): string {
  let text = "";
  for (let i = 0; text.length < length; i++) text += `${tag}${i} `;
  return text.slice(0, length - 1) + ".";
}

Deno.test({
  name:
    "terminal: an input taller than the screen leaves no copy of its rows above the lines that arrive, and is sent whole",
  ignore: !TMUX,
  async fn() {
    // 8 + 700 columns: 18 rows of 40 on a screen of 12.
    await using chat = await chatPane(40, 12);
    const { pane } = chat;
    const input = typed(700, "t");
    await pane.type(input);
    await pane.waitFor(
      "the end of the input",
      (l) => lastLine(l)?.endsWith(input.slice(-12)) ?? false,
    );
    await chat.say("one");
    await chat.say("two");
    // Back to its start, where a word is put in: the rows around the
    // cursor are shown.
    await pane.keys("Home");
    await pane.type("X");
    await chat.say("three");
    await pane.keys("End");
    await chat.say("four");
    await chat.assertSaid();
    await chat.send(`X${input}`);
    await pane.waitFor("the new prompt", (l) => lastLine(l) === "sophia>");
    const lines = await chat.assertSaid();
    // The line sent stays on screen once, whole, and nothing else of it (40
    // characters are more than a row of the reply quoting it holds).
    const part = input.slice(100, 140);
    assert.equal(
      lines.filter((line) => line.includes(part)).length,
      1,
      lines.join("\n"),
    );
    assert.ok(lines.includes(`sophia> X${input}`), lines.join("\n"));
  },
});

Deno.test({
  name:
    "terminal: an incoming line continues on the next row before an emoji joined with ZWJ, not inside it",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(30);
    const { pane, jojo } = chat;
    // "[Broadcast from jojo]: " is 23 columns, "abcd" 4 more: the family
    // (three emoji, 6 columns as counted) does not fit in the 3 left. The
    // word it is in is longer than a row, so the row is not ended before it
    // (between words) but inside it.
    const family = "👨\u200d👩\u200d👧";
    const word = `abcd${family}${"z".repeat(20)}`;
    const text = `${word} end`;
    await jojo.client.say(text);
    const lines = await pane.waitFor(
      "the line's end",
      (l) => l.some((line) => line.endsWith(" end")),
    );
    const at = lines.findIndex((line) => line.startsWith("[Broadcast from"));
    assert.deepEqual(
      lines.slice(at, at + 2),
      ["[Broadcast from jojo]: abcd", `  ${family}${"z".repeat(20)}`],
      lines.join("\n"),
    );
  },
});

Deno.test({
  name:
    "terminal: a pasted line of the longest message is on screen at once, lines arriving meanwhile too, and is sent whole",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(80);
    const { pane } = chat;
    await chat.say("before the paste");
    // readline measured the whole line at each pasted character: these
    // took 6 to 8 s each, every incoming line held up behind them. Inserted
    // as one string, 50 to 200 ms (tmux polled, a 2-core machine loaded).
    const bound = 1_000;
    const tail = typed(3_000, "p");
    let start = performance.now();
    await pane.paste(tail);
    await chat.say("while pasting");
    await pane.waitFor(
      "the paste's end",
      (l) => lastLine(l)?.endsWith(tail.slice(-20)) ?? false,
      60_000,
    );
    const atEnd = performance.now() - start;
    // Into the line's start: readline draws the whole line again at each
    // character put anywhere but at the end.
    await pane.keys("Home");
    const head = typed(1_000, "h");
    start = performance.now();
    await pane.paste(head);
    await pane.waitFor(
      "the second paste",
      (l) =>
        l.some((line) =>
          line.includes(`${head.slice(-30)}${tail.slice(0, 10)}`)
        ),
      60_000,
    );
    const atStart = performance.now() - start;
    assert.ok(
      atEnd < bound && atStart < bound,
      `${tail.length} characters pasted at the end were on screen after ${
        atEnd.toFixed(0)
      } ms, ${head.length} at the start after ${atStart.toFixed(0)} ms`,
    );
    await chat.say("after pasting");
    await pane.keys("End");
    await chat.assertSaid();
    await chat.send(`${head}${tail}`);
  },
});

// Seen: a second Tab after "/" listed the commands in one line the terminal
// cut anywhere, "... /list  /s" on one row and "howgroups  /create ..." on
// the next.
Deno.test({
  name: "terminal: a second Tab lists the choices in rows cut between them",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(60);
    const { pane } = chat;
    await pane.type("/");
    await pane.keys("Tab");
    await pane.waitFor("the prompt", (l) => lastLine(l) === "sophia> /");
    await pane.keys("Tab");
    const lines = await pane.waitFor(
      "the choices",
      (l) => l.some((line) => line.includes("/quit")),
    );
    const first = lines.findIndex((line) => line.startsWith("/msg  "));
    const last = lines.findIndex((line) => line.includes("/quit"));
    const rows = lines.slice(first, last + 1);
    const names = rows.flatMap((row) => row.trim().split(/ +/));
    assert.ok(names.includes("/showgroups"), rows.join("\n"));
    assert.ok(names.includes("/showgroupmembers"), rows.join("\n"));
    for (const name of names) assert.match(name, /^\/[a-z]+$/, rows.join("\n"));
    for (const row of rows) assert.ok(row.length <= 60, row);
  },
});

// Seen: sophia's file question scrolled away as soon as jojo said anything,
// and nothing at the prompt said an answer was awaited.
Deno.test({
  name:
    "terminal: a file question waiting for an answer stays in a row above the prompt, with the count when several wait",
  ignore: !TMUX,
  async fn() {
    await using chat = await chatPane(100);
    const { pane } = chat;
    // Each offer from a sender of its own, who takes it back by leaving.
    const offer = async (from: string, name: string) => {
      const sender = await TestClient.connect(chat.server, from);
      // The server answers an offer once sophia has: not awaited.
      void sender.client.request({
        t: "file_offer",
        name,
        size: 2048,
        to: "sophia",
        ...fileKeyForOffer(newFileKey()),
      }).catch(() => {});
      return sender;
    };
    const nonEmpty = (l: string[]) => l.filter((line) => line !== "");
    const aboveThePrompt = (l: string[]) => nonEmpty(l).at(-2);
    const nana = await offer("nana", "a.bin");
    await pane.waitFor(
      "the question",
      (l) => l.some((line) => line.startsWith("nana wants to send you a.bin")),
    );
    const kiki = await offer("kiki", "b.bin");
    await chat.say("anything at all");
    const row =
      "Answer y / n / always (1 of 2 offers): nana wants to send you a.bin (2.0 KiB)";
    let lines = await pane.waitFor(
      "the oldest question and the count above the prompt",
      (l) =>
        aboveThePrompt(l)?.startsWith(row) === true &&
        lastLine(l) === "sophia>",
    );
    // Printed once, and it stays in the scrollback above what came after it.
    const asked = lines.filter((l) =>
      l.startsWith("nana wants to send you a.bin (2.0 KiB)")
    );
    assert.equal(asked.length, 1, lines.join("\n"));
    assert.ok(
      lines.indexOf(asked[0]!) <
        lines.indexOf("[Broadcast from jojo]: anything at all"),
      lines.join("\n"),
    );
    await nana.quit();
    await chat.say("more");
    await pane.waitFor(
      "the next question alone above the prompt",
      (l) =>
        aboveThePrompt(l)?.startsWith(
            "Answer y / n / always: kiki wants to send you b.bin (2.0 KiB)",
          ) === true &&
        lastLine(l) === "sophia>",
    );
    await kiki.quit();
    // Its going is said once, as not received and why (not besides as a
    // question 'cancelled').
    await pane.waitFor(
      "the file said not received",
      (l) =>
        l.some((line) =>
          line.startsWith("ERROR: File b.bin from kiki was not received")
        ),
    );
    await chat.say("done");
    lines = await pane.waitFor(
      "no row left",
      (l) =>
        aboveThePrompt(l) === "[Broadcast from jojo]: done" &&
        lastLine(l) === "sophia>",
    );
    assert.equal(
      lines.filter((l) => l.startsWith("Answer y / n")).length,
      0,
      lines.join("\n"),
    );
  },
});
