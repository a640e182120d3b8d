// This module is browser compatible.

/**
 * The chat room's commands: one client message in, the messages to send out.
 *
 * Handlers return what to send and never send it, so this module knows nothing
 * about sockets and its tests need none. Message bodies are opaque here: the
 * router checks their length and forwards the same bytes, so they can become
 * end-to-end encrypted without changing it.
 *
 * Reply texts keep the wording of the seed chat's server.
 */

import {
  DEFAULT_HISTORY,
  invalidUsername,
  isValidName,
  MAX_AWAY_CHARS,
  MAX_GROUPS_SHOWN,
  MAX_HEADER_BYTES,
  MAX_HISTORY,
  MAX_HISTORY_BYTES,
  MAX_LIST_ITEMS,
  MAX_MEMBERS_SHOWN,
  MAX_TEXT_BYTES,
  MESSAGE_TOO_LONG,
  NAME_RULE,
  nameKey,
} from "../protocol/limits.ts";
import type {
  ClientMessage,
  Cursor,
  GroupMembers,
  Timestamp,
} from "../protocol/messages.ts";
import type {
  HistoryQuery,
  MessagePosition,
  StoredMessage,
} from "../store/store.ts";
import type { ServerState } from "./state.ts";
import type { ConnId, Session } from "./session.ts";
import type { Group } from "./group.ts";
import type { RemoteUser } from "./remote_users.ts";
import {
  type Address,
  connection,
  fail,
  notMember,
  ok,
  type Outbound,
  reply,
  send,
} from "./outbound.ts";
import { dropTransfers, routeFile } from "./transfers.ts";
import { routeE2eKeys } from "./e2e_keys.ts";
import { e2eHistory, routeE2eMessage } from "./e2e_relay.ts";
import { e2eGroupHistory, routeE2eGroup } from "./e2e_group_relay.ts";
import { clientIdOf, echo, sent, sentBefore } from "./chat_replies.ts";
import { deliverPrivate, privateRecipient } from "./private_delivery.ts";
import { deliverGroup, noSuchGroup } from "./group_delivery.ts";

// Re-exported for those who knew it here (serve.ts, the tests).
export type { Outbound } from "./outbound.ts";

/** An unregistered connection appeared. */
export function connect(state: ServerState, id: ConnId): void {
  state.addConnection(id);
}

/**
 * A connection is gone: tells the other users if it had registered. The
 * user's group memberships and last message time stay.
 */
export function disconnect(
  state: ServerState,
  id: ConnId,
  now: Timestamp,
): Outbound[] {
  const session = state.removeConnection(id, now);
  if (session === null) return [];
  return [
    ...dropTransfers(state, id, session.name, now),
    ...send(room(session), {
      t: "presence",
      name: session.name,
      online: false,
    }),
  ];
}

