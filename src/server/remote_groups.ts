// This module is browser compatible.

/**
 * A group as the cluster's groups bucket has it (cluster/group_record.ts),
 * made so here: the group created if this node did not know it, members
 * added and removed to match, and this node's online members told who
 * joined or left, as the router tells them for changes made here: from the
 * record's journal of changes made elsewhere since the last record seen
 * here (`changes`), each one, even of someone who joined and left between
 * two records; from the difference alone when the journal does not reach
 * back that far (null).
 *
 * The node's limits (groups, members per group) are not checked: the node
 * where the change was made checked its own.
 */

import { nameKey } from "../protocol/limits.ts";
import type { Timestamp } from "../protocol/messages.ts";
import type { GroupRecord, MemberChange } from "./cluster/group_record.ts";
import { type Outbound, send } from "./outbound.ts";
import type { ServerState } from "./state.ts";

export function applyGroupRecord(
  state: ServerState,
  record: GroupRecord,
  now: Timestamp,
  changes: readonly MemberChange[] | null = null,
): Outbound[] {
  const store = state.store;
  let group = state.group(record.name);
  if (group === undefined) {
    group = state.createGroup(record.name, record.createdBy, record.createdAt);
  }
  const out: Outbound[] = [];
  const wanted = new Set(record.members.map((member) => nameKey(member)));
  for (const [key, name] of [...group.members]) {
    if (wanted.has(key)) continue;
    state.removeMember(group, name, now);
    if (changes === null) {
      out.push(...membership(group.key, group.name, name, false));
    }
  }
  for (const member of record.members) {
    if (state.isMember(group, member)) continue;
    store.ensureUser(member, nameKey(member), now);
    state.addMember(group, member, now);
    if (changes === null) {
      out.push(...membership(group.key, group.name, member, true));
    }
  }
  for (const change of changes ?? []) {
    out.push(
      ...membership(group.key, group.name, change.member, change.joined),
    );
  }
  return out;
}

function membership(
  key: string,
  group: string,
  name: string,
  joined: boolean,
): Outbound[] {
  return send(
    { kind: "group", key, except: nameKey(name) },
    { t: "membership", group, name, joined },
  );
}
