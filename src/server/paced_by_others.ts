// This module is browser compatible.

/**
 * Which messages the rate limit lets through uncounted (message_rate.ts):
 * those paced by others rather than by their sender.
 */

import type { ClientMessage } from "../protocol/messages.ts";
import type { FileBridge } from "./file_bridge.ts";
import { isFileData } from "./message_rate.ts";
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
 * passes the rate limit: file data of a transfer it takes part in (the
 * window paces it), an answer to an offer still waiting for its answer,
 * a cancel of a transfer it takes part in (each once: then it is out).
 * Counted, a burst of others' offers made a client that declines them at
 * once break its own rate, and the server disconnected it as a flood.
 */
export function pacedByOthers(
  state: ServerState,
  bridge: FileBridge,
  id: ConnId,
  message: ClientMessage,
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
    default:
      return isFileData(message.t) && takesPart(state, bridge, id, message);
  }
}
