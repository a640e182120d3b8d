// This module is browser compatible.

/**
 * File transfers as the server relays them: an offer names the recipients,
 * each of whom must accept it (or is counted as declined after a timeout)
 * before the sender hears `file_ready`; chunks are then forwarded in order to
 * those who accepted and are still receiving, acknowledgements flow back as
 * progress (the slowest recipient's), and each recipient's verdict reaches
 * the sender. Like the router, this returns what to send and
 * never reads chunk bodies beyond their length, so files can become
 * end-to-end encrypted without changing it.
 */

import {
  FILE_ACK_BYTES,
  FILE_CHUNK_TAG_BYTES,
  FILE_WINDOW_BYTES,
  MAX_DECLINED_REASON_CHARS,
  MAX_FILE_CHUNK_BYTES,
  SHA256_HEX_PATTERN,
} from "../protocol/limits.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import { MAX_HEADER_BYTES, nameKey } from "../protocol/limits.ts";
import { fail, notMember, type Outbound } from "./outbound.ts";
import type { ConnId, Session } from "./session.ts";
import type { ServerState } from "./state.ts";
import type { Recipient, Transfer } from "./transfer_table.ts";

// Kept in its own module so that ServerState can hold one without importing
// this router part (no import cycles); re-exported for those who knew it here.
export { TransferTable } from "./transfer_table.ts";

type FileMessage = Extract<ClientMessage, { t: `file_${string}` }>;

/** What a recipient says about a transfer. */
export type FileAnswer = Extract<
  FileMessage,
  {
    t:
      | "file_accept"
      | "file_decline"
      | "file_ack"
      | "file_done"
      | "file_cancel";
  }
>;

/** Who a recipient is: a connection here, or a stand-in for a user elsewhere. */
type Party = Pick<Session, "id" | "name">;

/** Someone a file is offered to. */
type Offered = Pick<Session, "id" | "name" | "nameKey">;

/** A sender may run ahead of its slowest recipient by this much before it is cut off. */
const WINDOW_TOLERANCE_BYTES = 2 * FILE_WINDOW_BYTES + MAX_FILE_CHUNK_BYTES;

/** Longest file name the server passes along (receivers shorten it further). */
const MAX_FILE_NAME_CHARS = 1024;

/**
 * Longest `reason` of a `file_cancel` to a client (docs/PROTOCOL.md 5.6): a
 * client takes a longer one as the server breaking the protocol, and closes.
 */
const MAX_REASON_CHARS = 1024;

/** Handles a file_* message from a registered user. */
export function routeFile(
  state: ServerState,
  session: Session,
  message: FileMessage,
  body: Uint8Array,
  now: number,
): Outbound[] {
  switch (message.t) {
    case "file_offer":
      return offer(state, session, message, now);
    case "file_chunk":
      return chunk(state, session, message.xfer, message.offset, body, now);
    case "file_end":
      return end(state, session, message, now);
    case "file_ack":
    case "file_done":
    case "file_cancel":
    case "file_accept":
    case "file_decline":
      return routeFileAnswer(state, session, message, now);
    default: {
      const unreachable: never = message;
      return unreachable;
    }
  }
}

/**
 * A recipient's answer about a transfer: from a connection here, or from a
 * user on another node of a cluster under their stand-in id
 * (remote_recipients.ts), passed on by their node.
 */
export function routeFileAnswer(
  state: ServerState,
  party: Party,
  message: FileAnswer,
  now: number,
): Outbound[] {
  switch (message.t) {
    case "file_ack":
      return ack(state, party, message.xfer, message.received, now);
    case "file_done":
      return done(
        state,
        party,
        message.xfer,
        message.ok,
        message.reason,
        now,
      );
    case "file_cancel":
      return message.offer === undefined
        ? cancel(state, party, message.xfer, message.reason, now)
        : withdraw(state, party, message.offer, message.reason, now);
    case "file_accept":
      return accept(state, party, message, now);
    case "file_decline":
      return cancel(state, party, message.xfer, DECLINED, now);
    default: {
      const unreachable: never = message;
      return unreachable;
    }
  }
}

/**
 * A recipient on another node is gone (signed out, or its node stopped
 * answering) from transfer `xfer`, or was not there when the offer came
 * (their node listed them a moment longer): as for a connection that closed.
 */
