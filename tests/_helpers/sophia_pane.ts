/**
 * The scene the terminal tests start from: a test server, sophia at a real
 * `chat connect` in a tmux pane (her configuration and home in a fresh
 * folder), and jojo signed in beside her, his arrival on her screen.
 */

import { startTestServer, TestClient, testKeys } from "./chat.ts";
import type { TestServer } from "./chat.ts";
import { connectCommand, Pane } from "./tmux.ts";

export interface SophiaPane {
  server: TestServer;
  /** sophia's folder: public.pem, config/, her home. */
  dir: string;
  pane: Pane;
  jojo: TestClient;
  /** jojo quits, then the pane, the folder and the server go. */
  dispose(): Promise<void>;
}

/**
 * sophia in a pane `width` by `height`, `chat connect` given the `args` made
 * for her folder; `wrap`
 * turns its command line into the pane's (to run something after it, say).
 */
export async function sophiaBesideJojo(options: {
  prefix: string;
  args: (dir: string) => string[];
  width: number;
  height: number;
  wrap?: (command: string[]) => string[];
}): Promise<SophiaPane> {
  const server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  const pane = new Pane();
  let jojo: TestClient | null = null;
  const dispose = async () => {
    await jojo?.quit().catch(() => {});
    await pane[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
    await server[Symbol.asyncDispose]();
  };
  try {
    await Deno.writeTextFile(
      `${dir}/public.pem`,
      (await testKeys()).publicPem,
    );
    const command = connectCommand({
      dir,
      port: server.port,
      user: "sophia",
      home: true,
      args: options.args(dir),
    });
    await pane.start(
      options.wrap?.(command) ?? command,
      options.width,
      options.height,
    );
    await pane.waitFor("the prompt", (l) => l.includes("sophia>"));
    jojo = await TestClient.connect(server, "jojo");
    await pane.waitFor(
      "jojo joining",
      (l) => l.includes("*** jojo joined the chat ***"),
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  return { server, dir, pane, jojo, dispose };
}
