/**
 * What the other nodes of a cluster (issue 19, cluster/node.ts) say,
 * carried out here: their messages are stored here and sent to this node's
 * users (never published again); their users' comings and goings are told
 * to this node's room unless the user is signed in here too; files run on
 * another node for a user here pass through the bridge (file_bridge.ts).
 */

import { FILE_CHUNK_TAG_BYTES, nameKey } from "../protocol/limits.ts";
import type { BusEvent } from "./cluster/bus_event.ts";
import type { ClusterPort } from "./cluster/port.ts";
import type { ClusterShare } from "./cluster_share.ts";
import { dismiss } from "./connection_end.ts";
import type { CoreParts } from "./core_parts.ts";
import { messageOf } from "../transport/secure_channel.ts";
import { applyLogRecord } from "./log_apply.ts";
import type { LogRecord } from "./cluster/log_record.ts";
import type { Outbound } from "./outbound.ts";
import { applyGroupRecord } from "./remote_groups.ts";
import { KEY_RELEASED } from "./released_keys.ts";
import type { PresenceChange } from "./remote_users.ts";
import { LOG_WAIT_MS, type SharedLog } from "./shared_log.ts";
import { AnswersInOrder } from "./answers_in_order.ts";
import { FilesInOrder } from "./files_in_order.ts";
import { dropRemoteRecipient, routeFileAnswer } from "./transfers.ts";

/**
 * Starts taking what the other nodes say, carried out on `core`; `share`
 * is what this node owes them.
 */
export function attachCluster(
  core: CoreParts,
  cluster: ClusterPort,
  shared: SharedLog,
  share: ClusterShare,
): void {
  const { state, writes, delivery, givenStore: store, bridge } = core;
  state.recordGroupChanges();
  const answers = new AnswersInOrder(cluster.log, LOG_WAIT_MS, core.log);
  const files = new FilesInOrder(cluster.log, LOG_WAIT_MS, core.log);
  cluster.attach({
    event: (event) => {
      if (event.kind === "signed_in") {
        // The same key signed in on another node: as on one server, the
        // newer session takes over (not an older one whose word came late).
        const stale = state.sessionByName(event.from);
        const channel = stale && core.connections.channels.get(stale.id);
        if (stale && channel && stale.connectedAt < event.ts) {
          dismiss(
            core,
            stale.id,
            channel,
            "you signed in from another place",
            "replaced",
          );
        }
        return;
      }
      if (event.kind === "file") {
        // Per transfer and recipient: an offer after what its sender said
        // before it, its chunks behind it.
        return files.add(
          `${event.node} ${event.message.xfer} ${event.from}`,
          event.after,
          event.body.byteLength,
          () => fileFromElsewhere(core, cluster, event),
          event.message.t === "file_cancel",
        );
      }
      if (event.kind === "file_answer") {
        return answers.add(event.after, () => answerFromElsewhere(core, event));
      }
      // Messages come through the log (logRecords below), in its order and
      // under its positions; the bus carries none of them any more.
    },
    logFrom: () => Math.max(store.lastMessageId(), store.logPosition()) + 1,
    logRecords: (records, last) => {
      share.shareGroupChanges();
      const now = Date.now();
      // Said once committed: a unit of work undone is applied again.
      let repeated: string[] = [];
      const applyOne = (seq: number, record: LogRecord) => {
        const one = applyLogRecord(state, store, seq, record, now);
        if (one.repeated !== undefined) {
          repeated.push(repeatedLine(seq, one.repeated));
        }
        return one;
      };
      const applyAll = () => {
        const out: Outbound[] = [];
        const delivered: { user: string; id: number }[] = [];
        for (const { seq, record } of records) {
          const one = applyOne(seq, record);
          out.push(...one.out);
          delivered.push(...one.delivered);
        }
        store.setLogPosition(last);
        return { out, delivered };
      };
      // One unit of work for the batch; if it fails, each record on its
      // own, so that one that cannot be applied costs only itself.
      let applied = writes.commit(applyAll, () => null);
      if (applied === null) {
        repeated = [];
        applied = { out: [], delivered: [] };
        for (const { seq, record } of records) {
          const said = repeated.length;
          const one = writes.commit(
            () => applyOne(seq, record),
            () => {
              repeated.length = said;
              return { out: [], delivered: [] };
            },
          );
          applied.out.push(...one.out);
          applied.delivered.push(...one.delivered);
        }
        writes.commit(() => store.setLogPosition(last), () => {});
      }
      for (const line of repeated) core.log(line);
      // A group made to hold a message is not news to the cluster.
      state.takeGroupChanges();
      delivery.deliver(applied.out);
      if (applied.delivered.length > 0) shared.delivered(applied.delivered);
    },
    group: (record, changes) => {
      share.shareGroupChanges();
      delivery.deliver(
        writes.commit(
          () => applyGroupRecord(state, record, Date.now(), changes),
          () => [],
        ),
      );
      // Made to match the cluster: nothing to tell it back.
      state.takeGroupChanges();
    },
    seen: (entry, user) => {
      announce(core, [state.remote.put(entry, user)]);
    },
    gone: (entry) => {
      announce(core, [state.remote.delete(entry)]);
    },
    addresses: (report) => core.addresses.charge(report),
    nameBound: (key, binding) => {
      // Another key took the name over (a release): a session of the old
      // key here ends now, not once the new key's sign-in is heard of, so
      // that it says and is sent as little as can be past the cut.
      const stale = state.sessionByName(key);
      const channel = stale && core.connections.channels.get(stale.id);
      if (
        stale && channel && stale.fingerprint !== null &&
        stale.fingerprint !== binding.fingerprint
      ) {
        dismiss(core, stale.id, channel, KEY_RELEASED);
      }
      core.identities.boundElsewhere?.(key, binding).catch((error) =>
        core.log(
          `cluster: this node's copy of a name's binding did not follow the cluster's: ${
            messageOf(error)
          }`,
        )
      );
    },
    nodeGone: (node) => {
      core.addresses.nodeGone(node);
      announce(core, state.remote.dropNode(node));
      // Files from its users stop where they are: resumable, as when a
      // sender here disconnects.
      for (const gone of bridge.dropNode(node)) {
        delivery.deliver([{
          to: [gone.conn],
          message: {
            t: "file_cancel",
            xfer: gone.local,
            reason: "the sender's server went away",
            resumable: true,
          },
        }]);
      }
    },
    sessions: () => state.sessions(),
  });
}

