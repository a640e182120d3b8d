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