/** Handles one message from a connection. Never throws on client input. */
export function route(
  state: ServerState,
  from: ConnId,
  message: ClientMessage,
  body: Uint8Array,
  now: Timestamp,
): Outbound[] {
  // The edge closes the connection and then calls disconnect.
  if (message.t === "bye") return [];
  if (message.t === "ping") return reply(from, { t: "pong", re: message.id });
  if (message.t === "register") {
    return register(
      state,
      from,
      message.id,
      message.name,
      now,
      message.acks === true,
    );
  }
  const session = state.session(from);
  if (session === undefined) {
    return fail(
      from,
      "id" in message ? message.id : null,
      "not_registered",
      "ERROR: Register a username first",
    );
  }
  switch (message.t) {
    case "say":
      return sentBefore(state, session, message) ??
        say(state, session, message.id, body, now, message.cid);
    case "msg":
      return sentBefore(state, session, message) ??
        privateMessage(
          state,
          session,
          message.id,
          message.to,
          body,
          now,
          message.cid,
        );
    case "gsay":
      return sentBefore(state, session, message) ??
        groupMessage(
          state,
          session,
          message.id,
          message.group,
          body,
          now,
          message.cid,
        );
    case "list": {
      // Users on other nodes of a cluster after this node's (once each).
      const users: (Session | RemoteUser)[] = [...state.sessions()];
      if (state.remote.size > 0) {
        for (const user of state.remote.users()) {
          if (!state.isOnline(user.nameKey)) users.push(user);
        }
      }
      const { shown, more } = capBytes(
        cap(users).shown.map((s) => ({
          name: s.name,
          lastMessageAt: s.lastMessageAt,
          ...(s.away === null ? {} : { away: s.away }),
          ...(s.fingerprint === null ? {} : { fingerprint: s.fingerprint }),
        })),
        users.length,
      );
      return reply(session.id, {
        t: "users",
        re: message.id,
        users: shown,
        ...more,
      });
    }
    case "groups": {
      const { shown, more } = cap([...state.groups()]);
      return reply(session.id, {
        t: "groups",
        re: message.id,
        // `joined` tells a client that kept nothing (a page reloaded) which
        // groups are its own, in the one reply it asks for anyway.
        groups: shown.map((g) => ({
          name: g.name,
          members: g.members.size,
          ...(g.members.has(session.nameKey) ? { joined: true as const } : {}),
        })),
        ...more,
      });
    }
    case "create":
      return create(state, session, message.id, message.group, now);
    case "join":
      return join(state, session, message.id, message.group, now);
    case "leave":
      return leave(state, session, message.id, message.group, now);
    case "members":
      return members(state, session, message.id, message.group);
    case "ack":
      return acknowledge(state, session, message.cursors);
    case "away":
      return away(state, session, message.id, message.reason);
    case "history":
      return history(
        state,
        session,
        message.id,
        message.target,
        message.limit ?? DEFAULT_HISTORY,
        { before: message.before, after: message.after },
      );
    case "prove":
      // Proofs are checked by the identity gate before the router sees a name.
      return fail(
        from,
        message.id,
        "bad_request",
        "ERROR: Nothing to prove: register first",
      );
    case "file_offer":
    case "file_chunk":
    case "file_end":
    case "file_ack":
    case "file_done":
    case "file_cancel":
    case "file_accept":
    case "file_decline":
      return routeFile(state, session, message, body, now);
    case "e2e_keys":
    case "e2e_bundle":
      return routeE2eKeys(state, session, message, body, now);
    case "e2e_msg":
      return routeE2eMessage(state, session, message, body, now);
    case "e2e_gsay":
      return routeE2eGroup(state, session, message, body, now);
    default: {
      // Unreachable for decoded messages; answered rather than thrown so a
      // decoder bug cannot take the server down.
      const unknown: never = message;
      const id = (unknown as { id?: unknown }).id;
      return fail(
        from,
        typeof id === "number" ? id : null,
        "bad_request",
        "ERROR: Unknown command",
      );
    }
  }
}

function register(
  state: ServerState,
  from: ConnId,
  re: number,
  name: string,
  now: Timestamp,
  acks: boolean,
): Outbound[] {
  if (state.session(from) !== undefined) {
    return fail(
      from,
      re,
      "already_registered",
      "ERROR: You are already registered",
    );
  }
  if (!isValidName(name)) {
    return fail(from, re, "invalid_name", invalidUsername(name));
  }
  if (state.isOnline(name)) {
    return fail(
      from,
      re,
      "name_taken",
      `ERROR: Username '${name}' is already taken. Choose another one`,
    );
  }
  const session = state.register(from, name, now, acks);
  const ownAfter = state.store.historyStartsAfter(session.nameKey);
  return [
    {
      to: connection(from),
      message: {
        t: "welcome",
        re,
        name: session.name,
        text: "SUCCESS: Username registered.",
        ...(acks ? { acks: true } : {}),
        cids: true,
        // Every history answer's messages carry `req` (asHistory).
        reqs: true,
        store: state.store.id,
        // Their name's lines up to here were another key's (a release):
        // shown again by /history as someone else's, not as their own.
        ...(ownAfter > 0 ? { own_after: ownAfter } : {}),
        // Where the room stands: what comes after it reaches this connection
        // live or is missed, so a client that saw nothing yet knows where to
        // catch up from after a drop, with no request (docs/PROTOCOL.md 5.3).
        last_id: state.store.lastMessageId(),
      },
    },
    // What arrived for them while they were away, after the welcome.
    ...missed(state, session),
    ...send(room(session), {
      t: "presence",
      name: session.name,
      online: true,
    }),
  ];
}

