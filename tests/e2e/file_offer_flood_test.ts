/**
 * Found in review (files attacker): a recipient's consent answers
 * (`file_decline`, `file_accept`, `file_cancel`) count against the
 * RECIPIENT's message rate limit (PROTOCOL 5.8), but they are caused by other
 * people's offers. Peers that fire a burst of offers at a victim whose client
 * declines them without asking (`--accept-files none`, the default for a
 * script; `trusted`; an ignored sender; or any client once 32 questions
 * wait) make the victim's client send a burst of declines it cannot help
 * sending: past its bucket they are refused, and after 50 refusals in a row
 * the SERVER disconnects the VICTIM "for too many messages too fast".
 *
 * Attackers and victim come from different addresses (127.0.0.2 and
 * 127.0.0.1), so the per-address bucket is not shared between them.
 *
 * The server now lets an answer to an offer still waiting for it, and a
 * cancel of a transfer it takes part in, pass the rate (serve.ts
 * pacedByOthers).
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKey } from "../../src/crypto/file_cipher.ts";
import { startTestServer } from "../_helpers/chat.ts";

const ACCOUNTS = 12; // 8 offers each: 96 at once, under the per-address burst
const PER_ACCOUNT = 8;

async function signIn(url: string, spki: Uint8Array, name: string) {
  const client = await ChatClient.connect(url, { pinnedSpki: spki });
  const reply = await client.register(name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return client;
}

Deno.test("startServer: a burst of others' file offers, each declined at once, neither disconnects the recipient nor uses up its rate", async () => {
  const downloads = await Deno.makeTempDir({ prefix: "chat-offer-flood-" });
  try {
    await using server = await startTestServer({ hostname: "0.0.0.0" });
    const port = server.port;
    const victim = await signIn(
      `ws://127.0.0.1:${port}`,
      server.spki,
      "victim",
    );
    let endedWith: string | null = null;
    victim.ended.then((e) => (endedWith = JSON.stringify(e)));
    let declinedShown = 0;
    // As `chat connect --accept-files none` (consent.ts decideOffer): every
    // offer is declined at once, without asking or waiting for a key.
    new FileReceiver(victim, {
      downloadsDir: downloads,
      maxFileBytes: 2 * 1024 ** 3,
      open: false,
      openWith: null,
      declines: () => true,
      consent: () => {
        declinedShown++;
        return Promise.resolve("decline");
      },
      print: () => {},
    });
    const attackers: ChatClient[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      attackers.push(
        await signIn(`ws://127.0.0.2:${port}`, server.spki, `peer${i}`),
      );
    }
    // One burst: every account fires its 8 offers at the same moment.
    const replies = await Promise.all(
      attackers.flatMap((peer) =>
        Array.from({ length: PER_ACCOUNT }, () =>
          peer.request({
            t: "file_offer",
            name: "x.bin",
            size: 1,
            to: "victim",
            ...fileKeyForOffer(newFileKey()),
          }))
      ),
    );
    // Every offer was answered (declined) before its reply came back.
    assert.equal(replies.length, ACCOUNTS * PER_ACCOUNT);
    assert.ok(
      replies.every((r) => r.t === "error" && r.code === "declined"),
      JSON.stringify(
        replies.find((r) => !(r.t === "error" && r.code === "declined")),
      ),
    );
    // Its client asks about at most 32 at once and refuses the rest as
    // busy (file_receiver.ts): every one of them was answered either way.
    assert.ok(declinedShown >= 32, `${declinedShown} asked about`);
    // What must hold: other people's offers cannot get a user thrown out,
    // nor use up their rate (their own requests still pass).
    const list = await victim.request({ t: "list" });
    assert.equal(
      list.t,
      "users",
      `${JSON.stringify(list)}; ended: ${endedWith}`,
    );
    const say = await victim.say("still here");
    assert.equal(say.t, "ok", JSON.stringify(say));
    assert.equal(endedWith, null);
    await Promise.all([...attackers.map((a) => a.quit()), victim.quit()]);
  } finally {
    await Deno.remove(downloads, { recursive: true });
  }
});
