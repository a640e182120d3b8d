/**
 * A script that quits right after signing in (`printf '/list\n' | chat
 * connect ...`) leaves its end-to-end keys on the server, one-time keys
 * too: quitting waits for the publish the sign-in started, rather than
 * cutting it off, so a bot that runs short scripts is written to with the
 * stronger first message (X3DH with a one-time key).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { fetchBundle } from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";

Deno.test("chat connect as a script that quits at once still publishes its one-time keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-script-quit-keys-" });
  let server: ChatProcess | null = null;
  let alice: ChatProcess | null = null;
  let probe: ChatClient | null = null;
  try {
    await makeKeys(dir);
    server = serveProcess(dir);
    const port = await listeningPort(server);
    alice = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "alice",
    ], { env: { XDG_CONFIG_HOME: join(dir, "config") } });
    // The whole script, given before it has even connected: it quits as
    // soon as /list is answered.
    await alice.write("/list\n");
    const status = await alice.finish();
    assert.equal(status.code, 0, alice.stdout + alice.stderr);
    assert.match(alice.stdout, /SUCCESS: Username registered\./);
    assert.doesNotMatch(alice.stdout, /End-to-end keys not published/);

    // Alice is gone: what the server holds now is all she left.
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${dir}/public.pem`),
    );
    probe = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
      pinnedSpki: spki,
    });
    assert.equal((await probe.register("probe")).t, "welcome");
    const { bundle } = await fetchBundle(probe, "alice");
    assert.equal(bundle.oneTime.length, 1, "no one-time key in the bundle");
  } finally {
    await probe?.quit();
    if (alice !== null) {
      alice.kill();
      await alice.finish();
    }
    if (server !== null) {
      server.kill();
      await server.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
