/**
 * Found attacking as a classmate (hostile31): texts the server builds around
 * a client's words must stay within the lengths the protocol gives them
 * (docs/PROTOCOL.md 5.1, 5.6), or the reference client, which checks those
 * lengths, takes the message as the server breaking the protocol and closes
 * its connection.
 *
 * A sender's `file_cancel` reason may be 1024 characters; the server passed it
 * on to the recipients as `<sender> cancelled: <reason>`, up to 1068. So anyone
 * could cut anyone off: offer them a file (transfer ids count up from 1 and
 * are easy to guess; here it is read from the victim's offer), cancel it with
 * a reason of 1024 characters, and the victim's client closed with "the server
 * broke the protocol (Field 'reason' is too long)"; again at every reconnect.
 */

import assert from "node:assert/strict";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

Deno.test("startServer: a sender's cancel with the longest reason reaches the recipient within the reason limit, and the recipient stays connected", async () => {
  await using server = await startTestServer();
  const victim = await TestClient.connect(server, "victim");
  const mallory = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    assert.equal((await mallory.register("mallory")).t, "welcome");
    await mallory.sendMessage({
      t: "file_offer",
      id: mallory.nextId(),
      to: "victim",
      name: "x.bin",
      size: 1,
      ...fileKeyForOffer(newFileKey()),
    });
    const offer = (await victim.waitFor(({ message }) =>
      message.t === "file_offer"
    )).message as Extract<ServerMessage, { t: "file_offer" }>;
    const reason = "z".repeat(1024);
    await mallory.sendMessage({ t: "file_cancel", xfer: offer.xfer, reason });
    const cancel = await Promise.race([
      victim.waitFor(({ message }) => message.t === "file_cancel"),
      victim.client.ended.then((e) =>
        assert.fail(`the victim's connection ended: ${JSON.stringify(e)}`)
      ),
    ]).then(({ message }) =>
      message as Extract<ServerMessage, { t: "file_cancel" }>
    );
    assert.ok(cancel.reason.length <= 1024, `${cancel.reason.length}`);
    assert.match(cancel.reason, /^mallory cancelled: z+…$/);
    // Still connected: a request gets its answer.
    const reply = await victim.client.request({ t: "list" });
    assert.equal(reply.t, "users", JSON.stringify(reply));
  } finally {
    await mallory.close();
    await victim.quit();
  }
});