export function dropRemoteRecipient(
  state: ServerState,
  xfer: number,
  party: Party,
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(xfer);
  if (transfer === undefined || !transfer.recipients.has(party.id)) return [];
  return transfer.answerBy !== null
    ? goneBeforeAnswer(state, transfer, party.id, now)
    : removeRecipient(
      state,
      transfer,
      party.id,
      false,
      `${party.name} disconnected`,
      now,
      true,
    );
}

/** Reasons the sender's reply gives for a recipient that did not take the file. */
const DECLINED = "declined";
/** The reason a person's `/cancel` gives (file_sender.ts, file_receiver.ts). */
const CANCELLED = "cancelled";
const NO_ANSWER = "did not answer";

/**
 * Decliners named in the error text when nobody accepted: clients take at
 * most 4096 characters of `text`.
 */
const MAX_DECLINED_NAMED = 20;

/**
 * Time is up for offers whose recipients have not all answered: those who
 * have not are counted as declined (and told), and the senders get their
 * reply. Called by the edge at {@linkcode TransferTable.nextAnswerDeadline}.
 */
export function expireAnswers(state: ServerState, now: number): Outbound[] {
  const out: Outbound[] = [];
  for (const transfer of state.transfers.expired(now)) {
    const silent = [...transfer.recipients].filter(([, r]) => !r.accepted);
    for (const [id, recipient] of silent) {
      transfer.recipients.delete(id);
      noteDeclined(transfer, recipient.name, NO_ANSWER);
    }
    if (silent.length > 0) {
      out.push({
        to: silent.map(([id]) => id),
        message: {
          t: "file_cancel",
          xfer: transfer.id,
          reason: "you did not answer in time",
        },
      });
    }
    out.push(...answered(state, transfer, now));
  }
  return out;
}

/**
 * Recipients that accepted a file and then stopped taking it: silent for
 * `fileStallMs` while they owe the sender something (`owes`) are dropped
 * from the transfer, told so, and the sender hears it was cut short
 * (resumable). The slowest recipient paces everyone: without this, one
 * member that accepted and went quiet held a group file for every other
 * member, and the sender waited for ever (found in review).
 */
export function expireStalled(state: ServerState, now: number): Outbound[] {
  const out: Outbound[] = [];
  for (const transfer of state.transfers.running()) {
    if (transfer.answerBy !== null) continue;
    for (const [id, recipient] of [...transfer.recipients]) {
      const quiet = now - (recipient.quietSince ?? now);
      if (
        !owes(recipient, transfer.sent, transfer.size, transfer.ended) ||
        quiet <= state.limits.fileStallMs
      ) continue;
      out.push({
        to: [id],
        message: {
          t: "file_cancel",
          xfer: transfer.id,
          reason: "you stopped taking the file",
        },
      });
      out.push(
        ...removeRecipient(
          state,
          transfer,
          id,
          false,
          `${recipient.name} stopped taking the file`,
          now,
          true,
        ),
      );
    }
  }
  return out;
}

/**
 * Whether `recipient` owes the sender something once `sent` bytes of `size`
 * were sent (and the end, when `ended`): an acknowledgement, as it
 * acknowledges at least every FILE_ACK_BYTES written and when it has the
 * whole file (docs/PROTOCOL.md 5.6), or its verdict after the end. With
 * less than FILE_ACK_BYTES sent past its last acknowledgement it owes
 * nothing: a sender that is slow to send is not a recipient that went
 * quiet (a loaded machine had both members of a group file dropped as
 * stalled, when the first chunk had come 0.9 s after file_ready).
 */
function owes(
  recipient: Recipient,
  sent: number,
  size: number,
  ended: boolean,
): boolean {
  const unacknowledged = sent - recipient.acked;
  return ended || unacknowledged >= FILE_ACK_BYTES ||
    (unacknowledged > 0 && sent === size);
}

/**
 * Starts the stall clock of each recipient that owed the sender nothing
 * before this chunk or end (`sentBefore` bytes sent, `endedBefore`) and
 * owes now: its silence counts from here, not from its last acknowledgement,
 * which may be long past when the sender was slow.
 */
function startStallClocks(
  transfer: Transfer,
  sentBefore: number,
  endedBefore: boolean,
  now: number,
): void {
  const { sent, size, ended } = transfer;
  for (const recipient of transfer.recipients.values()) {
    if (
      !owes(recipient, sentBefore, size, endedBefore) &&
      owes(recipient, sent, size, ended)
    ) {
      recipient.quietSince = now;
      recipient.quietAcked = recipient.acked;
    }
  }
}

