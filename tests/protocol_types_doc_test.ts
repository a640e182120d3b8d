/**
 * docs/PROTOCOL.md 5.2's table names every message type each side sends,
 * as src/protocol/messages.ts defines them. The table once lacked the
 * end-to-end messages, `away`, `ack` and `room_key` (c89e3a3 added them by
 * hand). The records below are typed so that `deno check` insists on every
 * tag of each union: a type added to the code and not here fails to
 * compile, and one added here and not to the table fails the test.
 */

import assert from "node:assert/strict";
import type {
  ClientMessage,
  RoomKeyMessage,
  ServerMessage,
} from "../src/protocol/messages.ts";

const CLIENT_TYPES: Readonly<Record<ClientMessage["t"], true>> = {
  register: true,
  prove: true,
  say: true,
  msg: true,
  gsay: true,
  list: true,
  groups: true,
  create: true,
  join: true,
  leave: true,
  members: true,
  history: true,
  away: true,
  bye: true,
  ack: true,
  ping: true,
  file_offer: true,
  file_chunk: true,
  file_end: true,
  file_ack: true,
  file_done: true,
  file_cancel: true,
  file_accept: true,
  file_decline: true,
  e2e_keys: true,
  e2e_bundle: true,
  e2e_msg: true,
  e2e_gsay: true,
};

// room_key is not a ServerMessage (its channel takes it, 3.8), but the
// server sends it: the table lists it with the notices.
const SERVER_TYPES: Readonly<
  Record<ServerMessage["t"] | RoomKeyMessage["t"], true>
> = {
  welcome: true,
  challenge: true,
  ok: true,
  error: true,
  pong: true,
  alive: true,
  public: true,
  private: true,
  group: true,
  users: true,
  groups: true,
  members: true,
  presence: true,
  membership: true,
  bye: true,
  file_ready: true,
  file_progress: true,
  file_result: true,
  file_offer: true,
  file_chunk: true,
  file_end: true,
  file_cancel: true,
  e2e_keys: true,
  e2e_bundle: true,
  e2e_private: true,
  e2e_group: true,
  room_key: true,
};

const PROTOCOL = await Deno.readTextFile(
  new URL("../docs/PROTOCOL.md", import.meta.url),
);

/** The types 5.2's table lists for `direction`, each row once. */
function tableTypes(direction: string): string[] {
  const start = PROTOCOL.indexOf("### 5.2 Requests, replies and notices");
  assert.notEqual(start, -1, "PROTOCOL.md has 5.2");
  const end = PROTOCOL.indexOf("\n### ", start + 1);
  const types: string[] = [];
  for (const line of PROTOCOL.slice(start, end).split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells[1] !== direction) continue;
    for (const match of cells[3]!.matchAll(/`([a-z0-9_]+)`/g)) {
      types.push(match[1]!);
    }
  }
  return types.sort();
}

Deno.test("PROTOCOL.md 5.2's table lists every type a client sends, as messages.ts has them", () => {
  assert.deepEqual(
    tableTypes("client to server"),
    Object.keys(CLIENT_TYPES).sort(),
  );
});

Deno.test("PROTOCOL.md 5.2's table lists every type the server sends, as messages.ts has them", () => {
  // file_offer, file_chunk, file_end and file_cancel go both ways, and
  // e2e_keys and e2e_bundle are requests and replies: one row each way.
  assert.deepEqual(
    tableTypes("server to client"),
    Object.keys(SERVER_TYPES).sort(),
  );
});
