/**
 * A file offer that reaches `chat connect` in the instant after its welcome,
 * before the session listens, is shown as one that comes later is. It used
 * to go to the session's own listener only (ChatClient replayed what came
 * before any listener to the first one), never to the file receiver: no
 * `file_offer` event and no question, about 1 run in 6 when the offer was
 * made once the welcome was seen. Here the sender offers the moment the
 * server says the recipient joined, before its client is done signing in:
 * without the fix 5 of these 20 tests failed (10 runs), with it none.
 * tests/client/offer_before_listening_test.ts makes the timing certain.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import {
  startTestServer,
  TestClient,
  testKeys,
  type TestServer,
} from "../_helpers/chat.ts";
import { ChatProcess } from "../_helpers/process.ts";

/**
 * `jojo` as `chat connect` (with `extra` arguments), and sophia, whose
 * client offers jojo a file as soon as the server says jojo joined.
 */
async function offerOnJoin(
  server: TestServer,
  dir: string,
  extra: string[],
): Promise<{ jojo: ChatProcess; sophia: TestClient }> {
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  const sophia = await TestClient.connect(server, "sophia");
  let offered = false;
  sophia.client.onMessage(({ message }) => {
    if (
      offered || message.t !== "presence" || message.name !== "jojo" ||
      !message.online
    ) return;
    offered = true;
    // Answered once jojo answers, which this test does not wait for.
    void sophia.client.request({
      t: "file_offer",
      name: "a.txt",
      size: 15,
      to: "jojo",
      ...fileKeyForOffer(newFileKey()),
    });
  });
  const jojo = new ChatProcess(
    [
      "connect",
      `127.0.0.1:${server.port}`,
      "--pub",
      pub,
      "--user",
      "jojo",
      "--downloads",
      join(dir, "downloads"),
      "--no-open",
      "--accept-files",
      "ask",
      ...extra,
    ],
    { env: { XDG_CONFIG_HOME: join(dir, "config") } },
  );
  return { jojo, sophia };
}

Deno.test("an offer made the moment its recipient joins is a file_offer event for chat connect --json", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-offer-welcome-" });
  await using server = await startTestServer();
  const { jojo, sophia } = await offerOnJoin(server, dir, ["--json"]);
  try {
    const offer = JSON.parse(
      (await jojo.waitFor(/^\{"type":"file_offer".*$/m))[0],
    ) as Record<string, unknown>;
    assert.equal(offer.from, "sophia");
    assert.equal(offer.name, "a.txt");
    assert.equal(offer.decision, "ask");
    // Shown after the welcome, as it came.
    assert.match(
      jojo.stdout,
      /^\{"type":"welcome","name":"jojo"[^]*^\{"type":"file_offer"/m,
    );
  } finally {
    await sophia.quit();
    jojo.kill("SIGKILL");
    await jojo.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an offer made the moment its recipient joins is asked about by chat connect on a terminal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-offer-welcome-" });
  await using server = await startTestServer();
  const { jojo, sophia } = await offerOnJoin(server, dir, []);
  try {
    await jojo.waitFor(/sophia wants to send you a\.txt .*Accept\?/);
  } finally {
    await sophia.quit();
    jojo.kill("SIGKILL");
    await jojo.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
