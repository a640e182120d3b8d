import { startTestServer, testKeys } from "../_helpers/chat.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

/**
 * `chat connect` without --user in a pane, at its name prompt; `then` runs
 * on the pane, and the client's exit is written on a line of its own.
 */
async function atNamePrompt(then: (pane: Pane) => Promise<void>) {
  await using server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-name-quit-" });
  try {
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    const command = connectCommand({
      dir,
      port: server.port,
      user: null,
      home: true,
    });
    await using pane = new Pane();
    await pane.start(
      [
        "sh",
        "-c",
        '"$@"; echo "client exited with $?"; exec cat',
        "sh",
        ...command,
      ],
      100,
      20,
    );
    await pane.waitFor(
      "the name prompt",
      (l) => lastLine(l) === "Enter your username:",
    );
    await then(pane);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Seen at the name prompt: Ctrl-C said "(Ctrl-C again, /quit or Ctrl-D to
// leave)", and /quit was then refused as an invalid username, again and again.
Deno.test({
  name:
    "chat connect leaves on /quit typed at the username prompt, as its Ctrl-C hint says",
  ignore: !(await hasTmux()),
  async fn() {
    await atNamePrompt(async (pane) => {
      await pane.keys("C-c");
      await pane.waitFor(
        "the hint",
        (l) => l.includes("(Ctrl-C again, /quit or Ctrl-D to leave)"),
      );
      await pane.type("/quit");
      await pane.keys("Enter");
      await pane.waitFor(
        "the client gone with status 0, no name refused, no prompt left behind",
        (l) =>
          l.includes("client exited with 0") &&
          !l.some((line) => line.includes("Invalid username")),
      );
    });
  },
});

// Seen leaving the name prompt with Ctrl-D (and when no server answered): the
// prompt stayed, and the shell's went on after it ("Enter your username: $").
Deno.test({
  name: "chat connect left at the username prompt leaves no prompt behind",
  ignore: !(await hasTmux()),
  async fn() {
    await atNamePrompt(async (pane) => {
      await pane.keys("C-d");
      await pane.waitFor(
        "the client gone with status 0, on a line of its own",
        (l) => l.includes("client exited with 0"),
      );
    });
  },
});