/** A connection is gone: its transfers end, and senders hear about it. */
export function dropTransfers(
  state: ServerState,
  id: ConnId,
  name: string,
  now: number,
): Outbound[] {
  const out: Outbound[] = [];
  for (const transfer of state.transfers.involving(id)) {
    if (transfer.sender === id) {
      out.push(
        ...abandon(state, transfer, `${name} disconnected`, now, true),
      );
    } else if (transfer.answerBy !== null) {
      out.push(...goneBeforeAnswer(state, transfer, id, now));
    } else {
      out.push(
        ...removeRecipient(
          state,
          transfer,
          id,
          false,
          `${name} disconnected`,
          now,
          true,
        ),
      );
    }
  }
  return out;
}

function offer(
  state: ServerState,
  session: Session,
  message: Extract<FileMessage, { t: "file_offer" }>,
  now: number,
): Outbound[] {
  const re = message.id;
  const { maxFileBytes, maxTransfersPerUser } = state.limits;
  if (message.name.length === 0 || message.name.length > MAX_FILE_NAME_CHARS) {
    return fail(session.id, re, "bad_request", "ERROR: Bad file name");
  }
  if (message.size > maxFileBytes) {
    return fail(
      session.id,
      re,
      "too_large",
      `ERROR: The file is too large (${message.size} bytes; this server accepts at most ${maxFileBytes})`,
    );
  }
  if (state.transfers.countBySender(session.id) >= maxTransfersPerUser) {
    return fail(
      session.id,
      re,
      "limit",
      `ERROR: You already have ${maxTransfersPerUser} transfers running; wait for one to finish`,
    );
  }
  let recipients: Offered[];
  let group: string | undefined;
  if ("to" in message) {
    const target = state.sessionByName(message.to) ??
      elsewhere(state, nameKey(message.to));
    if (target === undefined) {
      return fail(
        session.id,
        re,
        "no_such_user",
        `ERROR: User '${printable(message.to)}' is not online.`,
      );
    }
    if (target.id === session.id) {
      return fail(
        session.id,
        re,
        "bad_request",
        "ERROR: You cannot send a file to yourself",
      );
    }
    recipients = [target];
  } else {
    const found = state.group(message.group);
    if (found === undefined) {
      return fail(
        session.id,
        re,
        "no_such_group",
        `ERROR: Group '${printable(message.group)}' does not exist.`,
      );
    }
    if (!state.isMember(found, session.name)) {
      return notMember(session.id, re, found);
    }
    recipients = state.onlineMembers(found).filter((s) => s.id !== session.id);
    if (state.remote.size > 0) {
      for (const key of found.members.keys()) {
        if (state.sessionByName(key) !== undefined) continue;
        const other = elsewhere(state, key);
        if (other !== undefined) recipients.push(other);
      }
    }
    if (recipients.length === 0) {
      return fail(
        session.id,
        re,
        "no_such_user",
        `ERROR: Nobody else in group '${found.name}' is online.`,
      );
    }
    group = found.name;
  }
  const transfer = state.transfers.add({
    sender: session.id,
    senderName: session.name,
    re,
    fileName: message.name,
    group,
    answerBy: now + state.limits.fileAnswerMs,
    declined: [],
    size: message.size,
    sent: 0,
    key: message.key,
    keyId: message.key_id,
    sha256: message.sha256,
    ended: false,
    recipients: new Map(
      recipients.map((
        r,
      ) => [r.id, { name: r.name, acked: 0, accepted: false }]),
    ),
    reported: 0,
    outcomes: [],
  });
  const first = recipients[0]!;
  if (group === undefined && first.id < 0) {
    // On another node: this store may never have seen them.
    state.store.ensureUser(first.name, first.nameKey, now);
  }
  // The record keeps who sent what to whom, never the file itself.
  state.store.recordTransfer({
    id: transfer.id,
    fromKey: session.nameKey,
    name: message.name,
    size: message.size,
    startedAt: now,
    ...(group === undefined
      ? { toKey: first.nameKey }
      : { groupKey: state.group(group)!.key }),
  });
  const notice: ServerMessage = {
    t: "file_offer",
    xfer: transfer.id,
    from: session.name,
    ...(group === undefined ? {} : { group }),
    name: message.name,
    size: message.size,
    ...(session.fingerprint === null
      ? {}
      : { fingerprint: session.fingerprint }),
    timeout: state.limits.fileAnswerMs,
    ...(transfer.key === undefined ? {} : { key: transfer.key }),
    ...(transfer.keyId === undefined ? {} : { key_id: transfer.keyId }),
    ...(transfer.sha256 === undefined ? {} : { sha256: transfer.sha256 }),
  };
  // The sender's reply waits for the answers (see answered).
  return [{ to: recipients.map((r) => r.id), message: notice }];
}