/**
 * Messages that waited for a user, marked as history. A client that
 * acknowledges has them wait until it does (it drops any it has shown
 * already); for one that does not, they count as delivered now. Past a
 * page (MAX_MISSED, MAX_MISSED_BYTES) a client that acknowledges gets the
 * next ones once it has acknowledged these (`acknowledge`); one that does
 * not gets them at its next sign-in, and is told.
 */
function missed(state: ServerState, session: Session): Outbound[] {
  const dropped = state.store.takeDropped(session.nameKey);
  const told = dropped === 0 ? [] : reply(session.id, {
    t: "error",
    re: null,
    code: "limit",
    text: droppedUnconfirmed(dropped),
  });
  const page = missedPage(state, session, 0);
  if (page.last === null || session.acks) return [...page.out, ...told];
  return [
    ...page.out,
    ...reply(session.id, {
      t: "error",
      re: null,
      code: "limit",
      text:
        `ERROR: More messages are waiting than can be shown at once; the next ones come when you reconnect, or see /history`,
    }),
    ...told,
  ];
}

/**
 * Up to MAX_MISSED of what waits for the user after message `after`, at
 * most MAX_MISSED_BYTES of bodies, and, if more wait, the last id sent
 * (`last`), which becomes the connection's ack ceiling
 * (Session.ackCeiling); null when nothing more waits.
 */
function missedPage(
  state: ServerState,
  session: Session,
  after: number,
): { out: Outbound[]; last: number | null } {
  const store = state.store;
  const out: Outbound[] = [];
  let bytes = 0;
  for (;;) {
    const pending = store.pendingFor(session.nameKey, MISSED_READ, after);
    if (pending.length === 0) {
      if (session.ackCeiling !== null) state.clearAckCeiling(session.id);
      return { out, last: null };
    }
    for (const message of pending) {
      const size = message.body.byteLength;
      if (
        out.length >= MAX_MISSED ||
        (out.length > 0 && bytes + size > MAX_MISSED_BYTES)
      ) {
        if (session.acks) state.setAckCeiling(session.id, after);
        return { out, last: after };
      }
      if (!session.acks) store.markDelivered(message.id, session.nameKey);
      out.push(asHistory(session, message));
      bytes += size;
      after = message.id;
    }
  }
}

/**
 * The client has shown its conversations up to these cursors: what waited
 * for it there is delivered. Names that match nothing change nothing, and
 * only the user's own deliveries can change, so nothing here needs an answer.
 */
function acknowledge(
  state: ServerState,
  session: Session,
  cursors: readonly Cursor[],
): Outbound[] {
  const store = state.store;
  for (const cursor of cursors) {
    store.acknowledge(
      session.nameKey,
      "to" in cursor
        ? { kind: "private", otherKey: nameKey(cursor.to) }
        : { kind: "group", groupKey: nameKey(cursor.group) },
      cursor.seq,
      session.ackCeiling ?? undefined,
    );
  }
  // The sign-in sent a page of what waited (missed): once every message of
  // it is acknowledged, the next page follows.
  const ceiling = session.ackCeiling;
  if (ceiling === null) return [];
  const first = store.pendingFor(session.nameKey, 1)[0];
  if (first !== undefined && first.id <= ceiling) return [];
  return missedPage(state, session, ceiling).out;
}

/** The most missed messages one page (a sign-in's first, or the next) holds. */
const MAX_MISSED = 2 * MAX_HISTORY;

