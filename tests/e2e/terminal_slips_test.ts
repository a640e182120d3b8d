/**
 * A new user's small slips at `chat connect` in a tmux pane, each answered
 * with what was likely meant: a name typed wrong in /file and /groupfile,
 * a file's name typed wrong.
 */

import assert from "node:assert/strict";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";
import { startTestServer, testKeys } from "../_helpers/chat.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_slips_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

function sophia() {
  return sophiaBesideJojo({
    prefix: "chat-slips-",
    args: () => ["--no-time"],
    width: 200,
    height: 40,
  });
}

Deno.test({
  name:
    "terminal: /file and /groupfile to a name a slip away say the one meant, and a file name a slip away the one file meant",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, dir } = scene;
    await Deno.mkdir(`${dir}/files`);
    await Deno.writeTextFile(`${dir}/files/notes.txt`, "notes\n");
    // Never named: the hint is the one close name, not the folder's list.
    await Deno.writeTextFile(`${dir}/files/secret-plans.txt`, "x\n");
    await pane.type("/create haha");
    await pane.keys("Enter");
    await pane.waitFor(
      "haha made",
      (l) => l.some((x) => !x.includes("/create") && x.includes("haha")),
    );

    await pane.type(`/file jojp ${dir}/files/notes.txt`);
    await pane.keys("Enter");
    await pane.waitFor(
      "the name meant, for /file",
      (l) => l.some((x) => /not online.* Did you mean jojo\?$/.test(x)),
    );

    await pane.type(`/groupfile hahq ${dir}/files/notes.txt`);
    await pane.keys("Enter");
    await pane.waitFor(
      "the group meant, for /groupfile",
      (l) => l.some((x) => /hahq.* Did you mean haha\?$/.test(x)),
    );

    await pane.type(`/file jojo ${dir}/files/notse.txt`);
    await pane.keys("Enter");
    const said = await pane.waitFor(
      "the file meant",
      (l) => l.some((x) => x.endsWith("not found. Did you mean notes.txt?")),
    );
    assert(!said.some((x) => x.includes("secret-plans")), said.join("\n"));

    // Two names as close: no guess between them.
    await Deno.writeTextFile(`${dir}/files/notez.txt`, "z\n");
    await pane.type(`/file jojo ${dir}/files/noted.txt`);
    await pane.keys("Enter");
    const none = await pane.waitFor(
      "no guess",
      (l) => l.some((x) => x.endsWith('noted.txt" not found')),
    );
    assert(!none.some((x) => x.includes("Did you mean notez")));
  },
});

Deno.test({
  name:
    "terminal: /groupfile to a name a slip away from a group made after this client connected says the one meant",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, dir, jojo } = scene;
    await Deno.writeTextFile(`${dir}/notes.txt`, "notes\n");
    // Made by someone else once sophia's client had asked for the groups:
    // nobody is told of a group they are not in.
    const made = await jojo.client.request({ t: "create", group: "haha" });
    assert.equal(made.t, "ok", JSON.stringify(made));
    // Before: "ERROR: Group 'hahq' does not exist." and no more.
    await pane.type(`/groupfile hahq ${dir}/notes.txt`);
    await pane.keys("Enter");
    await pane.waitFor(
      "the group meant, for /groupfile",
      (l) => l.some((x) => /hahq.* Did you mean haha\?$/.test(x)),
    );
  },
});

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);
const FIVE = "one\ntwo\nthree\nfour\nlast";

Deno.test({
  name:
    "terminal: a paste refused takes its unfinished last line with it, and a /quit typed next leaves, not glued to it",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    await pane.tmux("set-buffer", "-b", "p", "--", FIVE);
    // Without -p: no brackets, each line break an Enter, "last" unfinished.
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 4 lines? [y/N]",
    );
    // An Enter after the n, as the question once needed: no line to send.
    await pane.type("n");
    await pane.keys("Enter");
    await pane.waitFor(
      "the paste dropped",
      (l) => l.includes("Not sent: the 4 pasted lines"),
    );
    await pane.type("/quit");
    await pane.keys("Enter");
    await jojo.waitFor((m) =>
      m.message.t === "presence" && m.message.name === "sophia" &&
      !m.message.online
    );
    assert(
      !jojo.inbox.some((m) => m.text.includes("last")),
      JSON.stringify(jojo.inbox.map((m) => m.text)),
    );
  },
});