/**
 * A user signed in on another node of a cluster, as a recipient here (under
 * a stand-in id); undefined when they are not.
 */
function elsewhere(state: ServerState, key: string): Offered | undefined {
  const user = state.remote.size > 0 ? state.remote.get(key) : undefined;
  if (user === undefined) return undefined;
  return {
    id: state.remoteRecipients.idOf(user.name, user.nameKey),
    name: user.name,
    nameKey: user.nameKey,
  };
}

/** A recipient said yes: the offer may now be ready for the sender. */
function accept(
  state: ServerState,
  session: Party,
  message: Extract<FileMessage, { t: "file_accept" }>,
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(message.xfer);
  const recipient = transfer?.recipients.get(session.id);
  if (
    transfer === undefined || recipient === undefined ||
    transfer.answerBy === null
  ) return [];
  recipient.accepted = true;
  // A claim that cannot be true is not passed on: that recipient starts at 0.
  const { offset, sha256 } = message;
  if (
    offset !== undefined && sha256 !== undefined && offset > 0 &&
    offset <= transfer.size && SHA256_HEX_PATTERN.test(sha256)
  ) recipient.claim = { offset, sha256 };
  return answered(state, transfer, now);
}

/**
 * Recipient `id` of an offer not answered yet is gone (its connection
 * closed, it signed out elsewhere, its node died) or was never reached (its
 * node listed it a moment after it left). A file for one user is then
 * refused as one for a user who is not online (`no_such_user`, the same
 * text), which is what it turned out to be: a client offering a broken
 * transfer again tries later, as when they were already away, rather than
 * give the file up as declined. In a group, that member declined as
 * `disconnected`, and the others' answers decide.
 */
function goneBeforeAnswer(
  state: ServerState,
  transfer: Transfer,
  id: ConnId,
  now: number,
): Outbound[] {
  const recipient = transfer.recipients.get(id);
  if (recipient === undefined) return [];
  if (transfer.group !== undefined) {
    return decline(state, transfer, id, "disconnected", now);
  }
  transfer.recipients.delete(id);
  transfer.answerBy = null;
  transfer.outcomes.push(`${recipient.name}: disconnected`);
  finish(state, transfer, transfer.outcomes.join("; "), now);
  if (state.session(transfer.sender) === undefined) return [];
  return fail(
    transfer.sender,
    transfer.re,
    "no_such_user",
    `ERROR: User '${printable(recipient.name)}' is not online.`,
  );
}

/** A recipient that has not started receiving says no (or is gone). */
function decline(
  state: ServerState,
  transfer: Transfer,
  id: ConnId,
  reason: string,
  now: number,
): Outbound[] {
  const recipient = transfer.recipients.get(id);
  if (recipient === undefined) return [];
  transfer.recipients.delete(id);
  noteDeclined(
    transfer,
    recipient.name,
    printable(reason, MAX_DECLINED_REASON_CHARS),
  );
  return answered(state, transfer, now);
}

function noteDeclined(transfer: Transfer, name: string, reason: string): void {
  transfer.declined.push({ name, reason });
  transfer.outcomes.push(`${name}: ${reason}`);
}

/**
 * Once every recipient has answered (or was counted out), replies to the
 * sender's offer: `file_ready` naming those who accepted, or, when nobody
 * did, an error and the transfer is over. Waiting for every answer rather
 * than starting with the first "yes" means no recipient joins late, so none
 * misses a chunk and none needs chunks kept for it.
 */
