/**
 * What comes between the welcome and the moment the session listens (its
 * end-to-end keys being opened, its files loaded) reaches every one of its
 * listeners: a file offer there is asked about, as one that comes later is.
 * ChatClient replayed what came before any listener to the first one only,
 * the session's own, which does not take files: the offer never reached the
 * file receiver and was never shown. Deterministic: the session's keys are
 * handed over only once the server has forwarded the offer.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createKeyring } from "../../src/client/e2e_keys.ts";
import { emptyE2eState } from "../../src/client/e2e_state.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import { runSession } from "../../src/client/session.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import { until } from "../_helpers/bystanders.ts";
import { startTestServer, TestClient, testIdentity } from "../_helpers/chat.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { typist } from "../_helpers/typist.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("an offer that comes before the session listens is asked about", async () => {
  await using dir = await tempDir("chat-offer-early-");
  await using server = await startTestServer();
  const sophia = await TestClient.connect(server, "sophia");
  // The moment the server says jojo joined (after its welcome), sophia
  // offers a file; a ping answered after it means the server forwarded it.
  const forwarded = Promise.withResolvers<void>();
  let offered = false;
  sophia.client.onMessage(({ message }) => {
    if (
      offered || message.t !== "presence" || message.name !== "jojo" ||
      !message.online
    ) return;
    offered = true;
    void sophia.client.request({
      t: "file_offer",
      name: "a.txt",
      size: 15,
      to: "jojo",
      ...fileKeyForOffer(newFileKey()),
    });
    void sophia.client.request({ t: "ping" }).then(() => forwarded.resolve());
  });
  const identity = await testIdentity();
  const terminal = typist();
  const session = runSession({
    urls: [`ws://127.0.0.1:${server.port}`],
    trust: { kind: "pinned", spki: server.spki, path: "server.pub" },
    user: "jojo",
    terminal,
    reconnect: false,
    identity,
    files: {
      downloadsDir: join(dir.path, "downloads"),
      ownDownloadsDir: false,
      accept: "ask",
      maxFileBytes: 1024,
      trusted: TrustedSenders.inMemory(),
      open: false,
      openWith: null,
    },
    // Asked for right after the welcome, before the session listens.
    e2e: async () => {
      await forwarded.promise;
      return {
        kind: "keys",
        keys: {
          keyring: await createKeyring(identity),
          save: async () => {},
          state: emptyE2eState(),
          saveState: async () => {},
          identities: KnownIdentities.inMemory(),
        },
      };
    },
  });
  try {
    await until(
      () =>
        terminal.printed.some((line) =>
          /^sophia wants to send you a\.txt .*Accept\?/.test(line)
        ),
      "the question about a.txt",
      WAIT_MS,
    );
  } finally {
    terminal.type("/quit");
    const code = await session;
    await sophia.quit();
    assert.equal(code, 0, terminal.printed.join("\n"));
  }
});