Deno.test({
  name:
    "terminal: `Send 4 lines? [y/N]` takes y at once, without Enter, and the paste's last line is back in the editor",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    await pane.tmux("set-buffer", "-b", "p", "--", FIVE);
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 4 lines? [y/N]",
    );
    // Text that starts with y, pasted (one read), is not the answer.
    await pane.tmux("set-buffer", "-b", "y", "--", "yes, and more");
    await pane.tmux("paste-buffer", "-b", "y");
    await pane.waitFor(
      "the pasted y refused as an answer",
      (l) =>
        l.includes("Not pasted: answer the question about the paste first") &&
        lastLine(l) === "Send 4 lines? [y/N]",
    );
    await pane.type("y");
    await jojo.waitFor((m) => m.text === "four");
    await pane.waitFor(
      "the last line back to edit",
      (l) => lastLine(l) === "sophia> last",
    );
    // The Enter the question used to need, out of habit: not a send of the
    // line just brought back, unseen. The next Enter sends it.
    await pane.keys("Enter");
    await pane.type(" edited");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "last edited");
    assert(!jojo.inbox.some((m) => m.text.includes("yes, and more")));
  },
});

Deno.test({
  name: "terminal: Escape and Enter alone answer `Send 4 lines? [y/N]` no",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane } = scene;
    await pane.tmux("set-buffer", "-b", "p", "--", FIVE);
    const dropped = (l: string[]) =>
      l.filter((x) => x === "Not sent: the 4 pasted lines").length;
    for (const [i, key] of ["Escape", "Enter"].entries()) {
      await pane.tmux("paste-buffer", "-b", "p");
      await pane.waitFor(
        "the paste question",
        (l) => lastLine(l) === "Send 4 lines? [y/N]",
      );
      await pane.keys(key);
      await pane.waitFor(
        `the paste dropped at ${key}`,
        (l) => dropped(l) === i + 1 && lastLine(l) === "sophia>",
      );
    }
  },
});

Deno.test({
  name:
    "terminal: any other letter answers `Send 4 lines? [y/N]` no, and is not left in the next line",
  ignore: !TMUX,
  async fn() {
    const scene = await sophia();
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    await pane.tmux("set-buffer", "-b", "p", "--", FIVE);
    await pane.tmux("paste-buffer", "-b", "p");
    await pane.waitFor(
      "the paste question",
      (l) => lastLine(l) === "Send 4 lines? [y/N]",
    );
    // Before: the x went into the answer's line, and on into the next.
    await pane.type("x");
    await pane.waitFor(
      "the paste dropped at x",
      (l) =>
        l.includes("Not sent: the 4 pasted lines") &&
        lastLine(l) === "sophia>",
    );
    await pane.type("hello");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text.endsWith("hello"));
    const texts = jojo.inbox.map((m) => m.text);
    assert(texts.includes("hello"), JSON.stringify(texts));
    assert(!texts.some((t) => t.includes("x")), JSON.stringify(texts));
  },
});

Deno.test({
  name:
    "terminal: a name typed at the prompt with a character outside the rule names it beside its code point, and the prompt asks again",
  ignore: !TMUX,
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-slips-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    await using pane = new Pane();
    await pane.start(
      connectCommand({ dir, port: server.port, user: null, home: true }),
      200,
      20,
    );
    await pane.waitFor(
      "the name asked",
      (l) => lastLine(l) === "Enter your username:",
    );
    await pane.type("josé");
    await pane.keys("Enter");
    await pane.waitFor(
      "the character named, and the name asked again",
      (l) =>
        l.some((x) => x.endsWith(", not 'é' (U+00E9, character 4)")) &&
        lastLine(l) === "Enter your username:",
    );
    await pane.type("jose");
    await pane.keys("Enter");
    await pane.waitFor(
      "signed in",
      (l) => l.includes("SUCCESS: Username registered."),
    );
  },
});
