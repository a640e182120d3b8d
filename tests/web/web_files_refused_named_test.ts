/**
 * WebFiles names a file it refuses before asking about it (too large for a
 * browser) by the name its key came with, when that key is here already
 * (end to end it comes before the offer): the page said "Declined
 * (end-to-end) from alice", the offer's placeholder, where the terminal
 * names the file (file_receiver.ts #nameIfHere). Real server, real clients.
 */

import assert from "node:assert/strict";
import {
  encodeFileSecret,
  FileKeyInbox,
  fileSecretLabel,
  HIDDEN_FILE_NAME,
  newFileKeyId,
  receiveFileKey,
} from "../../src/client/file_key_share.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import { WEB_MAX_FILE_BYTES, WebFiles } from "../../src/web/web_files.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

for (const keyCame of [true, false]) {
  Deno.test(
    `WebFiles declines an end-to-end offer too large for a browser ${
      keyCame
        ? "by the name its key came with"
        : "as (end-to-end) when its key has not come"
    }`,
    async () => {
      await using server = await startTestServer();
      const alice = await TestClient.connect(server, "alice");
      const bob = await TestClient.connect(server, "bob");
      const inbox = new FileKeyInbox();
      const declined: string[] = [];
      const said = Promise.withResolvers<void>();
      const files = new WebFiles(bob.client, {
        ask: () => assert.fail("asked about a file too large"),
        declined(offer, why) {
          declined.push(`${offer.name}: ${why}`);
          said.resolve();
        },
        progress() {},
        received() {},
        cancelled() {},
        failed() {},
      }, {
        share: null,
        take: (offer, since, wait) =>
          receiveFileKey(offer, {
            inbox,
            usesE2e: () => true,
            ...(since === undefined ? {} : { since }),
          }, wait),
      });
      bob.client.onMessage((incoming) => files.receive(incoming));
      const keyId = newFileKeyId();
      const size = WEB_MAX_FILE_BYTES + 1;
      if (keyCame) {
        // As E2eSessions hands it over when its secret opens (tookFileKey).
        assert.ok(inbox.deliver(
          "alice",
          fileSecretLabel(keyId),
          encodeFileSecret(newFileKey(), "huge.iso", size),
        ));
      }
      const reply = await alice.client.request({
        t: "file_offer",
        name: HIDDEN_FILE_NAME,
        size,
        to: "bob",
        key_id: keyId,
      });
      assert.equal(reply.t, "error");
      await said.promise;
      assert.deepEqual(declined, [
        `${
          keyCame ? "huge.iso" : HIDDEN_FILE_NAME
        }: too large for a browser (256 MiB at most)`,
      ]);
      await alice.quit();
      await bob.quit();
    },
  );
}