/**
 * A transfer run on another node, for a user here: passed on under an id
 * of this node's (file_bridge.ts). An offer for someone no longer here is
 * answered as by someone who left.
 */
function fileFromElsewhere(
  core: CoreParts,
  cluster: ClusterPort,
  event: Extract<BusEvent, { kind: "file" }>,
): void {
  const { state, delivery, log } = core;
  const { bridge } = core;
  const { message } = event;
  const user = state.sessionByName(event.from);
  if (user === undefined) {
    if (message.t === "file_offer") {
      cluster.fileAnswer(event.node, message.xfer, event.from, null);
    }
    return;
  }
  let bridged = bridge.fromRemote(event.node, message.xfer, user.id);
  if (message.t === "file_offer") {
    if (bridged !== undefined) return;
    bridged = bridge.open(
      event.node,
      message.xfer,
      user.id,
      state.transfers.reserveId(),
      message.size,
    );
  } else if (bridged === undefined) return;
  const check = message.t === "file_chunk"
    ? bridge.chunk(
      bridged,
      message.offset,
      event.body.byteLength - FILE_CHUNK_TAG_BYTES,
    )
    : message.t === "file_end"
    ? bridge.end(bridged)
    : null;
  if (check?.kind === "after_end") return;
  if (check?.kind === "lost") {
    // Lost on the way (core NATS is at most once): stopped for this user
    // as if their connection broke, so the sender offers it again and it
    // resumes from what they hold.
    log(
      `cluster: a chunk of a file from another node to ${event.from} was lost on the way (${
        message.t === "file_chunk"
          ? `one at ${message.offset} came`
          : "the end came"
      }, expected one at ${check.expected}): stopped, to be resumed`,
    );
    bridge.close(bridged);
    cluster.fileAnswer(event.node, message.xfer, event.from, null);
    delivery.deliver([{
      to: [user.id],
      message: {
        t: "file_cancel",
        xfer: bridged.local,
        reason: "part of the file was lost between the servers",
        resumable: true,
      },
    }]);
    return;
  }
  if (message.t === "file_cancel") bridge.close(bridged);
  delivery.deliver([{
    to: [user.id],
    message: { ...message, xfer: bridged.local },
    ...(message.t === "file_chunk" ? { body: event.body } : {}),
  }]);
}

/** What a recipient on another node says about a transfer run here. */
function answerFromElsewhere(
  core: CoreParts,
  event: Extract<BusEvent, { kind: "file_answer" }>,
): void {
  const { state, writes } = core;
  const standIn = state.remoteRecipients.byKey(nameKey(event.from));
  if (standIn === undefined) return;
  const party = { id: standIn, name: event.from };
  const { answer } = event;
  const now = Date.now();
  core.deliver(writes.commit(
    () =>
      answer === null
        ? dropRemoteRecipient(state, event.xfer, party, now)
        : routeFileAnswer(state, party, answer, now),
    () => [],
  ));
  core.fileSweeps.scheduleAnswers();
}

function announce(
  core: CoreParts,
  changes: readonly (PresenceChange | null)[],
): void {
  const { state } = core;
  for (const change of changes) {
    if (change !== null && !change.online) {
      dropStandIn(core, change.name);
    }
    if (change === null || state.isOnline(change.name)) continue;
    core.delivery.deliver([{
      to: { kind: "room" },
      message: { t: "presence", name: change.name, online: change.online },
    }]);
  }
}

/** A user elsewhere who went offline no longer receives files from here. */
function dropStandIn(core: CoreParts, name: string): void {
  const { state, writes } = core;
  const standIn = state.remoteRecipients.byKey(nameKey(name));
  if (standIn === undefined) return;
  const party = { id: standIn, name };
  const now = Date.now();
  for (const transfer of state.transfers.involving(standIn)) {
    core.deliver(writes.commit(
      () => dropRemoteRecipient(state, transfer.id, party, now),
      () => [],
    ));
  }
}

/**
 * What an operator reads of a message stored twice in the log: no fault of
 * the node's copy, and nothing for anyone to do.
 */
function repeatedLine(
  seq: number,
  { from, first }: { from: string; first: number },
): string {
  return `cluster: log record ${seq} is ${from}'s message ${first} again (sent again, same message id, while NATS was away, and stored a second time by JetStream, more than its 2-minute duplicate window after the first); kept once, as message ${first}`;
}