function answered(
  state: ServerState,
  transfer: Transfer,
  now: number,
): Outbound[] {
  if (transfer.answerBy === null) return [];
  for (const recipient of transfer.recipients.values()) {
    if (!recipient.accepted) return [];
  }
  transfer.answerBy = null;
  const senderOnline = state.session(transfer.sender) !== undefined;
  if (transfer.recipients.size === 0) {
    finish(state, transfer, transfer.outcomes.join("; "), now);
    if (!senderOnline) return [];
    return fail(
      transfer.sender,
      transfer.re,
      "declined",
      nobodyAccepted(transfer),
    );
  }
  if (!senderOnline) return [];
  return [{
    to: [transfer.sender],
    message: fileReady(
      transfer.re,
      transfer.id,
      [...transfer.recipients.values()],
      transfer.declined,
    ),
  }];
}

/**
 * The `file_ready` header, within MAX_READY_BYTES whatever the number of
 * recipients: the names of those who accepted and their resume claims
 * (about 180 bytes of JSON each) passed 256 KiB on their own with about
 * 1450 of them, a group limit a host may set, and the reply could not be
 * encoded. First all names with all claims; if they do not fit, the claims
 * go (the sender then starts at 0, which the server always allows and
 * every recipient follows, as with an older server); if the names alone do
 * not fit, the first that do, the others counted in `accepted_more`. The
 * decliners take what room is left (`declinedWithin`).
 */
export function fileReady(
  re: number,
  xfer: number,
  recipients: { name: string; claim?: { offset: number; sha256: string } }[],
  declined: { name: string; reason: string }[],
): ServerMessage {
  const names = recipients.map((r) => r.name);
  const resume = recipients.flatMap((r) =>
    r.claim === undefined ? [] : [{ name: r.name, ...r.claim }]
  );
  const base = { t: "file_ready" as const, re, xfer };
  // Room for `"declined":[],` and `"declined_more":<count>,` as before, and
  // for `"accepted_more":<count>,`.
  const room = MAX_READY_BYTES - 64 - 32;
  let ready: ServerMessage = {
    ...base,
    recipients: names,
    ...(resume.length === 0 ? {} : { resume }),
  };
  if (utf8Length(JSON.stringify(ready)) > room) {
    let bytes = utf8Length(JSON.stringify({ ...base, recipients: [] }));
    let count = 0;
    for (const name of names) {
      // Each name, quoted, and the comma after it.
      bytes += utf8Length(JSON.stringify(name)) + 1;
      if (bytes > room) break;
      count++;
    }
    const more = names.length - count;
    ready = {
      ...base,
      recipients: names.slice(0, count),
      ...(more === 0 ? {} : { accepted_more: more }),
    };
  }
  return { ...ready, ...declinedWithin(ready, declined) };
}

/**
 * The most bytes of JSON a `file_ready` header takes with its `declined`
 * list: the header must stay within MAX_HEADER_BYTES, or it cannot be
 * encoded and the sender never hears. Each decliner's reason is up to 100
 * printable characters, and one of quotes is 200 bytes of JSON: 998 such
 * decliners (a group of 1000) were already 255.6 KB of the 256 KiB, and a
 * larger group would not fit at all.
 */
const MAX_READY_BYTES = MAX_HEADER_BYTES - 1024;

/**
 * The first of `declined` that fit in `ready` within MAX_READY_BYTES (all
 * of them, as ever, when they fit), and how many were left out
 * (`declined_more`).
 */
function declinedWithin(
  ready: ServerMessage,
  declined: { name: string; reason: string }[],
): { declined?: { name: string; reason: string }[]; declined_more?: number } {
  if (declined.length === 0) return {};
  // The header without the list, and room for `"declined":[],` and
  // `"declined_more":<count>,`.
  let bytes = utf8Length(JSON.stringify(ready)) + 64;
  let count = 0;
  for (const entry of declined) {
    // Each entry and the comma after it.
    bytes += utf8Length(JSON.stringify(entry)) + 1;
    if (bytes > MAX_READY_BYTES) break;
    count++;
  }
  const more = declined.length - count;
  return {
    ...(count === 0 ? {} : { declined: declined.slice(0, count) }),
    ...(more === 0 ? {} : { declined_more: more }),
  };
}

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/** The error text when no recipient took the file. */
function nobodyAccepted(transfer: Transfer): string {
  const file = printable(transfer.fileName);
  const only = transfer.declined[0];
  if (transfer.group === undefined && only !== undefined) {
    // The same words the reference client uses for a group's decliners.
    return only.reason === DECLINED
      ? `ERROR: ${only.name} declined ${file}`
      : only.reason === NO_ANSWER
      ? `ERROR: ${only.name} did not answer about ${file}`
      : `ERROR: ${file} was not sent to ${only.name}: ${only.reason}`;
  }
  const why = transfer.declined.slice(0, MAX_DECLINED_NAMED).map((
    { name, reason },
  ) =>
    reason === DECLINED || reason === NO_ANSWER
      ? `${name} ${reason}`
      : `${name}: ${reason}`
  );
  const more = transfer.declined.length - why.length;
  if (more > 0) why.push(`and ${more} more`);
  return `ERROR: Nobody in group '${transfer.group}' accepted ${file} (${
    why.join("; ")
  })`;
}

