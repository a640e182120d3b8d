/**
 * What a tester saw at `chat connect` in an 80x24 terminal (tmux), each
 * fixed: a paste without brackets looked sent before its question was
 * answered, and Ctrl-D at that question ended the session.
 */

import assert from "node:assert/strict";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { hasTmux } from "../_helpers/tmux.ts";
import { TestClient } from "../_helpers/chat.ts";
import { e2ePeer } from "../_helpers/e2e_peer.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_rough_edges_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

function sophia() {
  return sophiaBesideJojo({
    prefix: "chat-rough-",
    args: () => ["--no-time"],
    width: 80,
    height: 24,
  });
}

Deno.test({
  name:
    "terminal: lines pasted without brackets are not shown as sent while their question waits; no leaves none on screen, yes shows and sends them",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    const text = Array.from({ length: 20 }, (_, i) => `pasted line ${i + 1}`)
      .join("\n") + "\n";
    await pane.tmux("set-buffer", "-b", "p", "--", text);
    // Without -p: no brackets, each line break an Enter.
    await pane.tmux("paste-buffer", "-b", "p");
    const asked = await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 20 lines? [y/N]",
    );
    const looksSent = (l: string[]) =>
      l.filter((line) => /^sophia> pasted line \d+$/.test(line));
    assert.deepEqual(looksSent(asked), [], asked.join("\n"));
    await pane.type("n");
    await pane.keys("Enter");
    const dropped = await pane.waitFor(
      "the paste dropped",
      (l) => l.includes("Not sent: the 20 pasted lines"),
    );
    assert.deepEqual(looksSent(dropped), [], dropped.join("\n"));

    // Yes: the lines are shown as sent, in order, and sent.
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question again",
      (l) => lastLine(l) === "Send 20 lines? [y/N]",
    );
    await pane.type("y");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "pasted line 20");
    const sent = await pane.waitFor(
      "the lines shown as sent",
      (l) => looksSent(l).length === 20 && lastLine(l) === "sophia>",
    );
    assert.deepEqual(
      looksSent(sent),
      Array.from({ length: 20 }, (_, i) => `sophia> pasted line ${i + 1}`),
    );
    // A line typed alone is shown and sent as ever.
    await pane.type("typed alone");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "typed alone");
    await pane.waitFor(
      "the typed line kept",
      (l) => l.includes("sophia> typed alone") && lastLine(l) === "sophia>",
    );
  },
});

Deno.test({
  name:
    "terminal: Ctrl-D at the paste question answers no and keeps the session",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    await pane.tmux("set-buffer", "-b", "p", "--", "d1\nd2\nd3\nd4\nd5\n");
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 5 lines? [y/N]",
    );
    await pane.keys("C-d");
    await pane.waitFor(
      "the paste dropped, the prompt back",
      (l) =>
        l.includes("Not sent: the 5 pasted lines") &&
        lastLine(l) === "sophia>",
    );
    await pane.type("still here");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "still here");
    assert.ok(!jojo.chat().some(([, , text]) => /^d\d$/.test(text)));
  },
});

Deno.test({
  name:
    "terminal: /help fits an 80x24 screen: the line that asked, the help's first row and the prompt are all in sight",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane } = scene;
    await pane.type("/help");
    await pane.keys("Enter");
    await pane.waitFor(
      "the help's last row and the prompt",
      (l) =>
        l.some((line) => line.includes("/quit")) && lastLine(l) === "sophia>",
    );
    // The screen only, without the scrollback.
    const screen = (await pane.tmux("capture-pane", "-p")).split("\n")
      .map((line) => line.trimEnd());
    assert.ok(screen.includes("sophia> /help"), screen.join("\n"));
    assert.ok(
      screen.includes(
        "Type a message and press Enter to send it to everyone, or to the user or",
      ),
      screen.join("\n"),
    );
    assert.ok(
      screen.some((line) => line.includes("/help COMMAND")),
      screen.join("\n"),
    );
  },
});

