/**
 * A person's prompt and `/query` with groups they are not in: a group left
 * takes its unread count from the prompt, and `/query` of a group one is not
 * in (or that does not exist) says so at once.
 */
import { join } from "node:path";
import { startTestServer, testKeys } from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";
import { connectCommand, hasTmux, Pane } from "../_helpers/tmux.ts";

const lastLine = (lines: string[]) => lines.filter((l) => l !== "").at(-1);

// Seen: after /leave team the prompt said "(#team 2) emile>" for the rest of
// the session; and "/query #team" by someone not in it answered "Plain lines
// now go to group team", then every line sent there failed.
Deno.test({
  name:
    "chat connect says at /query that a group is not yours, and drops a left group's count from the prompt",
  ignore: !(await hasTmux()),
  async fn() {
    await using server = await startTestServer();
    const dir = await Deno.makeTempDir({ prefix: "chat-group-query-" });
    await using _dir = {
      [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
    };
    await Deno.writeTextFile(`${dir}/public.pem`, (await testKeys()).publicPem);
    const jojo = new ChatProcess(
      [
        "connect",
        `127.0.0.1:${server.port}`,
        "--pub",
        `${dir}/public.pem`,
        "--user",
        "jojo",
      ],
      { env: { XDG_CONFIG_HOME: join(dir, "jojo-config") } },
    );
    try {
      await jojo.waitFor(/SUCCESS: Username registered\./);
      await jojo.write("/create team\n");
      await jojo.waitFor(/SUCCESS: Group 'team' created and joined\./);
      await using pane = new Pane();
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
      await pane.waitFor("the prompt", (l) => lastLine(l) === "sophia>");
      const command = async (line: string) => {
        await pane.type(line);
        await pane.keys("Enter");
      };
      await command("/query #team");
      await pane.waitFor(
        "the note that sophia is not in team",
        (l) =>
          l.includes(
            "You are not a member of group 'team'. Join it with /join team",
          ) && lastLine(l) === "[#team] sophia>",
      );
      await command("/query #nosuch");
      await pane.waitFor(
        "the note that there is no such group",
        (l) =>
          l.includes(
            "Group 'nosuch' does not exist. Create it with /create nosuch",
          ),
      );
      await command("/join team");
      await pane.waitFor(
        "sophia in team",
        (l) => l.includes("SUCCESS: Joined group 'team'."),
      );
      await command("/query");
      await pane.waitFor("the public room", (l) => lastLine(l) === "sophia>");
      await jojo.write("/group team lunch?\n");
      await pane.waitFor(
        "the group's count in the prompt",
        (l) => lastLine(l) === "(#team 1) sophia>",
      );
      await command("/leave team");
      await pane.waitFor(
        "the count gone with the group",
        (l) =>
          l.includes("SUCCESS: Left group 'team'.") &&
          lastLine(l) === "sophia>",
      );
    } finally {
      jojo.kill("SIGKILL");
      await jojo.finish();
    }
  },
});
