/**
 * ChatClient.holdReading: a client whose reader fell behind (`chat connect
 * --json` with its stdout unread) takes nothing more from the server until
 * it caught up, without taking the silence for a dead server, and says why
 * when the server sent more than it keeps unread meanwhile.
 */

import assert from "node:assert/strict";
import {
  briefReason,
  ChatClient,
  DROPPED_WHILE_HELD,
} from "../../src/client/chat_client.ts";
import { DEFAULT_MAX_INBOX_BYTES } from "../../src/transport/connection.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";

const PING_INTERVAL_MS = 100;

Deno.test("ChatClient.holdReading takes nothing while held, not even as a dead server's silence, and all of it in order once let go", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    pingIntervalMs: PING_INTERVAL_MS,
  });
  const channel = await server.session;
  const seen: string[] = [];
  const first = Promise.withResolvers<void>();
  const rest = Promise.withResolvers<void>();
  client.onMessage(({ message }) => {
    if (message.t === "presence") seen.push(message.name);
    if (seen.length === 1) first.resolve();
    if (seen.length === 4) rest.resolve();
  });
  const caughtUp = Promise.withResolvers<void>();
  let behind = true;
  client.holdReading(() => (behind ? caughtUp.promise : null));
  // The frame the client was waiting for when told to hold is taken; it
  // holds before the next one.
  channel.send({ t: "presence", name: "ann", online: true });
  await first.promise;
  for (const name of ["ben", "cy", "di"]) {
    channel.send({ t: "presence", name, online: true });
  }
  // Held for five ping intervals: a client that took the silence for a
  // dead server would have given up after two. (The length of the hold is
  // what is tested: nothing happens in it to wait for.)
  await new Promise((resolve) => setTimeout(resolve, 5 * PING_INTERVAL_MS));
  assert.deepEqual(seen, ["ann"]);
  assert.equal(client.isOver, false);
  behind = false;
  caughtUp.resolve();
  await rest.promise;
  assert.deepEqual(seen, ["ann", "ben", "cy", "di"]);
  assert.equal(client.isOver, false);
  client.abort();
  await client.ended;
});

Deno.test("ChatClient.holdReading: a server that sends more than the client keeps unread while held is cut off, and the ending says why", async () => {
  await using server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const channel = await server.session;
  client.onMessage(() => {});
  client.holdReading(() => new Promise(() => {}));
  const body = new Uint8Array(1000 * 1000);
  const frames = Math.ceil(DEFAULT_MAX_INBOX_BYTES / body.byteLength) + 1;
  for (let n = 0; n < frames; n++) {
    channel.send({ t: "private", from: "ann", ts: 1 }, body);
  }
  const ending = await client.ended;
  assert.equal(ending.clean, false);
  assert.equal(ending.reason, DROPPED_WHILE_HELD);
  // What follows from it (a request left unanswered) says it in a few words.
  assert.equal(briefReason(ending), "The connection was dropped.");
});
