// This module is browser compatible.

/**
 * What another node's bus event (cluster/bus_event.ts) means here: the
 * message is stored in this node's store, as if routed here, and sent to
 * this node's users under this store's id and seq. A client then only ever
 * sees positions of the store it acknowledges to, so "exactly once" holds
 * for it as on a single node; what the hop between nodes guarantees is in
 * docs/SCALING.md.
 *
 * Like the router it returns what to send and never sends it; its writes
 * happen inside the caller's unit of work (write_path.ts).
 */

import { nameKey } from "../protocol/limits.ts";
import type { Timestamp } from "../protocol/messages.ts";
import type { BusEvent } from "./cluster/bus_event.ts";
import { type Outbound, send } from "./outbound.ts";
import type { ServerState } from "./state.ts";

export function routeRemote(
  state: ServerState,
  event: BusEvent,
  now: Timestamp,
): Outbound[] {
  // Not a message: the edge ends a session it takes over, and passes files
  // on (serve.ts).
  if (
    event.kind === "signed_in" || event.kind === "file" ||
    event.kind === "file_answer"
  ) return [];
  const store = state.store;
  const fromKey = nameKey(event.from);
  // The sender may never have signed in here; the store keeps who wrote.
  if (state.sessionByName(fromKey) === undefined) {
    store.ensureUser(event.from, fromKey, now);
  }
  switch (event.kind) {
    case "public": {
      const position = store.appendPublic({
        ts: event.ts,
        fromKey,
        fromName: event.from,
        body: event.body,
      });
      return send(
        { kind: "room", except: fromKey },
        {
          t: "public",
          from: event.from,
          ts: event.ts,
          id: position.id,
          seq: position.seq,
        },
        event.body,
      );
    }
    case "private":
    case "e2e_private": {
      const recipient = state.sessionByName(event.to);
      // Signed in here when the other node sent it; if they left since, it
      // waits for them here (known: they signed in here to be sent it).
      const known = recipient?.name ?? state.store.getUser(event.to)?.name;
      if (known === undefined) return [];
      const position = store.appendMessage({
        kind: "private",
        toKey: event.to,
        ts: event.ts,
        fromKey,
        fromName: event.from,
        body: event.body,
        ...(event.kind === "e2e_private"
          ? { e2eFingerprint: event.fingerprint }
          : {}),
        recipients: [{
          userKey: event.to,
          delivered: recipient !== undefined && !recipient.acks,
        }],
      });
      if (recipient === undefined) return [];
      const common = {
        from: event.from,
        ts: event.ts,
        id: position.id,
        seq: position.seq,
      };
      return send(
        { kind: "user", key: event.to },
        event.kind === "e2e_private"
          ? { t: "e2e_private", fingerprint: event.fingerprint, ...common }
          : { t: "private", ...common },
        event.body,
      );
    }
    case "group":
    case "e2e_group": {
      const group = state.group(event.group);
      // Not known here yet (the groups bucket is behind): its members here
      // are not known either.
      if (group === undefined) return [];
      const position = store.appendMessage({
        kind: "group",
        groupKey: group.key,
        ts: event.ts,
        fromKey,
        fromName: event.from,
        body: event.body,
        ...(event.kind === "e2e_group"
          ? { e2eFingerprint: event.fingerprint }
          : {}),
        // Owed here only to members signed in here: the sender's node owes
        // it to those offline everywhere, other nodes to theirs.
        recipients: state.onlineMembers(group)
          .filter((member) => member.nameKey !== fromKey)
          .map((member) => ({
            userKey: member.nameKey,
            delivered: !member.acks,
          })),
      });
      const common = {
        group: group.name,
        from: event.from,
        ts: event.ts,
        id: position.id,
        seq: position.seq,
      };
      return send(
        { kind: "group", key: group.key, except: fromKey },
        event.kind === "e2e_group"
          ? { t: "e2e_group", fingerprint: event.fingerprint, ...common }
          : { t: "group", ...common },
        event.body,
      );
    }
    default: {
      const unknown: never = event;
      throw new TypeError(`Unknown bus event ${JSON.stringify(unknown)}`);
    }
  }
}