Deno.test({
  name:
    "terminal: a long error wrapped at 80 columns leaves no space at the end of the row it breaks",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane } = scene;
    // "ERROR: Unknown command '/zzz...'. Type /help for the list of " is
    // 75 columns: "commands" goes to the next row.
    await pane.type(`/${"z".repeat(20)}`);
    await pane.keys("Enter");
    await pane.waitFor(
      "the error's last word",
      (l) => l.includes("  commands") && lastLine(l) === "sophia>",
    );
    // The rows as drawn, with the spaces at their ends (-N).
    const rows = (await pane.tmux("capture-pane", "-p", "-N")).split("\n");
    const broken = rows.find((row) => row.startsWith("ERROR: Unknown command"));
    assert.ok(broken?.endsWith("for the list of"), JSON.stringify(broken));
  },
});

Deno.test({
  name:
    "terminal: /list names everyone by name, case aside, not in the order they signed in",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, server } = scene;
    const others = [];
    try {
      for (const name of ["zed", "Bob", "alice"]) {
        others.push(await TestClient.connect(server, name));
        await pane.waitFor(
          `${name} joining`,
          (l) => l.includes(`*** ${name} joined the chat ***`),
        );
      }
      await pane.type("/list");
      await pane.keys("Enter");
      const lines = await pane.waitFor(
        "the list",
        (l) =>
          l.filter((line) => line.includes(" - Last Message: ")).length === 5 &&
          lastLine(l) === "sophia>",
      );
      assert.deepEqual(
        lines.filter((line) => line.includes(" - Last Message: ")).map((
          line,
        ) => /^\*\*\* (\S+) - /.exec(line)?.[1]),
        ["alice", "Bob", "jojo", "sophia", "zed"],
      );
    } finally {
      for (const other of others) await other.quit();
    }
  },
});

Deno.test({
  name:
    "terminal: another chat program's command (/names, /whois, /back) is pointed at ours, and nothing is sent",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    // The replies as read, whatever rows 80 columns cut them into.
    const read = (l: string[]) => l.join(" ").replace(/ +/g, " ");
    // Each once the one before was answered (enterLine): typed at once,
    // they would be a paste, one line from its question.
    for (
      const [line, reply] of [
        ["/names", "ERROR: Unknown command '/names'"],
        ["/whois jojo", "ERROR: Unknown command '/whois'"],
        ["/back", "Did you mean /away (alone, it marks you back)?"],
      ] as const
    ) {
      await pane.enterLine(line, () =>
        pane.waitFor(
          `the reply to ${line}`,
          (l) => read(l).includes(reply) && lastLine(l) === "sophia>",
        ));
    }
    const said = read(await pane.lines());
    assert.match(
      said,
      /ERROR: Unknown command '\/names'\. Did you mean \/list\? Type \/help/,
    );
    assert.match(
      said,
      /ERROR: Unknown command '\/whois'\. Did you mean \/verify\? Type \/help/,
    );
    // Nothing typed reached jojo.
    await pane.type("only this");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "only this");
    assert.ok(!jojo.chat().some(([, , text]) => /names|whois|back/.test(text)));
  },
});

Deno.test({
  name:
    "terminal: /groupfile to a group one has left is refused before its key goes to any member, not after saying it went",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, dir, server } = scene;
    // A member with end-to-end keys, whom a file's key would go to.
    const nana = await e2ePeer(server, "nana");
    try {
      await nana.client.request({ t: "create", group: "haha" });
      await Deno.writeTextFile(`${dir}/note.txt`, "for the group\n");
      for (
        const [line, reply] of [
          ["/join haha", "SUCCESS: Joined group 'haha'."],
          ["/leave haha", "SUCCESS: Left group 'haha'."],
          [
            `/groupfile haha ${dir}/note.txt`,
            "ERROR: You are not a member of group 'haha'. Join it with /join haha",
          ],
        ]
      ) {
        await pane.type(line!);
        await pane.keys("Enter");
        await pane.waitFor(
          reply!,
          (l) =>
            l.join(" ").replace(/ +/g, " ").includes(reply!) &&
            lastLine(l) === "sophia>",
        );
      }
      // It read "The key of note.txt went end to end to nana, the members
      // of haha online the server lists", then the server's refusal.
      const after = (await pane.lines()).join("\n").split("/groupfile haha")[1];
      assert.doesNotMatch(after ?? "", /The key of|WARNING/, after);
      assert.equal(nana.inbox.length, 0);
    } finally {
      await nana.client.quit().catch(() => {});
    }
  },
});
