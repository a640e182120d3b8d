/**
 * The interactive client in a real terminal emulator: a tmux pane runs
 * `chat connect` against a real server, keys are typed with `send-keys` and
 * the screen and scrollback are read with `capture-pane`. Every incoming line
 * must be there, intact, whatever the input's length, the window's width, a
 * resize or a transfer's progress row; and the half-typed input must survive
 * and send as typed (issue 15, item 1).
 */

import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import assert from "node:assert/strict";
import { startTestServer, TestClient, testKeys } from "../_helpers/chat.ts";
import { FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

/** Text that shows where it was cut or garbled: numbered words. */
function typed(length: number, tag: string): string {
  let text = "";
  for (let i = 0; text.length < length; i++) text += `${tag}${i} `;
  return text.slice(0, length - 1) + ".";
}

Deno.test({
  name:
    "terminal keeps every incoming line above a wrapped, resized input and a progress row",
  ignore: !TMUX,
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-term-" });
    // Disposed last: after the pane that writes into it has gone.
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(
      `${dir}/public.pem`,
      (await testKeys()).publicPem,
    );
    await using pane = new Pane();
    await pane.start(
      connectCommand({
        dir,
        port: server.port,
        user: "sophia",
        args: [
          "--accept-files",
          "all",
          "--downloads",
          `${dir}/downloads`,
          "--no-open",
          // Lines are compared as the seed prints them: times are tested below.
          "--no-time",
        ],
      }),
      80,
    );
    await pane.waitFor("the prompt", (l) => l.includes("sophia>"));
    const jojo = await TestClient.connect(server, "jojo");
    await pane.waitFor(
      "jojo joining",
      (l) => l.includes("*** jojo joined the chat ***"),
    );

    const sent: string[] = [];
    const incoming: string[] = [];
    /** jojo says `text`; it must appear as its own line, intact. */
    const say = async (text: string) => {
      await jojo.client.say(text);
      incoming.push(`[Broadcast from jojo]: ${text}`);
      await pane.waitFor(`'${text}'`, (l) => l.includes(incoming.at(-1)!));
    };
    /** The pane shows every line so far, intact, and `input` being typed. */
    const assertScreen = async (input: string) => {
      const lines = await pane.waitFor(
        `the input '${input.slice(-20)}'`,
        (l) => l.includes(`sophia> ${input}`),
      );
      for (const line of incoming) assert.ok(lines.includes(line), line);
      for (const line of sent) {
        assert.ok(lines.includes(`sophia> ${line}`), line);
      }
      // No stale copy of the input block was left behind.
      assert.equal(
        lines.filter((l) => l.startsWith("sophia>")).length,
        sent.length + 1,
        lines.join("\n"),
      );
    };
    /** Enter sends the input as typed. */
    const send = async (input: string) => {
      await pane.keys("Enter");
      sent.push(input);
      const got = await jojo.waitFor((m) =>
        m.message.t === "public" && m.text === input
      );
      assert.equal(got.text, input);
      await pane.waitFor(
        "the new prompt",
        (l) => l.filter((line) => line !== "").at(-1) === "sophia>",
      );
    };

    // A long input wraps over eight rows.
    const long = typed(599, "w");
    await pane.type(long);
    await assertScreen(long);
    await say("one line while a long input wraps");
    await say("and another");
    await assertScreen(long);
    await send(long);

    // A narrow window: 85 characters take two rows of 60.
    await pane.resize(60);
    const narrow = typed(85, "n");
    await pane.type(narrow);
    await say("a line in a narrow window");
    await assertScreen(narrow);
    await send(narrow);

    // An input that ends exactly at the right edge, then goes past it.
    const edge = typed(52, "e");
    await pane.type(edge);
    await say("a line above an input at the edge");
    await assertScreen(edge);
    await send(edge);
    const after = await pane.lines();
    assert.match(
      after[after.indexOf(`sophia> ${edge}`) + 1] ?? "",
      /^Broadcast message sent: /,
      "no empty row is left after a line that filled its row",
    );
    await pane.type(`${edge}+`);
    await assertScreen(`${edge}+`);
    await pane.keys("BSpace");
    await assertScreen(edge);
    await send(edge);

    // Wide characters wrap as the terminal wraps them.
    const wide = `${"漢字とかな、한국어 ".repeat(6)}end`;
    await pane.type(wide);
    await say("a line above wide characters");
    await assertScreen(wide);
    await send(wide);

    // A paste with a line break sends its first line; the rest stays typed.
    await pane.tmux("set-buffer", "-b", "p", "pasted first line\nand a rest");
    await pane.tmux("paste-buffer", "-b", "p");
    sent.push("pasted first line");
    await jojo.waitFor((m) =>
      m.message.t === "public" && m.text === "pasted first line"
    );
    await say("a line after the paste");
    await assertScreen("and a rest");
    await send("and a rest");

    // A second Tab lists the completions above the input, which stays.
    await pane.type("/s");
    await pane.keys("Tab");
    await assertScreen("/showgroup");
    await pane.keys("Tab");
    await pane.waitFor(
      "the list of commands",
      (l) => l.includes("/showgroups  /showgroupmembers"),
    );
    await assertScreen("/showgroup");
    await pane.keys("C-u");
    await pane.waitFor(
      "the emptied input",
      (l) => l.filter((line) => line !== "").at(-1) === "sophia>",
    );

    // Resized while typing, wider then narrower, the cursor moved back.
    const before = typed(150, "r");
    await pane.type(before);
    await assertScreen(before);
    await pane.resize(100);
    await say("after widening");
    await assertScreen(before);
    await pane.resize(45);
    await say("after narrowing");
    await pane.keys("Left", "Left");
    await pane.type("XY");
    const edited = `${before.slice(0, -2)}XY${before.slice(-2)}`;
    await assertScreen(edited);
    await send(edited);

    // A transfer in progress: its status row sits above the input.
    await pane.resize(80);
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
    const status = /^big\.bin from jojo .*%/;
    await pane.waitFor(
      "the progress row",
      (l) => l.some((line) => status.test(line)),
    );
    const reply = "short reply, typed while a file comes in";
    await pane.type(reply);
    await say("a line during the transfer");
    await assertScreen(reply);
    const during = await pane.lines();
    assert.ok(
      status.test(during[during.indexOf(`sophia> ${reply}`) - 1] ?? ""),
      during.join("\n"),
    );
    jojo.client.post({ t: "file_cancel", xfer, reason: "test over" });
    await pane.waitFor(
      "the progress row gone",
      (l) => !l.some((line) => status.test(line)),
    );
    await assertScreen(reply);
    await send(reply);

    await jojo.quit();
  },
});

