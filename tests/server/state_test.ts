import assert from "node:assert/strict";
import { memoryStore } from "../_helpers/memory_store.ts";
import {
  DEFAULT_LIMITS,
  type Group,
  ServerState,
} from "../../src/server/state.ts";

Deno.test("ServerState uses default limits unless given others", () => {
  assert.deepEqual(new ServerState({}, memoryStore()).limits, {
    maxGroups: 1000,
    maxStoredGroups: 10_000,
    maxMembersPerGroup: 1000,
    maxGroupsPerUser: 100,
    maxFileBytes: 2 * 1024 ** 3,
    maxTransfersPerUser: 8,
    fileAnswerMs: 90_000,
    fileStallMs: 60_000,
    oneTimeKeysPerHourPerOwnerPerAddress: 4,
    oneTimeKeysPerHourPerAddress: 120,
    groupsCreatedPerHourPerAddress: 10,
    groupsJoinedPerHourPerAddress: 60,
  });
  assert.deepEqual(new ServerState({ maxGroups: 5 }, memoryStore()).limits, {
    ...DEFAULT_LIMITS,
    maxGroups: 5,
  });
});

Deno.test("ServerState rejects limits that are not non-negative integers", () => {
  assert.throws(
    () => new ServerState({ maxGroups: -1 }, memoryStore()),
    RangeError,
  );
  assert.throws(
    () => new ServerState({ maxMembersPerGroup: 1.5 }, memoryStore()),
    RangeError,
  );
  assert.throws(
    () => new ServerState({ maxGroupsPerUser: NaN }, memoryStore()),
    RangeError,
  );
});

Deno.test("ServerState.addConnection refuses a connection id twice", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  assert.throws(() => state.addConnection(1), /already known/);
});

Deno.test("ServerState.register indexes names ignoring case", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  assert.equal(state.session(1), undefined);
  assert.equal(state.nameOf(1), null);
  const session = state.register(1, "Jojo", 100);
  assert.deepEqual(session, {
    id: 1,
    name: "Jojo",
    nameKey: "jojo",
    connectedAt: 100,
    lastMessageAt: null,
    fingerprint: null,
    address: null,
    away: null,
    awayTold: new Set(),
    acks: false,
    ackCeiling: null,
  });
  assert.equal(state.nameOf(1), "Jojo");
  // What its address's accounts take together is counted once recorded.
  assert.equal(state.addressOf(1), null);
  state.setAddress(1, "192.0.2.7");
  assert.equal(state.addressOf(1), "192.0.2.7");
  assert.equal(state.sessionByName("JOJO"), session);
  assert.equal(state.isOnline("jojo"), true);
  assert.equal(state.isOnline("nana"), false);
});

Deno.test("ServerState.register throws on a name online or a second register", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  state.addConnection(2);
  state.register(1, "jojo", 0);
  assert.throws(() => state.register(2, "JOJO", 0), /online/);
  assert.throws(() => state.register(1, "nana", 0), /already registered/);
});

Deno.test("ServerState.sessions yields online users in connection order", () => {
  const state = new ServerState({}, memoryStore());
  for (const id of [1, 2, 3]) state.addConnection(id);
  state.register(3, "nana", 0);
  state.register(1, "sophia", 0);
  assert.deepEqual([...state.sessions()].map((s) => s.name), [
    "sophia",
    "nana",
  ]);
});

Deno.test("ServerState.onlineIds follows registrations and departures", () => {
  const state = new ServerState({}, memoryStore());
  for (const id of [1, 2, 3, 4]) state.addConnection(id);
  assert.deepEqual(state.onlineIds(), []);
  state.register(2, "jojo", 0);
  state.register(1, "sophia", 0);
  // Connection order, as sessions() gives it; an unregistered one is absent.
  assert.deepEqual(state.onlineIds(), [1, 2]);
  assert.equal(state.onlineIds(), state.onlineIds(), "cached between changes");
  state.register(4, "nana", 0);
  assert.deepEqual(state.onlineIds(), [1, 2, 4]);
  state.removeConnection(3);
  assert.deepEqual(state.onlineIds(), [1, 2, 4]);
  state.removeConnection(2);
  assert.deepEqual(state.onlineIds(), [1, 4]);
});