/**
 * The most bytes of bodies one page holds (a body is far smaller). Every
 * sign-in reads its page from the store and seals it, whether or not the
 * client reads it: a page of 1000 messages of 16,000 bytes (16 MB) let one
 * address signing the same name in at its handshake rate take a large share
 * of the server's thread (a `history` reply, 256 KiB, is limited to 3 a
 * second per address). At 1 MiB a sign-in costs about
 * what its RSA handshake does; a client that acknowledges gets the rest a
 * page at a time, as before.
 */
export const MAX_MISSED_BYTES = 1024 * 1024;

/**
 * Missed messages read from the store at a time: a page stops at
 * MAX_MISSED_BYTES, so at most this many more bodies are read than it sends.
 */
const MISSED_READ = 32;

/** Added to the end of a history reply that had to leave older messages out. */
const HISTORY_CUT = "; older ones do not fit in one reply";

/**
 * A stored message as `viewer` gets it again: what waited for them, or,
 * with `req`, in the answer to their `history` request `req` (which the
 * client attributes it to by that, docs/PROTOCOL.md 5.4). Not `re`: the
 * message is not the request's reply.
 */
function asHistory(
  viewer: Session,
  message: StoredMessage,
  req?: number,
): Outbound {
  const e2e = e2eHistory(viewer, message, req) ??
    e2eGroupHistory(viewer, message, req);
  if (e2e !== null) return e2e;
  const to = connection(viewer.id);
  // `history` after the position and `req`, and only a sent `private`'s
  // `to` after it (the order of docs/PROTOCOL.md 5.4's vectors): a header
  // that ends in a digit is a live one (the bench's counting decoder relies
  // on it).
  const common = {
    from: message.fromName,
    ts: message.ts,
    id: message.id,
    seq: message.seq,
    ...(req === undefined ? {} : { req }),
    history: true,
  } as const;
  switch (message.kind) {
    case "public":
      return { to, message: { t: "public", ...common }, body: message.body };
    case "private":
      return {
        to,
        // The recipient is named only when it is not the viewer.
        message: message.toKey === viewer.nameKey
          ? { t: "private", ...common }
          : { t: "private", ...common, to: message.toName },
        body: message.body,
      };
    case "group":
      return {
        to,
        message: { t: "group", group: message.groupName, ...common },
        body: message.body,
      };
  }
}

function history(
  state: ServerState,
  session: Session,
  re: number,
  target: string | undefined,
  limit: number,
  range: { before: number | undefined; after: number | undefined },
): Outbound[] {
  const store = state.store;
  const count = Math.min(Math.max(limit, 1), MAX_HISTORY);
  // The cursors only narrow what the rules below allow (HistoryQuery).
  const cursor = {
    ...(range.before === undefined ? {} : { before: range.before }),
    ...(range.after === undefined ? {} : { after: range.after }),
  };
  let query: HistoryQuery;
  let what: string;
  if (target === undefined) {
    query = { kind: "public", ...cursor };
    what = "the public room";
  } else {
    const group = state.group(target);
    if (group !== undefined && state.isMember(group, session.name)) {
      query = {
        kind: "group",
        groupKey: group.key,
        viewerKey: session.nameKey,
        ...cursor,
      };
      what = `group '${group.name}'`;
    } else {
      const other = state.knownUser(target);
      if (other === null) {
        if (group !== undefined) return notMember(session.id, re, group);
        const shown = echo(target);
        return fail(
          session.id,
          re,
          "no_such_user",
          `ERROR: No group you are in and no user is called ${
            shown ?? "that"
          }.`,
        );
      }
      query = {
        kind: "private",
        viewerKey: session.nameKey,
        otherKey: nameKey(other),
        ...cursor,
      };
      what = `your conversation with ${other}`;
    }
  }
  // One more than asked: its being there says that older ones remain.
  const messages = store.history(query, count + 1, MAX_HISTORY_BYTES);
  // The store hands over the message that broke the budget too: its being
  // there says that older ones were left out.
  const overBudget = messages.reduce((n, m) => n + m.body.byteLength, 0) >
    MAX_HISTORY_BYTES;
  const full = overBudget || messages.length > count;
  if (full) messages.shift();
  // A group's reply whose page is not full may have stopped looking short
  // of older messages (Store.historyFloor): it says where, to ask on below.
  const floor = full ? null : store.historyFloor(query);
  const more = full || floor !== null;
  // The text says the budget cut the reply only when it did, not when the
  // one past the limit was also past the budget (the text of a server
  // before `more`, which old clients read).
  const cut = overBudget && messages.length < count;
  const n = messages.length;
  const text = n === 0
    ? `No history for ${what}.`
    : `End of history for ${what} (${n} message${n === 1 ? "" : "s"}${
      cut ? HISTORY_CUT : ""
    }).`;
  return [
    ...messages.map((message) => asHistory(session, message, re)),
    ...reply(session.id, {
      t: "ok",
      re,
      text,
      ...(more ? { more: true as const } : {}),
      ...(floor === null ? {} : { before: floor }),
    }),
  ];
}