function chunk(
  state: ServerState,
  session: Session,
  xfer: number,
  offset: number,
  body: Uint8Array,
  now: number,
): Outbound[] {
  const transfer = takingChunks(state, xfer, session.id);
  if (transfer === null) return [];
  if (transfer.ended) {
    return abandon(state, transfer, "data after the end of the file", now);
  }
  if (!transfer.started && !begin(transfer, offset)) {
    return abandon(
      state,
      transfer,
      `first chunk at offset ${offset}, past what a recipient holds (${
        lowestClaim(transfer)
      })`,
      now,
    );
  }
  const fault = chunkFault(transfer, offset, body.byteLength);
  if (fault !== null) return abandon(state, transfer, fault, now);
  const sentBefore = transfer.sent;
  transfer.sent += body.byteLength - FILE_CHUNK_TAG_BYTES;
  startStallClocks(transfer, sentBefore, false, now);
  return [{
    to: [...transfer.recipients.keys()],
    message: { t: "file_chunk", xfer, offset },
    body,
  }];
}

/**
 * Whether routing this `file_chunk` from connection `from` leaves the store
 * alone: the chunk is relayed as it is (or dropped quietly), its transfer
 * neither starts nor ends with it. Such a chunk needs no transaction, which
 * would cost the server's thread a good part of what relaying the chunk
 * costs (8,192 chunks a GiB). False when it may write:
 * the first chunk, or one that abandons the transfer (recorded in the store).
 */
export function chunkWritesNothing(
  state: ServerState,
  from: ConnId,
  message: { xfer: number; offset: number },
  body: Uint8Array,
): boolean {
  const transfer = takingChunks(state, message.xfer, from);
  if (transfer === null) return true;
  return transfer.started === true && !transfer.ended &&
    chunkFault(transfer, message.offset, body.byteLength) === null;
}

/**
 * The transfer `xfer` if connection `from` may send chunks of it now, else
 * null: the chunk is dropped quietly. Chunks still in flight after a transfer
 * ended are, and so are chunks for an offer not yet answered (the sender
 * cannot know its number; nothing reaches a recipient who has not accepted).
 */
function takingChunks(
  state: ServerState,
  xfer: number,
  from: ConnId,
): Transfer | null {
  const transfer = state.transfers.get(xfer);
  return transfer === undefined || transfer.sender !== from ||
      transfer.answerBy !== null
    ? null
    : transfer;
}

/**
 * Why a chunk of a started transfer cannot be relayed (the transfer is
 * abandoned for it), or null. `sealedBytes`: the body, which is the chunk
 * sealed with the file key, which the server does not use: it counts the
 * file's bytes, the body less the tag.
 */
function chunkFault(
  transfer: Transfer,
  offset: number,
  sealedBytes: number,
): string | null {
  if (offset !== transfer.sent) {
    return `chunk at offset ${offset}, expected ${transfer.sent}`;
  }
  const bytes = sealedBytes - FILE_CHUNK_TAG_BYTES;
  if (bytes <= 0 || bytes > MAX_FILE_CHUNK_BYTES) return "bad chunk size";
  if (transfer.sent + bytes > transfer.size) {
    return "more bytes than the declared size";
  }
  if (transfer.sent + bytes - slowest(transfer) > WINDOW_TOLERANCE_BYTES) {
    return "the sender ignored flow control";
  }
  return null;
}

