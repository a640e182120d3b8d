import assert from "node:assert/strict";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

/** `chat connect` with no --user, its input empty: what it says and exits with. */
async function connectWithoutName(
  address: string,
  pub: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const client = new ChatProcess(["connect", address, "--pub", pub]);
  const { code } = await client.finish();
  return { code, stdout: client.stdout, stderr: client.stderr };
}

// Seen following the README with a script: `chat connect HOST < /dev/null`
// printed "Enter your username: " and exited 1 without a word.
Deno.test("chat connect whose input ends before a username says so, or why it could not connect", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-no-username-" });
  let server: ChatProcess | null = null;
  try {
    await makeKeys(dir);
    const pub = `${dir}/public.pem`;
    server = serveProcess(dir, 0, "--data", ":memory:", "--no-web");
    const port = await listeningPort(server);
    const named = await connectWithoutName(`127.0.0.1:${port}`, pub);
    assert.equal(named.code, 1, named.stdout);
    assert.equal(
      named.stderr,
      "ERROR: No username: the input ended before one was given (pass --user NAME)\n",
    );
    server.kill("SIGTERM");
    await server.finish();
    // Nothing listens there now: the refused connection is the reason.
    const refused = await connectWithoutName(`127.0.0.1:${port}`, pub);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      refused.stderr,
      /^ERROR: Cannot connect to ws:\/\/127\.0\.0\.1:\d+: connection refused\. Is 'chat serve' running there\?\n$/,
    );
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
