/** Which messages pass the rate limit uncounted: over the router, no sockets. */

import assert from "node:assert/strict";
import { JOJO, NANA, NONE, room, SOPHIA } from "../_helpers/router_room.ts";
import { route } from "../_helpers/delivered.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { FileBridge } from "../../src/server/file_bridge.ts";
import {
  MIN_PACED_CHUNK_BYTES,
  pacedByOthers,
} from "../../src/server/paced_by_others.ts";
import { FILE_CHUNK_TAG_BYTES } from "../../src/protocol/limits.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";

const T0 = 1000;

/** sophia, jojo and nana online; sophia offers jojo a file (xfer 1). */
function offered(size = 3): ServerState {
  const state = room({ fileAnswerMs: 30_000 });
  const [offer] = route(
    state,
    SOPHIA,
    {
      t: "file_offer",
      id: 7,
      name: "big.bin",
      size,
      to: "jojo",
    },
    NONE,
    T0,
  );
  assert.equal(offer?.message.t, "file_offer");
  return state;
}

function paced(
  state: ServerState,
  id: ConnId,
  message: ClientMessage,
  bridge = new FileBridge(),
  bodyBytes = 0,
): boolean {
  return pacedByOthers(state, bridge, id, message, bodyBytes);
}

/** A chunk body of `bytes` of the file (and its tag). */
function sealed(bytes: number): Uint8Array {
  return new Uint8Array(bytes + FILE_CHUNK_TAG_BYTES);
}

Deno.test("pacedByOthers lets through the recipient's answer to an offer waiting for it, once", () => {
  const state = offered();
  assert.equal(paced(state, JOJO, { t: "file_accept", xfer: 1 }), true);
  assert.equal(paced(state, JOJO, { t: "file_decline", xfer: 1 }), true);
  // Not the sender's, nor a stranger's, nor about a transfer that is not.
  assert.equal(paced(state, SOPHIA, { t: "file_accept", xfer: 1 }), false);
  assert.equal(paced(state, NANA, { t: "file_decline", xfer: 1 }), false);
  assert.equal(paced(state, JOJO, { t: "file_accept", xfer: 2 }), false);
  // Accepted: a second answer is the sender's own again.
  route(state, JOJO, { t: "file_accept", xfer: 1 }, NONE, T0);
  assert.equal(paced(state, JOJO, { t: "file_accept", xfer: 1 }), false);
});

Deno.test("pacedByOthers lets through file data and cancels of those taking part only", () => {
  const state = offered();
  const chunk: ClientMessage = { t: "file_chunk", xfer: 1, offset: 0 };
  const whole = 3 + FILE_CHUNK_TAG_BYTES;
  // Before the sender's reply a chunk is dropped: nothing paces it.
  assert.equal(paced(state, SOPHIA, chunk, undefined, whole), false);
  route(state, JOJO, { t: "file_accept", xfer: 1 }, NONE, T0);
  assert.equal(paced(state, SOPHIA, chunk, undefined, whole), true);
  assert.equal(paced(state, NANA, chunk, undefined, whole), false);
  assert.equal(
    paced(state, SOPHIA, { t: "file_cancel", xfer: 1, reason: "no" }),
    true,
  );
  assert.equal(
    paced(state, JOJO, { t: "file_cancel", xfer: 1, reason: "no" }),
    true,
  );
  assert.equal(
    paced(state, NANA, { t: "file_cancel", xfer: 1, reason: "no" }),
    false,
  );
  // Chat is counted, whoever sends it.
  assert.equal(paced(state, SOPHIA, { t: "say", id: 1 }), false);
});

Deno.test("pacedByOthers lets through what a recipient here says of a file from another node, by the id given here", () => {
  const state = offered();
  const bridge = new FileBridge();
  const local = state.transfers.reserveId();
  bridge.open("node-b", 5, NANA, local, 3);
  const cancel: ClientMessage = { t: "file_cancel", xfer: local, reason: "no" };
  assert.equal(paced(state, NANA, cancel, bridge), true);
  // Another connection does not take part in it.
  assert.equal(paced(state, JOJO, cancel, bridge), false);
  // Nor is the other node's own number one here.
  assert.equal(
    paced(state, NANA, { t: "file_cancel", xfer: 5, reason: "no" }, bridge),
    false,
  );
});