Deno.test("ServerState.onlineIdsExcept follows registrations and departures, for any number of senders", () => {
  const state = new ServerState({}, memoryStore());
  for (const id of [1, 2, 3]) state.addConnection(id);
  state.register(1, "sophia", 0);
  state.register(2, "jojo", 0);
  assert.deepEqual(state.onlineIdsExcept(1), [2]);
  assert.equal(state.onlineIdsExcept(1), state.onlineIdsExcept(1), "cached");
  state.register(3, "nana", 0);
  assert.deepEqual(state.onlineIdsExcept(1), [2, 3]);
  state.removeConnection(2);
  assert.deepEqual(state.onlineIdsExcept(1), [3]);
  assert.deepEqual(state.onlineIdsExcept(3), [1]);
  // More senders than lists kept: every answer is still right.
  for (let id = 10; id < 210; id++) {
    state.addConnection(id);
    state.register(id, `user${id}`, 0);
  }
  const everyone = state.onlineIds();
  for (const id of [...everyone, ...everyone]) {
    const others = state.onlineIdsExcept(id);
    assert.equal(others.length, everyone.length - 1);
    assert.ok(!others.includes(id));
  }
});

Deno.test("ServerState.removeConnection frees the name and returns the session", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  state.addConnection(2);
  const session = state.register(1, "jojo", 0);
  assert.equal(state.removeConnection(2), null);
  assert.equal(state.removeConnection(1), session);
  assert.equal(state.removeConnection(1), null);
  assert.equal(state.isOnline("jojo"), false);
  assert.equal(state.hasConnection(1), false);
  assert.deepEqual([...state.sessions()], []);
});

Deno.test("ServerState.removeConnection leaves a name online when another connection holds it", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  state.addConnection(2);
  const old = state.register(1, "jojo", 0);
  const holder = state.register(2, "bob", 0);
  // No caller gets here today: register refuses a name that is online, and
  // a sign-in removes the session it replaces first. One that registered
  // the new session before forgetting the old would; here the old session
  // is made to name what connection 2 holds.
  (old as { nameKey: string }).nameKey = holder.nameKey;
  assert.equal(state.removeConnection(1), old);
  assert.equal(state.isOnline("bob"), true);
  assert.equal(state.sessionByName("bob"), holder);
  assert.deepEqual(state.onlineIds(), [2]);
});

Deno.test("ServerState keeps last message times across reconnects", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  state.register(1, "jojo", 0);
  state.recordMessage(1, 42);
  assert.equal(state.session(1)?.lastMessageAt, 42);
  state.removeConnection(1);
  assert.equal(state.lastMessageAt("JOJO"), 42);
  assert.deepEqual([...state.lastMessages()], [{ name: "jojo", at: 42 }]);
  state.addConnection(2);
  assert.equal(state.register(2, "Jojo", 50).lastMessageAt, 42);
  assert.equal(state.lastMessageAt("nana"), null);
});

Deno.test("ServerState.recordMessage throws for an unregistered connection", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  assert.throws(() => state.recordMessage(1, 0), /not registered/);
});

Deno.test("ServerState groups are unique ignoring case and kept in creation order", () => {
  const state = new ServerState({}, memoryStore());
  const haha = state.createGroup("haha", "sophia", 7);
  state.createGroup("Zeta", "jojo", 8);
  assert.deepEqual(haha, {
    name: "haha",
    key: "haha",
    members: new Map(),
    createdBy: "sophia",
    createdAt: 7,
  });
  assert.equal(state.group("HAHA"), haha);
  assert.equal(state.group("nanana"), undefined);
  assert.throws(() => state.createGroup("HaHa", "nana", 9), /exists/);
  assert.deepEqual([...state.groups()].map((g) => g.name), ["haha", "Zeta"]);
  assert.equal(state.groupCount, 2);
});

