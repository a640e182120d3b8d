/**
 * A person who suspends chat connect with Ctrl-Z in a shell with job control
 * and brings it back with `fg`.
 */
import { startTestServer, testKeys } from "../_helpers/chat.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);
const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

const hasBash = await new Deno.Command("bash", {
  args: ["-c", "true"],
  stdout: "null",
  stderr: "null",
}).output().then((r) => r.success, () => false);

// Seen: after Ctrl-Z and fg the screen stayed blank and every key was lost
// (readline paused its input at SIGCONT and nothing resumed it).
Deno.test({
  name:
    "chat connect suspended with Ctrl-Z draws its prompt again at fg and takes keys",
  ignore: !hasBash || !(await hasTmux()) || Deno.build.os === "windows",
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-suspend-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    await using pane = new Pane();
    // An interactive shell: job control, as a person's.
    await pane.start(
      ["env", "PS1=$ ", "bash", "--norc", "--noprofile", "-i"],
      80,
      24,
    );
    await pane.waitFor("the shell", (l) => lastLine(l) === "$");
    const command = connectCommand({
      dir,
      port: server.port,
      user: "sophia",
      args: ["--no-time"],
    });
    await pane.type(command.map(quote).join(" "));
    await pane.keys("Enter");
    await pane.waitFor(
      "the prompt",
      (l) => l.some((x) => x === "sophia>"),
    );
    await pane.type("half a line");
    await pane.keys("C-z");
    await pane.waitFor(
      "the job stopped, the shell's prompt back",
      (l) =>
        l.some((x) => x.includes("Stopped")) &&
        lastLine(l) === "$",
    );
    await pane.type("fg");
    await pane.keys("Enter");
    const lines = await pane.waitFor(
      "the prompt drawn again below fg, with the half line",
      (l) => {
        const fg = l.lastIndexOf("$ fg");
        return fg >= 0 &&
          l.slice(fg + 1).some((x) => x === "sophia> half a line");
      },
    );
    if (lines.includes("Broadcast message sent: half a line")) {
      throw new Error(`sent too soon:\n${lines.join("\n")}`);
    }
    await pane.type(", and the rest");
    await pane.keys("Enter");
    await pane.waitFor(
      "the line sent",
      (l) => l.includes("Broadcast message sent: half a line, and the rest"),
    );
  },
});

// Seen: chat connect run with no shell to suspend it to (tmux's pane
// command, `ssh -t host chat connect ...`: an orphaned process group, whose
// stop signals the kernel discards) erased its prompt at Ctrl-Z, gave the
// terminal back to a shell that was not there and waited for a `fg` that
// could never come: the keys echoed by the terminal itself, no prompt drawn,
// and Ctrl-C ended the client.
Deno.test({
  name:
    "Ctrl-Z where no shell can suspend chat connect leaves it as it was: prompt, keys and Ctrl-C",
  ignore: !(await hasTmux()) || Deno.build.os === "windows",
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-suspend-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    await using pane = new Pane();
    // The pane's command itself: its process group has no shell above it.
    await pane.start(
      connectCommand({
        dir,
        port: server.port,
        user: "sophia",
        args: ["--no-time"],
      }),
      80,
      24,
    );
    await pane.waitFor("the prompt", (l) => l.some((x) => x === "sophia>"));
    await pane.type("half a line");
    await pane.keys("C-z");
    await pane.type(", and more");
    await pane.waitFor(
      "the keys after Ctrl-Z in the editor, after the prompt",
      (l) => l.some((x) => x === "sophia> half a line, and more"),
    );
    // Ctrl-C is the editor's key again (it clears the line), not SIGINT.
    await pane.keys("C-c");
    await pane.waitFor("the line cleared", (l) => lastLine(l) === "sophia>");
    await pane.type("still here");
    await pane.keys("Enter");
    await pane.waitFor(
      "the line sent",
      (l) => l.includes("Broadcast message sent: still here"),
    );
  },
});