Deno.test("pacedByOthers judges a recipient's file data about a file from another node by the window's rule, from where a resume starts", () => {
  const state = offered();
  const bridge = new FileBridge();
  const local = state.transfers.reserveId();
  const MiB = 1024 * 1024;
  const size = 2 * MiB + 10;
  const bridged = bridge.open("node-b", 5, NANA, local, size);
  const ack = (received: number): ClientMessage => ({
    t: "file_ack",
    xfer: local,
    received,
  });
  const acked = (received: number) => {
    assert.equal(paced(state, NANA, ack(received), bridge), true);
    bridge.acked(bridged, received);
  };
  // Nothing passed on yet: no acknowledgement moves it.
  assert.equal(paced(state, NANA, ack(0), bridge), false);
  // Resumed at 1 MiB: the count starts there.
  bridge.chunk(bridged, MiB, MiB);
  assert.equal(paced(state, NANA, ack(MiB), bridge), false);
  assert.equal(paced(state, NANA, ack(MiB + 100), bridge), false);
  acked(2 * MiB);
  assert.equal(paced(state, NANA, ack(2 * MiB), bridge), false);
  // The last 10 bytes: an acknowledgement of all that was passed on.
  bridge.chunk(bridged, 2 * MiB, 10);
  assert.equal(paced(state, NANA, ack(size + 1), bridge), false);
  acked(size);
  assert.equal(paced(state, NANA, ack(size), bridge), false);
  // A recipient sends no chunks, nor an end.
  assert.equal(
    paced(
      state,
      NANA,
      { t: "file_chunk", xfer: local, offset: size },
      bridge,
      FILE_CHUNK_TAG_BYTES + 128 * 1024,
    ),
    false,
  );
  assert.equal(
    paced(
      state,
      NANA,
      { t: "file_end", xfer: local, sha256: "0".repeat(64) },
      bridge,
    ),
    false,
  );
  assert.equal(
    paced(
      state,
      NANA,
      { t: "file_done", xfer: local, ok: true, reason: "" },
      bridge,
    ),
    true,
  );
});

Deno.test("pacedByOthers counts file data that moves nothing: acknowledgements of no more, an end after the end", () => {
  const state = offered();
  const ack = (received: number): ClientMessage => ({
    t: "file_ack",
    xfer: 1,
    received,
  });
  const end: ClientMessage = { t: "file_end", xfer: 1, sha256: "0".repeat(64) };
  // Nothing sent yet: no acknowledgement moves anything, nor an end.
  assert.equal(paced(state, JOJO, ack(1)), false);
  assert.equal(paced(state, SOPHIA, end), false);
  route(state, JOJO, { t: "file_accept", xfer: 1 }, NONE, T0);
  assert.equal(paced(state, JOJO, ack(0)), false);
  assert.equal(paced(state, JOJO, ack(1)), false);
  route(state, SOPHIA, { t: "file_chunk", xfer: 1, offset: 0 }, sealed(3), T0);
  assert.equal(paced(state, JOJO, ack(3)), true);
  assert.equal(paced(state, JOJO, ack(4)), false);
  // The sender is no recipient: its acknowledgements move nothing.
  assert.equal(paced(state, SOPHIA, ack(3)), false);
  route(state, JOJO, ack(3), NONE, T0);
  assert.equal(paced(state, JOJO, ack(3)), false);
  assert.equal(paced(state, JOJO, ack(1)), false);
  // The end: once.
  assert.equal(paced(state, SOPHIA, end), true);
  route(state, SOPHIA, end, NONE, T0);
  assert.equal(paced(state, SOPHIA, end), false);
  // The recipient's verdict, while it is in the transfer.
  const done: ClientMessage = { t: "file_done", xfer: 1, ok: true, reason: "" };
  assert.equal(paced(state, JOJO, done), true);
  assert.equal(paced(state, NANA, done), false);
});

Deno.test("pacedByOthers counts data that moves a transfer by a few bytes at a time: a short chunk before the end, an acknowledgement of a few bytes more", () => {
  const size = 4 * MIN_PACED_CHUNK_BYTES;
  const state = offered(size);
  route(state, JOJO, { t: "file_accept", xfer: 1 }, NONE, T0);
  const chunk = (offset: number): ClientMessage => ({
    t: "file_chunk",
    xfer: 1,
    offset,
  });
  const ack = (received: number): ClientMessage => ({
    t: "file_ack",
    xfer: 1,
    received,
  });
  const pacedChunk = (offset: number, bytes: number) =>
    paced(
      state,
      SOPHIA,
      chunk(offset),
      undefined,
      bytes + FILE_CHUNK_TAG_BYTES,
    );
  assert.equal(pacedChunk(0, 1), false);
  assert.equal(pacedChunk(0, MIN_PACED_CHUNK_BYTES - 1), false);
  assert.equal(pacedChunk(0, MIN_PACED_CHUNK_BYTES), true);
  route(state, SOPHIA, chunk(0), sealed(2 * MIN_PACED_CHUNK_BYTES), T0);
  // Acknowledged a few bytes at a time: counted, short of all that was sent.
  assert.equal(paced(state, JOJO, ack(1)), false);
  assert.equal(paced(state, JOJO, ack(MIN_PACED_CHUNK_BYTES - 1)), false);
  assert.equal(paced(state, JOJO, ack(MIN_PACED_CHUNK_BYTES)), true);
  assert.equal(paced(state, JOJO, ack(2 * MIN_PACED_CHUNK_BYTES)), true);
  route(state, JOJO, ack(2 * MIN_PACED_CHUNK_BYTES - 1), NONE, T0);
  // All that was sent, by one byte: the data's end.
  assert.equal(paced(state, JOJO, ack(2 * MIN_PACED_CHUNK_BYTES)), true);
  // The file's last bytes, however few.
  route(
    state,
    SOPHIA,
    chunk(2 * MIN_PACED_CHUNK_BYTES),
    sealed(2 * MIN_PACED_CHUNK_BYTES - 1),
    T0,
  );
  assert.equal(pacedChunk(size - 1, 1), true);
  assert.equal(pacedChunk(size - 1, 2), true);
});
