/**
 * expireStalled over the router, no sockets: a recipient is dropped as
 * stalled only for a silence of its own, counted from when it came to owe
 * the sender something (docs/PROTOCOL.md 5.6), never for a slow sender.
 */

import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import {
  connect,
  type Delivered,
  delivered,
  route,
} from "../_helpers/delivered.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  FILE_ACK_BYTES,
  FILE_CHUNK_BYTES,
  FILE_CHUNK_TAG_BYTES,
} from "../../src/protocol/limits.ts";
import { ServerState } from "../../src/server/state.ts";
import { expireStalled } from "../../src/server/transfers.ts";

const SOPHIA = 1;
const JOJO = 2;
const NANA = 3;
const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const STALL_MS = 1500;
const T0 = 1000;
const CHUNK = new Uint8Array(FILE_CHUNK_BYTES + FILE_CHUNK_TAG_BYTES);

/**
 * sophia offers a file of `size` bytes to group team, and jojo and nana
 * accept it at T0: its data phase starts then.
 */
function accepted(size: number): ServerState {
  const state = new ServerState({ fileStallMs: STALL_MS }, memoryStore());
  for (
    const [id, name] of [
      [SOPHIA, "sophia"],
      [JOJO, "jojo"],
      [NANA, "nana"],
    ] as const
  ) {
    connect(state, id);
    send(state, id, { t: "register", id: 0, name, key: KEY });
  }
  send(state, SOPHIA, { t: "create", id: 1, group: "team" });
  send(state, JOJO, { t: "join", id: 1, group: "team" });
  send(state, NANA, { t: "join", id: 1, group: "team" });
  send(state, SOPHIA, {
    t: "file_offer",
    id: 2,
    name: "big.bin",
    size,
    group: "team",
    key: "ab".repeat(32),
  });
  send(state, JOJO, { t: "file_accept", xfer: 1 });
  const ready = send(state, NANA, { t: "file_accept", xfer: 1 });
  assert.equal(ready[0]?.message.t, "file_ready");
  return state;
}

function send(
  state: ServerState,
  from: number,
  message: ClientMessage,
  now = T0,
): Delivered[] {
  return route(state, from, message, new Uint8Array(0), now);
}

/** sophia sends chunks from `offset` up to `until` bytes, at `now`. */
function chunks(
  state: ServerState,
  offset: number,
  until: number,
  now: number,
): void {
  for (; offset < until; offset += FILE_CHUNK_BYTES) {
    const out = route(
      state,
      SOPHIA,
      { t: "file_chunk", xfer: 1, offset },
      CHUNK,
      now,
    );
    assert.equal(out[0]?.message.t, "file_chunk", JSON.stringify(out));
  }
}

/** Who expireStalled drops at `now`, by the cancels they get. */
function dropped(state: ServerState, now: number): number[] {
  return delivered(state, expireStalled(state, now))
    .filter((out) => out.message.t === "file_cancel")
    .flatMap((out) => out.to);
}

Deno.test("expireStalled drops no recipient that had less than FILE_ACK_BYTES to acknowledge, however slow the sender", () => {
  const state = accepted(4 * FILE_ACK_BYTES);
  // The sender's first chunk comes late (a loaded machine, a slow link),
  // and the rest of the first MiB later still: the recipients, which
  // acknowledge every FILE_ACK_BYTES written, owe nothing meanwhile.
  chunks(state, 0, FILE_CHUNK_BYTES, T0 + 900);
  assert.deepEqual(dropped(state, T0 + STALL_MS + 100), []);
  const owing = T0 + 10 * STALL_MS;
  chunks(state, FILE_CHUNK_BYTES, FILE_ACK_BYTES, owing);
  // They owe from the chunk that made a whole FILE_ACK_BYTES: their clock
  // starts there, not at file_ready.
  assert.deepEqual(dropped(state, owing + STALL_MS), []);
  send(
    state,
    JOJO,
    { t: "file_ack", xfer: 1, received: FILE_ACK_BYTES },
    owing + 500,
  );
  assert.deepEqual(dropped(state, owing + STALL_MS + 1), [NANA]);
  assert.deepEqual(dropped(state, owing + 20 * STALL_MS), []);
});

Deno.test("expireStalled counts the rest of the file and the end as owed from when they were sent", () => {
  const size = FILE_ACK_BYTES + 4 * FILE_CHUNK_BYTES;
  const state = accepted(size);
  chunks(state, 0, FILE_ACK_BYTES, T0);
  send(state, JOJO, { t: "file_ack", xfer: 1, received: FILE_ACK_BYTES }, T0);
  send(state, NANA, { t: "file_ack", xfer: 1, received: FILE_ACK_BYTES }, T0);
  // The rest, less than FILE_ACK_BYTES, long after: owed at once, as a
  // recipient acknowledges when it has the whole file.
  const rest = T0 + 10 * STALL_MS;
  chunks(state, FILE_ACK_BYTES, size, rest);
  assert.deepEqual(dropped(state, rest + STALL_MS), []);
  send(state, JOJO, { t: "file_ack", xfer: 1, received: size }, rest + 100);
  send(state, NANA, { t: "file_ack", xfer: 1, received: size }, rest + 100);
  // The end, long after again: each owes its file_done from then.
  const ended = rest + 10 * STALL_MS;
  const end = send(
    state,
    SOPHIA,
    { t: "file_end", xfer: 1, sha256: "0".repeat(64) },
    ended,
  );
  assert.equal(end[0]?.message.t, "file_end");
  assert.deepEqual(dropped(state, ended + STALL_MS), []);
  send(state, JOJO, { t: "file_done", xfer: 1, ok: true, reason: "" }, ended);
  assert.deepEqual(dropped(state, ended + STALL_MS + 1), [NANA]);
});