function end(
  state: ServerState,
  session: Session,
  { xfer, sha256, sig }: { xfer: number; sha256: string; sig?: string },
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(xfer);
  if (
    transfer === undefined || transfer.sender !== session.id ||
    transfer.ended || transfer.answerBy !== null
  ) return [];
  // Every recipient already holds the whole file: nothing to send but the end.
  if (!transfer.started) begin(transfer, transfer.size);
  if (transfer.sent !== transfer.size) {
    return abandon(
      state,
      transfer,
      `truncated: ${transfer.sent} of ${transfer.size} bytes sent`,
      now,
    );
  }
  if (!SHA256_HEX_PATTERN.test(sha256)) {
    return abandon(state, transfer, "bad checksum format", now);
  }
  transfer.ended = true;
  startStallClocks(transfer, transfer.sent, false, now);
  return [{
    to: [...transfer.recipients.keys()],
    // The signature is the members' to check (11.10): passed on as it is.
    message: {
      t: "file_end",
      xfer,
      sha256,
      ...(sig === undefined ? {} : { sig }),
    },
  }];
}

function ack(
  state: ServerState,
  session: Party,
  xfer: number,
  received: number,
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(xfer);
  const recipient = transfer?.recipients.get(session.id);
  if (transfer === undefined || recipient === undefined) return [];
  // Acknowledgements only move forward and never past what was sent.
  if (received <= recipient.acked || received > transfer.sent) return [];
  const from = recipient.quietAcked ?? recipient.acked;
  recipient.acked = received;
  // Its silence ends only with progress: an honest recipient acknowledges
  // every FILE_ACK_BYTES written and all it has at the end. Any ack that
  // moved the count restarted the clock before, so a member acknowledging
  // 16 KiB a second (even a byte a minute) stayed in a group file for ever,
  // and the slowest recipient paces everyone: the file stopped at the window
  // for every member, and its sender's place and transfer were held for good.
  if (received - from >= FILE_ACK_BYTES || received === transfer.sent) {
    recipient.quietSince = now;
    recipient.quietAcked = received;
  }
  return progress(transfer);
}

function done(
  state: ServerState,
  session: Party,
  xfer: number,
  ok: boolean,
  reason: string,
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(xfer);
  if (transfer === undefined || !transfer.recipients.has(session.id)) return [];
  if (transfer.answerBy !== null) {
    return decline(state, transfer, session.id, ok ? DECLINED : reason, now);
  }
  // Success is only believable once the whole file went through.
  const verified = ok && transfer.ended;
  return removeRecipient(
    state,
    transfer,
    session.id,
    verified,
    verified ? "" : ok ? "reported success before the end of the file" : reason,
    now,
  );
}

function cancel(
  state: ServerState,
  session: Party,
  xfer: number,
  reason: string,
  now: number,
): Outbound[] {
  const transfer = state.transfers.get(xfer);
  if (transfer === undefined) return [];
  if (transfer.sender === session.id) {
    // A person's /cancel gives the bare word: "sophia cancelled:
    // cancelled" said it twice.
    return abandon(
      state,
      transfer,
      reason === CANCELLED
        ? `${session.name} cancelled it`
        : `${session.name} cancelled: ${reason}`,
      now,
    );
  }
  if (transfer.recipients.has(session.id)) {
    // Before the sender's reply, giving up is declining.
    return transfer.answerBy !== null
      ? decline(state, transfer, session.id, reason, now)
      : removeRecipient(state, transfer, session.id, false, reason, now);
  }
  return [];
}

/**
 * The sender takes back the offer it made with request id `offer`: before
 * the reply it does not know the transfer's number, and a user who picked
 * the wrong file or person should not wait up to a minute and a half for
 * the answers to stop it. Before the reply the recipients are told it was
 * withdrawn (their clients drop the question) and the offer is answered
 * with the error `withdrawn`; after it, as any cancel by the sender.
 */
function withdraw(
  state: ServerState,
  session: Party,
  offer: number,
  reason: string,
  now: number,
): Outbound[] {
  const transfer = state.transfers.offeredAs(session.id, offer);
  if (transfer === undefined) return [];
  if (transfer.answerBy === null) {
    return cancel(state, session, transfer.id, reason, now);
  }
  return abandon(
    state,
    transfer,
    `${session.name} took back the offer`,
    now,
    false,
    true,
  );
}