Deno.test({
  name:
    "terminal: times, Ctrl-C clears the line, /query in the prompt with unread counts, Ctrl-R, a paste asks, history kept 0600, Ctrl-C twice leaves",
  ignore: !TMUX,
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-term-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(
      `${dir}/public.pem`,
      (await testKeys()).publicPem,
    );
    const command = connectCommand({
      dir,
      port: server.port,
      user: "sophia",
      home: true,
    });
    await using pane = new Pane();
    await pane.start(command, 100);
    const lastLine = (l: string[]) => l.filter((line) => line !== "").at(-1);
    await pane.waitFor("the prompt", (l) => lastLine(l) === "sophia>");
    const jojo = await TestClient.connect(server, "jojo");
    await pane.waitFor(
      "jojo joining, with a time",
      (l) =>
        l.some((line) =>
          /^\[\d\d:\d\d\] \*\*\* jojo joined the chat \*\*\*$/.test(line)
        ),
    );
    const heard = (text: string, t = "public") =>
      jojo.waitFor((m) => m.message.t === t && m.text === text);

    // Every received line starts with the local time.
    await jojo.client.say("hello with a time");
    await pane.waitFor(
      "a timed line",
      (l) =>
        l.some((line) =>
          /^\[\d\d:\d\d\] \[Broadcast from jojo\]: hello with a time$/.test(
            line,
          )
        ),
    );

    // Ctrl-C throws away a half-typed line, and only that.
    await pane.type("half typed, never sent");
    await pane.waitFor(
      "the half-typed line",
      (l) => lastLine(l) === "sophia> half typed, never sent",
    );
    await pane.keys("C-c");
    await pane.waitFor("the cleared line", (l) => lastLine(l) === "sophia>");
    await pane.type("after ctrl-c");
    await pane.keys("Enter");
    await heard("after ctrl-c");
    assert.ok(!jojo.chat().some(([, , text]) => text.includes("half typed")));

    // /query: the prompt shows where plain lines go, and they go there.
    await pane.type("/query jojo");
    await pane.keys("Enter");
    await pane.waitFor(
      "the query prompt",
      (l) => lastLine(l) === "[jojo] sophia>",
    );
    await pane.type("a private hello");
    await pane.keys("Enter");
    await heard("a private hello", "private");
    // A message elsewhere is counted in the prompt until /query goes there.
    await jojo.client.say("public while you talk to jojo");
    await pane.waitFor(
      "the unread count",
      (l) => lastLine(l) === "(public 1) [jojo] sophia>",
    );
    await pane.type("/query");
    await pane.keys("Enter");
    await pane.waitFor("the public prompt", (l) => lastLine(l) === "sophia>");
    // Answering with /msg, as the seed does, reads the conversation too.
    await jojo.client.msg("sophia", "a private question");
    await pane.waitFor(
      "the private count",
      (l) => lastLine(l) === "(jojo 1) sophia>",
    );
    await pane.type("/msg jojo a private answer");
    await pane.keys("Enter");
    await heard("a private answer", "private");
    await pane.waitFor("the count gone", (l) => lastLine(l) === "sophia>");

    // Ctrl-R finds an earlier line; Enter sends it (now to everyone).
    await pane.keys("C-r");
    await pane.type("private h");
    await pane.waitFor(
      "the search",
      (l) => lastLine(l) === "(reverse-i-search)'private h': a private hello",
    );
    await pane.keys("Enter");
    await heard("a private hello", "public");

    // A paste of more than three lines asks first; no sends nothing.
    await pane.tmux("set-buffer", "-b", "p", "p1\np2\np3\np4\np5\n");
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 5 lines? [y/N]",
    );
    await pane.type("n");
    await pane.keys("Enter");
    await pane.waitFor(
      "the paste dropped",
      (l) => l.includes("Not sent: the 5 pasted lines"),
    );
    await pane.type("marker after the paste");
    await pane.keys("Enter");
    await heard("marker after the paste");
    assert.ok(!jojo.chat().some(([, , text]) => /^p\d$/.test(text)));
    // ... and yes sends them all, in order.
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question again",
      (l) => lastLine(l) === "Send 5 lines? [y/N]",
    );
    await pane.type("y");
    await pane.keys("Enter");
    await heard("p5");
    assert.deepEqual(
      jojo.chat().map(([, , text]) => text).filter((t) => /^p\d$/.test(t)),
      ["p1", "p2", "p3", "p4", "p5"],
    );
    // A paste whose text does not end with a newline leaves its last line
    // in the editor: out of the way while the question is answered, then
    // back, to be edited and sent (it was lost in the answer before).
    await pane.tmux("set-buffer", "-b", "q", "q1\nq2\nq3\nq4\nq5 unfinished");
    await pane.tmux("paste-buffer", "-b", "q");
    await pane.waitFor(
      "the question, the unfinished line out of its way",
      (l) => lastLine(l) === "Send 4 lines? [y/N]",
    );
    await pane.type("y");
    await pane.keys("Enter");
    await heard("q4");
    await pane.waitFor(
      "the unfinished line back in the editor",
      (l) => lastLine(l) === "sophia> q5 unfinished",
    );
    await pane.keys("Enter");
    await heard("q5 unfinished");

    // The history is kept for this server, 0600, without pasted lines.
    const folder = `${dir}/config/chat/history`;
    // Each sent line rewrites the file through a temporary beside it (an
    // atomic replace), which the listing may catch mid-write: skip it.
    const [file] = [...Deno.readDirSync(folder)].map((e) => e.name)
      .filter((name) => !name.endsWith(".tmp"));
    const kept = await Deno.readTextFile(`${folder}/${file}`);
    assert.ok(kept.includes("after ctrl-c\n"), kept);
    assert.ok(kept.includes("/query jojo\n"), kept);
    assert.ok(!kept.includes("half typed"), kept);
    assert.ok(!kept.includes("p1"), "pasted lines are not kept");
    assert.equal((await Deno.stat(`${folder}/${file}`)).mode! & 0o777, 0o600);

    // Tab completes the path after /file NAME; Ctrl-C clears it again.
    await Deno.writeTextFile(`${dir}/a-file-to-complete.txt`, "x");
    await pane.type(`/file jojo ${dir}/a-file-to`);
    await pane.keys("Tab");
    await pane.waitFor(
      "the completed path",
      (l) => lastLine(l) === `sophia> /file jojo ${dir}/a-file-to-complete.txt`,
    );
    await pane.keys("C-c");
    await pane.waitFor("the cleared line", (l) => lastLine(l) === "sophia>");

    // Ctrl-C on an empty line says how to leave; a second one leaves.
    await pane.keys("C-c");
    await pane.waitFor(
      "the hint",
      (l) => l.includes("(Ctrl-C again, /quit or Ctrl-D to leave)"),
    );
    await pane.keys("C-c");
    await jojo.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "sophia" &&
      !m.message.online
    );

    // The next session recalls the last line typed (not the paste's answer):
    // the unfinished line, entered on its own.
    await using again = new Pane();
    await again.start(command, 100);
    await again.waitFor("the prompt", (l) => lastLine(l) === "sophia>");
    await again.keys("Up");
    await again.waitFor(
      "the recalled line",
      (l) => lastLine(l) === "sophia> q5 unfinished",
    );
    await jojo.quit();
  },
});