function say(
  state: ServerState,
  session: Session,
  re: number,
  body: Uint8Array,
  now: Timestamp,
  cid?: string,
): Outbound[] {
  const invalid = checkBody(state, session.id, re, body);
  if (invalid !== null) return invalid;
  state.recordMessage(session.id, now);
  // Public history is open to all, so no recipient rows are needed.
  const position = state.store.appendPublic({
    ts: now,
    fromKey: session.nameKey,
    fromName: session.name,
    body,
    ...clientIdOf(cid),
  });
  return [
    ...sent(session.id, re, "", cid, position),
    ...send(
      room(session),
      { t: "public", from: session.name, ts: now, ...positionOf(position) },
      body,
    ),
  ];
}

function privateMessage(
  state: ServerState,
  session: Session,
  re: number,
  to: string,
  body: Uint8Array,
  now: Timestamp,
  cid?: string,
): Outbound[] {
  const invalid = checkBody(state, session.id, re, body);
  if (invalid !== null) return invalid;
  const recipientOf = privateRecipient(state, session, re, to);
  if (Array.isArray(recipientOf)) return recipientOf;
  return deliverPrivate(
    state,
    session,
    recipientOf,
    { re, cid, body },
    (position) => ({
      t: "private",
      from: session.name,
      ts: now,
      ...positionOf(position),
    }),
    now,
  );
}

/** `/away reason` marks the user away; `/away` alone marks them back. */
function away(
  state: ServerState,
  session: Session,
  re: number,
  reason: string | undefined,
): Outbound[] {
  const text = reason?.trim() ?? "";
  if (text.length > MAX_AWAY_CHARS) {
    return fail(
      session.id,
      re,
      "too_long",
      `ERROR: Away reason too long (${text.length} characters; the limit is ${MAX_AWAY_CHARS})`,
    );
  }
  if (text === "") {
    const was = session.away !== null;
    state.setAway(session.id, null);
    return ok(
      session.id,
      re,
      was ? "You are no longer marked as away" : "You were not marked as away",
    );
  }
  state.setAway(session.id, text);
  return ok(session.id, re, `You are marked as away: ${text}`);
}

function groupMessage(
  state: ServerState,
  session: Session,
  re: number,
  name: string,
  body: Uint8Array,
  now: Timestamp,
  cid?: string,
): Outbound[] {
  const invalid = checkBody(state, session.id, re, body);
  if (invalid !== null) return invalid;
  const group = state.group(name);
  if (group === undefined) return noSuchGroup(session.id, re, name);
  if (!state.isMember(group, session.name)) {
    return notMember(session.id, re, group);
  }
  return deliverGroup(
    state,
    session,
    group,
    { re, cid, body },
    (position) => ({
      t: "group",
      group: group.name,
      from: session.name,
      ts: now,
      ...positionOf(position),
    }),
    now,
  );
}