Deno.test("ServerState membership belongs to names and survives disconnects", () => {
  const state = new ServerState({}, memoryStore("sophia", "jojo", "nana"));
  const haha = state.createGroup("haha", "sophia", 0);
  const zeta = state.createGroup("zeta", "sophia", 0);
  assert.equal(state.addMember(zeta, "Jojo"), true);
  assert.equal(state.addMember(haha, "jojo"), true);
  assert.equal(state.addMember(haha, "JOJO"), false);
  assert.equal(state.isMember(haha, "jOjO"), true);
  assert.equal(state.groupCountOf("jojo"), 2);
  // Creation order, not join order.
  assert.deepEqual(state.groupsOf("jojo"), [haha, zeta]);

  state.addConnection(1);
  state.register(1, "jojo", 0);
  assert.deepEqual(state.onlineMembers(haha).map((s) => s.id), [1]);
  state.removeConnection(1);
  assert.deepEqual(state.onlineMembers(haha), []);
  assert.equal(state.isMember(haha, "jojo"), true);
  assert.deepEqual(state.groupsOf("jojo"), [haha, zeta]);
});

Deno.test("ServerState.removeMember keeps the group even when it empties", () => {
  const state = new ServerState({}, memoryStore("sophia", "jojo", "nana"));
  const haha = state.createGroup("haha", "sophia", 0);
  state.addMember(haha, "sophia");
  assert.equal(state.removeMember(haha, "SOPHIA"), true);
  assert.equal(state.removeMember(haha, "sophia"), false);
  assert.equal(state.group("haha"), haha);
  assert.equal(haha.members.size, 0);
  assert.equal(state.groupCountOf("sophia"), 0);
  assert.deepEqual(state.groupsOf("sophia"), []);
});

Deno.test("ServerState keeps members in join order with their names as registered", () => {
  const state = new ServerState({}, memoryStore("sophia", "jojo", "nana"));
  const haha = state.createGroup("haha", "sophia", 0);
  state.addMember(haha, "sophia");
  state.addMember(haha, "Jojo");
  state.addMember(haha, "nana");
  assert.deepEqual([...haha.members.values()], ["sophia", "Jojo", "nana"]);
});

Deno.test("ServerState refuses groups it did not create", () => {
  const state = new ServerState({}, memoryStore());
  state.createGroup("haha", "sophia", 0);
  const forged: Group = {
    name: "haha",
    key: "haha",
    members: new Map(),
    createdBy: "x",
    createdAt: 0,
  };
  assert.throws(() => state.addMember(forged, "jojo"), /not known/);
  assert.throws(() => state.removeMember(forged, "jojo"), /not known/);
});

Deno.test("ServerState.setFingerprint records the key a registered connection proved", () => {
  const state = new ServerState({}, memoryStore());
  state.addConnection(1);
  state.setFingerprint(1, "SHA256:ignored-before-registering");
  state.register(1, "jojo", 0);
  assert.equal(state.session(1)?.fingerprint, null);
  state.setFingerprint(1, "SHA256:k");
  assert.equal(state.sessionByName("jojo")?.fingerprint, "SHA256:k");
});

Deno.test("ServerState counts groups someone is in, and empty ones by creator, again after a restart", () => {
  const store = memoryStore("sophia", "jojo");
  const state = new ServerState({}, store);
  const haha = state.createGroup("haha", "Sophia", 0);
  state.createGroup("zeta", "sophia", 0);
  state.addMember(haha, "jojo", 1);
  assert.equal(state.occupiedGroupCount, 1);
  assert.equal(state.emptyGroupsCreatedBy("SOPHIA"), 1);
  state.removeMember(haha, "jojo", 2);
  assert.equal(state.occupiedGroupCount, 0);
  assert.equal(state.emptyGroupsCreatedBy("sophia"), 2);
  state.addMember(haha, "sophia", 3);
  const again = new ServerState({}, store);
  assert.equal(again.occupiedGroupCount, 1);
  assert.equal(again.emptyGroupsCreatedBy("sophia"), 1);
  assert.equal(again.emptyGroupsCreatedBy("jojo"), 0);
});
