/**
 * What a newcomer met at `chat connect` in a tmux pane (and a received file
 * that the desktop could not open), each fixed: /help's first lines wrapped
 * twice on a narrow terminal, `/query BOB` kept the name as typed, and an
 * opener that opened nothing was said nowhere.
 */

import assert from "node:assert/strict";
import { sophiaBesideJojo } from "../_helpers/sophia_pane.ts";
import { hasTmux } from "../_helpers/tmux.ts";
import {
  ChatProcess,
  listeningPort,
  serveProcess,
} from "../_helpers/process.ts";

const TMUX = await hasTmux();
if (!TMUX) {
  console.warn(
    "tests/e2e/terminal_newcomer_test.ts: skipped: tmux is not installed and could not be installed with apt-get",
  );
}

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

Deno.test({
  name:
    "terminal: /help at 40 columns cuts its first paragraphs at the width, no row indented or past it",
  ignore: !TMUX,
  async fn() {
    const scene = await sophiaBesideJojo({
      prefix: "chat-newcomer-",
      args: () => ["--no-time"],
      width: 40,
      height: 60,
    });
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane } = scene;
    await pane.type("/help");
    await pane.keys("Enter");
    await pane.waitFor(
      "the help's last row and the prompt",
      (l) => l.includes("  /quit") && lastLine(l) === "sophia>",
    );
    // The rows as drawn (not joined): what the terminal shows.
    const rows = (await pane.tmux("capture-pane", "-p", "-S", "-")).split("\n")
      .map((row) => row.trimEnd());
    const start = rows.indexOf("sophia> /help");
    const commands = rows.findIndex((row, i) =>
      i > start && row.startsWith("Commands")
    );
    assert.ok(start >= 0 && commands > start, rows.join("\n"));
    const intro = rows.slice(start + 1, commands);
    // Laid out for 80 columns and wrapped again at 40, every other row
    // began "  " mid-sentence: "send" / "  it to everyone, or to the user
    // or" / "group chosen with /query...".
    assert.deepEqual(
      intro.filter((row) => row.startsWith(" ") || row.length > 40),
      [],
      intro.join("\n"),
    );
    assert.equal(intro[0], "Type a message and press Enter to send");
    assert.equal(
      intro.join(" "),
      "Type a message and press Enter to send it to everyone, or to the user or group chosen with /query. Start it with // to send a message that begins with /. Private messages (/msg), group messages and files are end-to-end encrypted: the server cannot read them. The public room is not: the server's host can read it.",
    );
  },
});

Deno.test({
  name:
    "terminal: /query names a person and a group as the server spells them, in its note and the prompt",
  ignore: !TMUX,
  async fn() {
    const scene = await sophiaBesideJojo({
      prefix: "chat-newcomer-",
      args: () => ["--no-time"],
      width: 80,
      height: 24,
    });
    await using _scene = { [Symbol.asyncDispose]: scene.dispose };
    const { pane, jojo } = scene;
    await pane.type("/query JoJo");
    await pane.keys("Enter");
    await pane.waitFor(
      "the note and the prompt with jojo's own spelling",
      (l) =>
        l.includes(
          "Plain lines now go to jojo (private); /query alone goes back to everyone",
        ) && lastLine(l) === "[jojo] sophia>",
    );
    await pane.type("hi there");
    await pane.keys("Enter");
    await jojo.waitFor((m) => m.text === "hi there");

    await pane.type("/create Team");
    await pane.keys("Enter");
    await pane.waitFor(
      "the group",
      (l) => l.includes("SUCCESS: Group 'Team' created and joined."),
    );
    await pane.type("/query #TEAM");
    await pane.keys("Enter");
    await pane.waitFor(
      "the note and the prompt with the group's own spelling",
      (l) =>
        l.includes(
          "Plain lines now go to group Team; /query alone goes back to everyone",
        ) && lastLine(l) === "[#Team] sophia>",
    );
  },
});

Deno.test("chat connect says when the program that opens a received file fails, and where the file is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-newcomer-open-" });
  let server: ChatProcess | null = null;
  try {
    const keygen = new ChatProcess(
      ["keygen", "--bits", "2048", "--out", `${dir}/keys`],
    );
    assert.equal((await keygen.finish()).code, 0);
    server = serveProcess(`${dir}/keys`);
    const port = await listeningPort(server);
    // As xdg-open does on a machine without a desktop (over ssh): exit 3,
    // "no method available for opening".
    const opener = `${dir}/no-desktop.sh`;
    await Deno.writeTextFile(opener, "#!/bin/sh\nexit 3\n");
    await Deno.chmod(opener, 0o755);
    const downloads = `${dir}/downloads`;
    const jojo = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "jojo",
      "--downloads",
      downloads,
      "--open-with",
      opener,
      "--accept-files",
      "all",
    ]);
    await jojo.waitFor(/SUCCESS: Username registered\./);
    await Deno.writeTextFile(`${dir}/notes.txt`, "meeting notes\n");
    const sophia = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "sophia",
    ]);
    await sophia.write(`/file jojo ${dir}/notes.txt\n`);
    assert.equal((await sophia.finish()).code, 0, sophia.stderr);
    await jojo.waitFor(
      new RegExp(
        `Could not open notes\\.txt: ${
          opener.replaceAll(".", "\\.")
        } ended with status 3; the file is saved as ${
          downloads.replaceAll(".", "\\.")
        }/notes\\.txt\n`,
      ),
    );
    assert.equal((await jojo.finish()).code, 0);
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