function create(
  state: ServerState,
  session: Session,
  re: number,
  name: string,
  now: Timestamp,
): Outbound[] {
  if (!isValidName(name)) {
    const shown = echo(name);
    return fail(
      session.id,
      re,
      "invalid_name",
      shown === null
        ? `ERROR: Invalid group name: ${NAME_RULE}`
        : `ERROR: Invalid group name ${shown}: ${NAME_RULE}`,
    );
  }
  const existing = state.group(name);
  if (existing !== undefined) {
    return fail(
      session.id,
      re,
      "group_exists",
      `ERROR: Group '${existing.name}' already exists.`,
    );
  }
  // People and groups share one namespace for new names: a group named
  // like a user (even its creator) would be taken for that user by the
  // commands that take either (`history`: a group the requester is in comes
  // first). Groups created before this rule keep their names and work as
  // before; an existing group is refused above as existing, whatever users
  // are called.
  const person = state.userNameLike(name);
  if (person !== null) {
    return fail(
      session.id,
      re,
      "name_taken",
      userNameGroupRefusal(name, person),
    );
  }
  // A group is its creator's as a name is its key's: anyone may create a
  // look-alike of their own group, no one of another's. Groups created
  // before this rule keep their names.
  const lookalike = state.groupsLike(name).find((group) =>
    nameKey(group.createdBy) !== session.nameKey
  );
  if (lookalike !== undefined) {
    return fail(
      session.id,
      re,
      "group_exists",
      lookalikeGroupRefusal(name, lookalike.name),
    );
  }
  const { maxGroups, maxStoredGroups, maxGroupsPerUser } = state.limits;
  // Groups nobody is in count against their creator below, not here; all
  // groups against what the server keeps.
  if (state.occupiedGroupCount >= maxGroups) {
    return serverFullOfGroups(session.id, re, maxGroups);
  }
  if (state.groupCount >= maxStoredGroups) {
    return serverFullOfGroups(session.id, re, maxStoredGroups);
  }
  // Checked before creating so a refused creator leaves no orphan group.
  const member = state.groupCountOf(session.name);
  if (member >= maxGroupsPerUser) {
    return tooManyGroups(session.id, re, maxGroupsPerUser);
  }
  const empty = state.emptyGroupsCreatedBy(session.name);
  if (member + empty >= maxGroupsPerUser) {
    return fail(
      session.id,
      re,
      "limit",
      `ERROR: You are in ${member} groups and created ${empty} that nobody is in: ${maxGroupsPerUser} in all is the most allowed.`,
    );
  }
  // Last: only a group that would be made is counted.
  if (!state.budgets.createGroup(state.addressOf(session.id), now)) {
    return fail(session.id, re, "limit", TOO_MANY_GROUPS_CREATED);
  }
  const group = state.createGroup(name, session.name, now);
  state.addMember(group, session.name, now);
  return ok(
    session.id,
    re,
    `SUCCESS: Group '${group.name}' created and joined.`,
  );
}

/**
 * A `create` past what the accounts of its address may create in an hour
 * (account_budgets.ts).
 */
export const TOO_MANY_GROUPS_CREATED =
  "ERROR: Too many groups created from your address; try again in a few minutes";

/** A `join` past what the accounts of its address may join in an hour. */
export const TOO_MANY_GROUPS_JOINED =
  "ERROR: Too many groups joined from your address; try again in a few minutes";

/**
 * Why a group name that looks like another's group is refused
 * (docs/PROTOCOL.md 8, "Look-alike names").
 */
export function lookalikeGroupRefusal(name: string, lookalike: string): string {
  return `ERROR: The group name '${name}' looks like '${lookalike}', a group someone else created; choose another name`;
}

/**
 * Why a group may not be called `name`: it is, or looks like, the user name
 * `person` (docs/PROTOCOL.md 8, "One namespace").
 */