/** Ends a whole transfer: every remaining recipient and the sender are told why. */
function abandon(
  state: ServerState,
  transfer: Transfer,
  reason: string,
  now: number,
  resumable = false,
  withdrawn = false,
): Outbound[] {
  // A sender's own reason (1024 characters) comes after its name here: cut,
  // or every recipient's client would hang up on the server.
  reason = clip(reason, MAX_REASON_CHARS);
  finish(state, transfer, `stopped: ${reason}`, now);
  const out: Outbound[] = [];
  const recipients = [...transfer.recipients.keys()];
  if (recipients.length > 0) {
    out.push({
      to: recipients,
      message: {
        t: "file_cancel",
        xfer: transfer.id,
        reason,
        ...(resumable ? { resumable: true as const } : {}),
        ...(withdrawn ? { withdrawn: true as const } : {}),
      },
    });
  }
  if (state.session(transfer.sender) === undefined) return out;
  // Before its reply the sender does not know the transfer: the reply says it.
  out.push(
    transfer.answerBy === null
      ? {
        to: [transfer.sender],
        message: { t: "file_cancel", xfer: transfer.id, reason },
      }
      : {
        to: [transfer.sender],
        message: {
          t: "error",
          re: transfer.re,
          // Taken back by the sender itself, whose client knows: a code of
          // its own, not a request the server could not understand.
          code: withdrawn ? "withdrawn" : "bad_request",
          text: `ERROR: Sending ${printable(transfer.fileName)} stopped: ${
            printable(reason, 300)
          }`,
        },
      },
  );
  return out;
}

function removeRecipient(
  state: ServerState,
  transfer: Transfer,
  id: ConnId,
  ok: boolean,
  reason: string,
  now: number,
  resumable = false,
): Outbound[] {
  const recipient = transfer.recipients.get(id);
  if (recipient === undefined) return [];
  transfer.recipients.delete(id);
  // The recipient's own words, cut: they go to the sender and the store.
  const shown = printable(reason, 300);
  // Every caller is the recipient itself or a connection that is gone, so only
  // the sender needs telling.
  const out: Outbound[] = [];
  out.push({
    to: [transfer.sender],
    message: {
      t: "file_result",
      xfer: transfer.id,
      name: recipient.name,
      ok,
      reason: shown,
      ...(resumable ? { resumable: true as const } : {}),
    },
  });
  transfer.outcomes.push(`${recipient.name}: ${ok ? "received" : shown}`);
  if (transfer.recipients.size === 0) {
    finish(state, transfer, transfer.outcomes.join("; "), now);
  } else {
    // The slowest recipient may have just left.
    out.push(...progress(transfer));
  }
  return out;
}

/** Forgets a transfer and records how it ended. */
function finish(
  state: ServerState,
  transfer: Transfer,
  outcome: string,
  now: number,
): void {
  state.transfers.delete(transfer.id);
  state.store.finishTransfer(transfer.id, { finishedAt: now, outcome });
}

function progress(transfer: Transfer): Outbound[] {
  const acked = slowest(transfer);
  if (acked <= transfer.reported) return [];
  transfer.reported = acked;
  return [{
    to: [transfer.sender],
    message: { t: "file_progress", xfer: transfer.id, acked },
  }];
}

/**
 * The lowest offset any recipient claims to hold (0 for one that claims
 * nothing): a resumed transfer may start there or lower, never higher.
 */
function lowestClaim(transfer: Transfer): number {
  let min = Infinity;
  for (const recipient of transfer.recipients.values()) {
    min = Math.min(min, recipient.claim?.offset ?? 0);
  }
  return min === Infinity ? 0 : min;
}

/**
 * Fixes where the data starts, at the first chunk or `file_end`: at 0 or a
 * resumed offset no recipient lacks. Everyone's acknowledgement starts there.
 */
function begin(transfer: Transfer, offset: number): boolean {
  if (offset !== 0 && offset > lowestClaim(transfer)) return false;
  transfer.started = true;
  transfer.sent = offset;
  transfer.reported = offset;
  for (const recipient of transfer.recipients.values()) {
    recipient.acked = offset;
  }
  return true;
}

function slowest(transfer: Transfer): number {
  let min = Infinity;
  for (const recipient of transfer.recipients.values()) {
    if (recipient.acked < min) min = recipient.acked;
  }
  return min === Infinity ? transfer.sent : min;
}

/** `text` cut to `chars` UTF-16 units, an ellipsis last when cut. */
function clip(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let kept = text.slice(0, chars - 1);
  // Not half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}\u2026`;
}

/** Names from clients are echoed only as short printable ASCII. */
function printable(text: string, max = 64): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}
