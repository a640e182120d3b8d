/**
 * outgoingFiles against a real server: an offer our broken connection left
 * unanswered is kept alive across the reconnection, and made again once we
 * are back.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import type { Link } from "../../src/client/connection_files.ts";
import { outgoingFiles } from "../../src/client/outgoing_files.ts";
import { ResendSchedule } from "../../src/client/resend_schedule.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import type { StatusRow } from "../../src/client/status_row.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";

async function signIn(
  server: TestServer,
  name: string,
  identity: Identity,
): Promise<Link> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  // Only sending here: nothing is received.
  return {
    client,
    sender: new FileSender(client),
    receiver: null as unknown as FileReceiver,
  };
}

Deno.test("outgoingFiles offers a file again once our connection is back when its offer was cut while waiting for an answer", async () => {
  await using server = await startTestServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-outgoing-" });
  const path = join(dir, "notes.txt");
  await Deno.writeTextFile(path, "x".repeat(1000));
  const jojo = await TestClient.connect(server, "jojo");
  const identity = await testIdentity();
  let link = await signIn(server, "sophia", identity);
  let relinked = Promise.withResolvers<boolean>();
  let leaving = false;
  const events: SessionEvent[] = [];
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => relinked.promise,
    leaving: () => leaving,
    emit: (event) => events.push(event),
    status: { showProgress: () => {} } as unknown as StatusRow,
    resendSchedule: () => new ResendSchedule([20, 40], 60_000),
  });
  const offers = () =>
    jojo.inbox.filter((m) => m.message.t === "file_offer").length;
  try {
    const sending = outgoing.send({ to: "jojo" }, path, 1);
    // jojo does not answer: the offer waits for him.
    await jojo.waitFor((m) => m.message.t === "file_offer");
    // Our connection breaks (a server restarting, say): the offer is left
    // unanswered, and nothing is offered while we are away.
    link.client.abort();
    await link.client.ended;
    assert.equal(offers(), 1);
    link = await signIn(server, "sophia", identity);
    relinked.resolve(true);
    relinked = Promise.withResolvers<boolean>();
    await jojo.waitFor(
      () => offers() === 2,
      10_000,
    );
    leaving = true;
    link.client.abort();
    relinked.resolve(false);
    await sending;
    assert.ok(
      !events.some((e) => e.type === "error" && /Gave up/.test(e.text)),
      JSON.stringify(events),
    );
  } finally {
    leaving = true;
    link.client.abort();
    relinked.resolve(false);
    await outgoing.settled();
    await jojo.quit();
    await Deno.remove(dir, { recursive: true });
  }
});