export function userNameGroupRefusal(name: string, person: string): string {
  return nameKey(name) === nameKey(person)
    ? `ERROR: '${name}' is a user's name; choose another name for the group`
    : `ERROR: '${name}' looks like '${person}', a user's name; choose another name for the group`;
}

function join(
  state: ServerState,
  session: Session,
  re: number,
  name: string,
  now: Timestamp,
): Outbound[] {
  const group = state.group(name);
  if (group === undefined) return noSuchGroup(session.id, re, name);
  if (state.isMember(group, session.name)) {
    return fail(
      session.id,
      re,
      "already_member",
      `ERROR: You are already a member of group '${group.name}'.`,
    );
  }
  const { maxMembersPerGroup, maxGroupsPerUser } = state.limits;
  if (group.members.size >= maxMembersPerGroup) {
    return fail(
      session.id,
      re,
      "limit",
      `ERROR: Group '${group.name}' is full: it has ${maxMembersPerGroup} members, the most allowed.`,
    );
  }
  if (state.groupCountOf(session.name) >= maxGroupsPerUser) {
    return tooManyGroups(session.id, re, maxGroupsPerUser);
  }
  // Joining a group nobody is in makes one more that someone is in.
  const { maxGroups } = state.limits;
  if (group.members.size === 0 && state.occupiedGroupCount >= maxGroups) {
    return serverFullOfGroups(session.id, re, maxGroups);
  }
  if (!state.budgets.joinGroup(state.addressOf(session.id), now)) {
    return fail(session.id, re, "limit", TOO_MANY_GROUPS_JOINED);
  }
  state.addMember(group, session.name, now);
  return [
    ...ok(session.id, re, `SUCCESS: Joined group '${group.name}'.`),
    ...send(groupOf(group, session), {
      t: "membership",
      group: group.name,
      name: session.name,
      joined: true,
    }),
  ];
}

function leave(
  state: ServerState,
  session: Session,
  re: number,
  name: string,
  now: Timestamp,
): Outbound[] {
  const group = state.group(name);
  if (group === undefined) return noSuchGroup(session.id, re, name);
  if (!state.removeMember(group, session.name, now)) {
    return notMember(session.id, re, group);
  }
  return [
    ...ok(session.id, re, `SUCCESS: Left group '${group.name}'.`),
    ...send(groupOf(group, session), {
      t: "membership",
      group: group.name,
      name: session.name,
      joined: false,
    }),
  ];
}

function members(
  state: ServerState,
  session: Session,
  re: number,
  name: string | undefined,
): Outbound[] {
  // Bounded so the reply always fits in one message header: in groups and
  // members, and in bytes (20 groups of 200 members, all online, with names
  // of 32 characters are some 280 KB of JSON: such a reply was never sent).
  // Only the groups shown are read: a copy of all of a user's groups would
  // cost more than the request's weight (reply_weight.ts).
  let groups: Group[];
  let total: number;
  if (name === undefined) {
    groups = state.firstGroupsOf(session.name, MAX_GROUPS_SHOWN);
    total = state.groupCountOf(session.name);
  } else {
    const group = state.group(name);
    if (group === undefined) return noSuchGroup(session.id, re, name);
    groups = [group];
    total = 1;
  }
  const entries = groups.map(
    (group): GroupMembers => {
      // The first ones only: a copy of every member would cost the
      // group's size, more than the request's weight (reply_weight.ts).
      const listed = firstMembers(group, MAX_MEMBERS_SHOWN);
      const left = group.members.size - listed.length;
      return {
        group: group.name,
        members: listed,
        // Here, or on another node of a cluster; in join order.
        online: listed.filter((member) =>
          state.isOnline(member) ||
          (state.remote.size > 0 &&
            state.remote.get(nameKey(member)) !== undefined)
        ),
        ...(left > 0 ? { more: left } : {}),
        tag: state.membersTag(group),
      };
    },
  );
  const { shown, more } = capBytes(entries, total);
  return reply(session.id, { t: "members", re, groups: shown, ...more });
}

