// This module is browser compatible.

/**
 * Which messages the rate limit lets through uncounted (message_rate.ts):
 * those paced by others rather than by their sender.
 */

import { FILE_CHUNK_TAG_BYTES } from "../protocol/limits.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import type { FileBridge } from "./file_bridge.ts";
import type { ConnId, ServerState } from "./state.ts";

/** Whether `id` sends or receives the transfer file data `message` names. */
export function takesPart(
  state: ServerState,
  bridge: FileBridge,
  id: ConnId,
  message: ClientMessage,
): boolean {
  const xfer = (message as { xfer?: unknown }).xfer;
  if (typeof xfer !== "number") return false;
  const transfer = state.transfers.get(xfer);
  // A recipient here of a file from another node answers about it by
  // the id this node gave it (file_bridge.ts).
  return transfer !== undefined
    ? transfer.sender === id || transfer.recipients.has(id)
    : bridge.fromLocal(xfer, id) !== undefined;
}

/**
 * Whether a message is paced by others rather than by its sender, and so
 * passes the rate limit: file data that moves a transfer it takes part in
 * (the window paces it: movesTransfer), an answer to an offer still waiting for its answer,
 * a cancel of a transfer it takes part in (each once: then it is out).
 * Counted, a burst of others' offers made a client that declines them at
 * once break its own rate, and the server disconnected it as a flood.
 */
export function pacedByOthers(
  state: ServerState,
  bridge: FileBridge,
  id: ConnId,
  message: ClientMessage,
  bodyBytes = 0,
): boolean {
  switch (message.t) {
    case "file_accept":
    case "file_decline": {
      const transfer = state.transfers.get(message.xfer);
      const recipient = transfer?.recipients.get(id);
      return transfer !== undefined && transfer.answerBy !== null &&
        recipient !== undefined && !recipient.accepted;
    }
    case "file_cancel":
      return takesPart(state, bridge, id, message);
    case "file_chunk":
    case "file_end":
    case "file_ack":
    case "file_done":
      return movesTransfer(state, bridge, id, message, bodyBytes);
    default:
      return false;
  }
}

/**
 * The least a chunk carries, or an acknowledgement moves its count by, to
 * pass as paced by the window (short of the file's or the data's end):
 * 1/8 of FILE_CHUNK_BYTES, so a 1 MiB frame holds at most 64 such chunks.
 */
export const MIN_PACED_CHUNK_BYTES = 16 * 1024;

/**
 * Whether file data from `id` moves a transfer it takes part in, the only
 * file data the window paces: a chunk or end from its sender once the
 * sender had its reply (relayed, or the transfer ends for it), an
 * acknowledgement that moves its recipient's count forward within what was
 * sent, a recipient's verdict (it is then out). Anything else a participant
 * sends about it changes nothing and is dropped: an acknowledgement of no
 * more than before (or from the sender), an end after the end, data before
 * the reply. Uncounted, a frame held 20,000 such acknowledgements, and one
 * connection sending them without pause to an accomplice's transfer took
 * the server's thread from everyone (another user's pings answered in
 * seconds instead of at once) and was never cut off. Those are counted as file
 * data for no transfer (message_rate.ts): a few pass, a flood is cut off.
 *
 * The window counts bytes, not messages, so data that moves a transfer by a
 * few bytes at a time is counted the same way: a chunk of fewer than
 * {@linkcode MIN_PACED_CHUNK_BYTES} that does not end the file, and an
 * acknowledgement that moves the count by less than that without reaching
 * what was sent. Chunks of one byte, 10,000 to a frame, held another user's
 * ping at a median of 3 s (some never answered within 5 s) and were never
 * cut off either. Senders send chunks of FILE_CHUNK_BYTES (a short one where
 * a read of the file came back short, and the last), and recipients
 * acknowledge every FILE_ACK_BYTES and at the end.
 */
function movesTransfer(
  state: ServerState,
  bridge: FileBridge,
  id: ConnId,
  message: Extract<
    ClientMessage,
    { t: "file_chunk" | "file_end" | "file_ack" | "file_done" }
  >,
  bodyBytes: number,
): boolean {
  const transfer = state.transfers.get(message.xfer);
  // A recipient here of a file from another node: the sender's node runs
  // its window, but what the recipient sends is judged here, by the same
  // rule, before it goes there over the bus; uncounted, a frame of
  // acknowledgements that moved nothing (or of chunks, which a recipient
  // never sends) was parsed here and passed on one by one, and the
  // recipient never cut off.
  if (transfer === undefined) {
    const bridged = bridge.fromLocal(message.xfer, id);
    if (bridged === undefined) return false;
    switch (message.t) {
      case "file_ack":
        return bridge.ackMoves(
          bridged,
          message.received,
          MIN_PACED_CHUNK_BYTES,
        );
      case "file_done":
        return true;
      default:
        return false;
    }
  }
  switch (message.t) {
    case "file_chunk": {
      if (transfer.sender !== id || transfer.answerBy !== null) return false;
      // The file's bytes: the body less its tag.
      const bytes = bodyBytes - FILE_CHUNK_TAG_BYTES;
      return bytes >= MIN_PACED_CHUNK_BYTES ||
        message.offset + bytes >= transfer.size;
    }
    case "file_end":
      return transfer.sender === id && transfer.answerBy === null &&
        !transfer.ended;
    case "file_ack": {
      const recipient = transfer.recipients.get(id);
      return recipient !== undefined && message.received <= transfer.sent &&
        (message.received === transfer.sent
          ? message.received > recipient.acked
          : message.received - recipient.acked >= MIN_PACED_CHUNK_BYTES);
    }
    case "file_done":
      return transfer.recipients.has(id);
    default: {
      const unreachable: never = message;
      return unreachable;
    }
  }
}
