// This module is browser compatible.

/**
 * One record of the cluster's message log (cluster/log_record.ts) applied
 * to this node's store, in log order (issue 19, docs/SCALING.md "The
 * message log"). A message is stored under its stream sequence as id and
 * seq, with every user entitled to it as a recipient (each node keeps the
 * whole log), and sent to those signed in here; an acknowledgement or a
 * delivery marks what waits. Every node does the same with the same log,
 * so positions, history and what waits for a user agree everywhere.
 *
 * Like the router it returns what to send and never sends it; its writes
 * happen inside the caller's unit of work (write_path.ts).
 */

import { nameKey } from "../protocol/limits.ts";
import type { Timestamp } from "../protocol/messages.ts";
import type { Recipient, Store } from "../store/store.ts";
import type { LogRecord } from "./cluster/log_record.ts";
import type { Outbound } from "./outbound.ts";
import type { ServerState } from "./state.ts";

export interface Applied {
  readonly out: Outbound[];
  /**
   * Messages this node counted as delivered to a user signed in here (a
   * client that does not acknowledge): for the other nodes (a `delivered`
   * record), or the user would be sent them again there.
   */
  readonly delivered: readonly { readonly user: string; readonly id: number }[];
  /**
   * A message stored once more under a cid already stored: its sender's
   * node sent it again (shared_log.ts) and JetStream took the copy, the
   * first having been stored longer ago than the stream's duplicate window.
   * Passed over: `first` is the message that stands.
   */
  readonly repeated?: { readonly from: string; readonly first: number };
}

const NOTHING: Applied = { out: [], delivered: [] };

/**
 * Applies the record at stream sequence `seq` to `store` (the node's own
 * store, not the log outbox: nothing applied is published again). A
 * message at or below the last id stored was applied already (a restart
 * reads the log again from the last message it has).
 */
export function applyLogRecord(
  state: ServerState,
  store: Store,
  seq: number,
  record: LogRecord,
  now: Timestamp,
): Applied {
  switch (record.kind) {
    case "ack":
      store.acknowledge(
        record.user,
        record.conversation,
        record.seq,
        record.maxId,
      );
      return NOTHING;
    case "delivered":
      for (const id of record.ids) store.markDelivered(id, record.user);
      return NOTHING;
    case "user": {
      const key = nameKey(record.name);
      if (store.getUser(key) === undefined) {
        store.ensureUser(record.name, key, now);
      }
      return NOTHING;
    }
    case "public":
    case "private":
    case "group":
      break;
    default: {
      const unknown: never = record;
      throw new TypeError(`Unknown log record ${JSON.stringify(unknown)}`);
    }
  }
  if (seq <= store.lastMessageId()) return NOTHING;
  const at = { id: seq, seq };
  const fromKey = nameKey(record.from);
  if (record.cid !== undefined) {
    const first = store.sentWithClientId(fromKey, record.cid);
    if (first !== undefined) {
      return { ...NOTHING, repeated: { from: record.from, first: first.id } };
    }
  }
  const ensure = (name: string, key: string) => {
    if (store.getUser(key) === undefined) store.ensureUser(name, key, now);
  };
  ensure(record.from, fromKey);
  const common = {
    ts: record.ts,
    fromKey,
    fromName: record.from,
    body: record.body,
    ...(record.cid === undefined ? {} : { clientId: record.cid }),
    at,
  };
  const position = { id: seq, seq };
  switch (record.kind) {
    case "public": {
      store.appendPublic(common);
      return {
        out: [{
          to: { kind: "room", except: fromKey },
          message: {
            t: "public",
            from: record.from,
            ts: record.ts,
            ...position,
          },
          body: record.body,
        }],
        delivered: [],
      };
    }
    case "private": {
      const toKey = nameKey(record.to);
      ensure(record.to, toKey);
      const recipient = state.sessionByName(toKey);
      const delivered = recipient !== undefined && !recipient.acks;
      store.appendMessage({
        kind: "private",
        toKey,
        ...common,
        ...(record.e2e === undefined ? {} : { e2eFingerprint: record.e2e }),
        recipients: [{ userKey: toKey, delivered }],
      });
      if (recipient === undefined) return NOTHING;
      return {
        out: [{
          to: { kind: "user", key: toKey },
          message: record.e2e === undefined
            ? { t: "private", from: record.from, ts: record.ts, ...position }
            : {
              t: "e2e_private",
              from: record.from,
              fingerprint: record.e2e,
              ts: record.ts,
              ...position,
            },
          body: record.body,
        }],
        delivered: delivered ? [{ user: toKey, id: seq }] : [],
      };
    }
    case "group": {
      // Not known here yet (the groups bucket is behind): made empty, and
      // the bucket brings its members (the caller drops the change this
      // makes: it is not news to the cluster).
      const group = state.group(record.group) ??
        state.createGroup(record.group, record.from, record.ts);
      const groupKey = group.key;
      // Entitled: who the sender's node found in the group, the same on
      // every node, whatever this node's copy of the group says yet.
      const recipients: Recipient[] = record.members.map((name) => {
        const key = nameKey(name);
        ensure(name, key);
        return {
          userKey: key,
          delivered: state.sessionByName(key)?.acks === false,
        };
      }).filter((recipient) => recipient.userKey !== fromKey);
      store.appendMessage({
        kind: "group",
        groupKey,
        ...common,
        ...(record.e2e === undefined ? {} : { e2eFingerprint: record.e2e }),
        recipients,
      });
      const name = group.name;
      const message = record.e2e === undefined
        ? {
          t: "group",
          group: name,
          from: record.from,
          ts: record.ts,
          ...position,
        } as const
        : {
          t: "e2e_group",
          group: name,
          from: record.from,
          fingerprint: record.e2e,
          ts: record.ts,
          ...position,
        } as const;
      // Sent to the entitled signed in here: as one group message when this
      // node's copy of the group has the same ones online (the usual case),
      // else to each of them.
      const here = new Set(
        recipients
          .filter((recipient) => state.sessionByName(recipient.userKey))
          .map((recipient) => recipient.userKey),
      );
      const online = state.onlineMembers(group)
        .filter((session) => session.nameKey !== fromKey);
      const same = online.length === here.size &&
        online.every((session) => here.has(session.nameKey));
      const out: Outbound[] = same
        ? here.size === 0 ? [] : [{
          to: { kind: "group", key: group.key, except: fromKey },
          message,
          body: record.body,
        }]
        : [...here].map((key) => ({
          to: { kind: "user", key },
          message,
          body: record.body,
        }));
      return {
        out,
        delivered: recipients
          .filter((recipient) => recipient.delivered)
          .map((recipient) => ({ user: recipient.userKey, id: seq })),
      };
    }
  }
}