function firstMembers(group: Group, count: number): string[] {
  const names: string[] = [];
  for (const name of group.members.values()) {
    if (names.length === count) break;
    names.push(name);
  }
  return names;
}

/** At most MAX_LIST_ITEMS of a list, and how many were left out (if any). */
function cap<T>(items: T[]): { shown: T[]; more: { more?: number } } {
  const shown = items.slice(0, MAX_LIST_ITEMS);
  const more = items.length - shown.length;
  return { shown, more: more > 0 ? { more } : {} };
}

/**
 * The most bytes of JSON the entries of one `users` or `members` reply take:
 * the header must stay within MAX_HEADER_BYTES, or it is never sent (the
 * request is left unanswered). Each away reason may be 200 characters, and
 * one of control characters is 1200 bytes of JSON escapes: some 200 such
 * users filled it.
 */
const MAX_LIST_BYTES = MAX_HEADER_BYTES - 1024;

/**
 * The first of `items` whose JSON fits in MAX_LIST_BYTES, and how many of
 * `total` were left out (if any).
 */
function capBytes<T>(
  items: T[],
  total: number,
): { shown: T[]; more: { more?: number } } {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    // Each entry and the comma after it.
    bytes += utf8Length(JSON.stringify(item)) + 1;
    if (bytes > MAX_LIST_BYTES) break;
    count++;
  }
  const more = total - count;
  return { shown: items.slice(0, count), more: more > 0 ? { more } : {} };
}

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

const encoder = new TextEncoder();

/**
 * A refusal for a message that cannot be taken: empty, too long, or no room
 * left in the store (Store.full); null if it can.
 */
function checkBody(
  state: ServerState,
  from: ConnId,
  re: number,
  body: Uint8Array,
): Outbound[] | null {
  if (body.byteLength === 0) {
    return fail(from, re, "empty", "ERROR: Message is empty");
  }
  if (body.byteLength > MAX_TEXT_BYTES) {
    return fail(
      from,
      re,
      "too_long",
      `ERROR: ${MESSAGE_TOO_LONG}`,
    );
  }
  if (state.store.full()) {
    return fail(from, re, "limit", STORE_FULL);
  }
  return null;
}

/**
 * Told at sign-in when the store, at its cap, gave up messages that waited
 * for the user (of those owed the most, the oldest from whoever sent them
 * the most, store_cap.ts). Not "while
 * you were away": a message waits until the user's client confirms it, so
 * what was given up may have been sent while they were online (a client
 * slow to confirm, or another connection of theirs), and may even have been
 * shown before its confirmation came.
 */
export function droppedUnconfirmed(count: number): string {
  const [messages, them] = count === 1
    ? ["message", "it"]
    : ["messages", "them"];
  return `ERROR: The server's storage was full: it gave up ${count} ${messages} sent to you before your client confirmed ${them} (from whoever sent you the most, the oldest first); any you have not seen are lost`;
}

/** The store is full of what it cannot delete (Store.full). */
export const STORE_FULL =
  "ERROR: The server's storage is full; ask the host to make room";

function serverFullOfGroups(
  from: ConnId,
  re: number,
  max: number,
): Outbound[] {
  return fail(
    from,
    re,
    "limit",
    `ERROR: The server already has ${max} groups, the most it allows.`,
  );
}

function tooManyGroups(from: ConnId, re: number, max: number): Outbound[] {
  return fail(
    from,
    re,
    "limit",
    `ERROR: You are already in ${max} groups, the most allowed. Leave one first.`,
  );
}

/** Everyone in the public room but `sender`. */
function room(sender: Session): Address {
  return { kind: "room", except: sender.nameKey };
}

/** The members of `group` but `sender`. */
function groupOf(group: Group, sender: Session): Address {
  return { kind: "group", key: group.key, except: sender.nameKey };
}

/** A stored message's id and seq for the wire. */
function positionOf(position: MessagePosition): { id: number; seq: number } {
  return { id: position.id, seq: position.seq };
}
