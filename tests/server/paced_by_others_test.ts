/** Which messages pass the rate limit uncounted: over the router, no sockets. */

import assert from "node:assert/strict";
import { JOJO, NANA, NONE, room, SOPHIA } from "../_helpers/router_room.ts";
import { route } from "../_helpers/delivered.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { FileBridge } from "../../src/server/file_bridge.ts";
import { pacedByOthers } from "../../src/server/paced_by_others.ts";
import { type ConnId, ServerState } from "../../src/server/state.ts";

const T0 = 1000;

/** sophia, jojo and nana online; sophia offers jojo a file (xfer 1). */
function offered(): ServerState {
  const state = room({ fileAnswerMs: 30_000 });
  const [offer] = route(
    state,
    SOPHIA,
    {
      t: "file_offer",
      id: 7,
      name: "big.bin",
      size: 3,
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
): boolean {
  return pacedByOthers(state, bridge, id, message);
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
  // Before the sender's reply a chunk is dropped: nothing paces it.
  assert.equal(paced(state, SOPHIA, chunk), false);
  route(state, JOJO, { t: "file_accept", xfer: 1 }, NONE, T0);
  assert.equal(paced(state, SOPHIA, chunk), true);
  assert.equal(paced(state, NANA, chunk), false);
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
  // Two bytes sent (a body is the bytes and a 16-byte tag).
  route(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 0 },
    new Uint8Array(2 + 16),
    T0,
  );
  assert.equal(paced(state, JOJO, ack(1)), true);
  assert.equal(paced(state, JOJO, ack(2)), true);
  assert.equal(paced(state, JOJO, ack(3)), false);
  // The sender is no recipient: its acknowledgements move nothing.
  assert.equal(paced(state, SOPHIA, ack(1)), false);
  route(state, JOJO, ack(2), NONE, T0);
  assert.equal(paced(state, JOJO, ack(2)), false);
  assert.equal(paced(state, JOJO, ack(1)), false);
  // One more byte, then the end: once.
  route(
    state,
    SOPHIA,
    { t: "file_chunk", xfer: 1, offset: 2 },
    new Uint8Array(1 + 16),
    T0,
  );
  assert.equal(paced(state, SOPHIA, end), true);
  route(state, SOPHIA, end, NONE, T0);
  assert.equal(paced(state, SOPHIA, end), false);
  // The recipient's verdict, while it is in the transfer.
  const done: ClientMessage = { t: "file_done", xfer: 1, ok: true, reason: "" };
  assert.equal(paced(state, JOJO, done), true);
  assert.equal(paced(state, NANA, done), false);
});
