import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import type { Address, Recipients } from "../../src/server/outbound.ts";
import { reaches, recipients } from "../../src/server/recipients.ts";
import { connect, route } from "../../src/server/router.ts";
import { ServerState } from "../../src/server/state.ts";

const SOPHIA = 1;
const JOJO = 2;
const NANA = 3;
const STRANGER = 4;
const NONE = new Uint8Array(0);
const KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/**
 * sophia, jojo and nana online in that order, STRANGER connected but not
 * registered; "team" has sophia and Nana (who joined as "Nana"), and
 * offline "ghost".
 */
function room(): ServerState {
  const state = new ServerState({}, memoryStore("ghost"));
  for (
    const [id, name] of [[SOPHIA, "sophia"], [JOJO, "jojo"], [
      NANA,
      "Nana",
    ]] as const
  ) {
    connect(state, id);
    route(state, id, { t: "register", id: 0, name, key: KEY }, NONE, id);
  }
  connect(state, STRANGER);
  route(state, SOPHIA, { t: "create", id: 1, group: "team" }, NONE, 5);
  const team = state.group("team")!;
  state.addMember(team, "ghost");
  route(state, NANA, { t: "join", id: 1, group: "TEAM" }, NONE, 6);
  return state;
}

const ADDRESSES: readonly Recipients[] = [
  { kind: "connection", id: JOJO },
  { kind: "connection", id: STRANGER },
  { kind: "user", key: "nana" },
  { kind: "user", key: "ghost" },
  { kind: "user", key: "nobody" },
  { kind: "room" },
  { kind: "room", except: "jojo" },
  { kind: "room", except: "ghost" },
  { kind: "group", key: "team" },
  { kind: "group", key: "team", except: "sophia" },
  { kind: "group", key: "nosuch" },
  [JOJO, NANA],
  [],
];

Deno.test("recipients resolves each address to this process's connections", () => {
  const state = room();
  assert.deepEqual(
    ADDRESSES.map((to) => recipients(state, to)),
    [
      [JOJO],
      // Open or not is the edge's business: a reply goes where it was asked.
      [STRANGER],
      [NANA],
      [],
      [],
      [SOPHIA, JOJO, NANA],
      [SOPHIA, NANA],
      [SOPHIA, JOJO, NANA],
      // Members online, in join order; unregistered connections never.
      [SOPHIA, NANA],
      [NANA],
      [],
      [JOJO, NANA],
      [],
    ],
  );
});

Deno.test("recipients hands out the state's cached room list, not a copy per message", () => {
  const state = room();
  const everyone: Address = { kind: "room" };
  const butJojo: Address = { kind: "room", except: "jojo" };
  assert.equal(recipients(state, everyone), recipients(state, everyone));
  assert.equal(recipients(state, butJojo), recipients(state, butJojo));
  assert.equal(recipients(state, everyone), state.onlineIds());
});

Deno.test("recipients follows the state: who left is not reached", () => {
  const state = room();
  state.removeConnection(NANA, 9);
  assert.deepEqual(recipients(state, { kind: "user", key: "nana" }), []);
  assert.deepEqual(recipients(state, { kind: "room" }), [SOPHIA, JOJO]);
  assert.deepEqual(recipients(state, { kind: "group", key: "team" }), [
    SOPHIA,
  ]);
});

Deno.test("reaches agrees with recipients for every address and connection", () => {
  const state = room();
  for (const to of ADDRESSES) {
    const resolved = recipients(state, to);
    for (const id of [SOPHIA, JOJO, NANA, STRANGER, 99]) {
      assert.equal(
        reaches(state, to, id),
        resolved.includes(id),
        `${JSON.stringify(to)} and connection ${id}`,
      );
    }
  }
});
