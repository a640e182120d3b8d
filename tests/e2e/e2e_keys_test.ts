/**
 * End-to-end keys through real processes (issue 17 item 1): `chat connect`
 * publishes its prekeys at sign-in, keeps their private halves in its config
 * folder (0600), and another client fetches a bundle that verifies.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import { E2eKeyError, fetchBundle } from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { isSealed, openAtRest } from "../../src/crypto/at_rest.ts";
import { fromBase64 } from "../../src/crypto/bytes.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("chat connect publishes end-to-end keys at sign-in and keeps them sealed, 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-keys-" });
  const config = join(dir, "config");
  let server: ChatProcess | null = null;
  let bob: ChatProcess | null = null;
  let alice: ChatClient | null = null;
  try {
    await makeKeys(dir);
    server = serveProcess(dir);
    const port = await listeningPort(server);
    bob = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/public.pem`,
      "--user",
      "bob",
    ], { env: { XDG_CONFIG_HOME: config } });
    await bob.waitFor(/SUCCESS: Username registered\./);

    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${dir}/public.pem`),
    );
    alice = await ChatClient.connect(`ws://127.0.0.1:${port}`, {
      pinnedSpki: spki,
    });
    assert.equal((await alice.register("alice")).t, "welcome");
    // Bob publishes in the background after his welcome: wait for a bundle
    // with a one-time key, with a deadline.
    const deadline = Date.now() + WAIT_MS;
    let oneTime = 0;
    while (oneTime === 0) {
      try {
        oneTime = (await fetchBundle(alice, "bob")).bundle.oneTime.length;
      } catch (error) {
        if (!(error instanceof E2eKeyError) || error.code !== "no_keys") {
          throw error;
        }
      }
      if (Date.now() > deadline) assert.fail("bob published no keys");
      if (oneTime === 0) await new Promise((r) => setTimeout(r, 50));
    }

    const folder = join(config, "chat");
    const files = [...Deno.readDirSync(folder)].map((entry) => entry.name)
      .filter((name) => name.startsWith("e2e_keys_"));
    assert.equal(files.length, 1, files.join(", "));
    const path = join(folder, files[0]!);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    // Sealed at rest under the folder's storage key.
    const storageKey = fromBase64(
      (await Deno.readTextFile(join(folder, "storage_key"))).trim(),
    );
    assert.equal(
      (await Deno.stat(join(folder, "storage_key"))).mode! & 0o777,
      0o600,
    );
    const text = await Deno.readTextFile(path);
    assert.ok(isSealed(text));
    const saved = JSON.parse(
      new TextDecoder().decode(await openAtRest(storageKey, "e2e_keys", text)),
    );
    assert.equal(saved.one_time.length, 100);

    await bob.write("/quit\n");
    const status = await bob.finish();
    assert.equal(status.code, 0, bob.stdout + bob.stderr);
    assert.equal(bob.stderr, "");
    assert.doesNotMatch(bob.stdout, /End-to-end keys not published/);
  } finally {
    await alice?.quit();
    if (bob !== null) {
      bob.kill();
      await bob.finish();
    }
    if (server !== null) {
      server.kill();
      await server.finish();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
