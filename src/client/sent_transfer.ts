// This module is browser compatible.

/**
 * The protocol steps of sending a file that the terminal's FileSender
 * (file_sender.ts) and the page's WebFiles (web/web_files.ts) take alike
 * (docs/PROTOCOL.md 5.6): a key share stopped by /cancel, an offer refused,
 * what the server says of a transfer under way (`file_progress`,
 * `file_result`, `file_cancel`), its signed `file_end`, and its outcome once
 * settled. Pure: each returns what to send or say; the senders post it.
 *
 * @module
 */

import type { FileSigner } from "../crypto/file_signature.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import { withRealName } from "./file_key_share.ts";
import {
  type RecipientResult,
  type SentFileOutcome,
  withUnnamed,
} from "./render.ts";
import type { SentFileSteps } from "./sent_file_steps.ts";

/** What a sender keeps of a transfer under way, as its messages come. */
export interface SentTransfer {
  /** Bytes the slowest recipient has written to disk. */
  acked: number;
  /** Each recipient's verdict, by name, as it came. */
  results: Map<string, RecipientResult>;
  /** Why it stopped for everyone; null while it goes on. */
  cancelled: string | null;
  /** Ended by a lost connection, not by anyone's choice. */
  broken: boolean;
  /** Stopped by this user's /cancel, which says so itself. */
  byYou: boolean;
  /** Wakes the send loop, which waits for news. */
  wake: () => void;
}

/** A transfer that starts at `start` (0, or what every recipient holds). */
export function freshTransfer(start: number): SentTransfer {
  return {
    acked: start,
    results: new Map(),
    cancelled: null,
    broken: false,
    byYou: false,
    wake: () => {},
  };
}

/**
 * Whether `transfer` is over: stopped for everyone, or answered by
 * `everyone` (the recipients `file_ready` named, then those it left out).
 */
export function isSettled(transfer: SentTransfer, everyone: number): boolean {
  return transfer.cancelled !== null || transfer.results.size >= everyone;
}

/**
 * `work` (a file key going end to end), or null once `steps` is stopped
 * (/cancel, the second /quit) first: it ends then, not once the key's
 * answer comes, which may be never.
 */
export function unlessStopped<T>(
  work: Promise<T>,
  steps: SentFileSteps | null,
): Promise<T | null> {
  return Promise.race([
    work,
    ...(steps === null ? [] : [steps.stopped.then(() => null)]),
  ]);
}

/**
 * The outcome of an offer the server refused (`reply`, not `file_ready`),
 * under the file's real `name` where the offer carried `sentName` (end to
 * end, a placeholder).
 */
export function refusedOffer(
  reply: ServerMessage,
  sentName: string,
  name: string,
): Extract<SentFileOutcome, { kind: "refused" }> {
  return {
    kind: "refused",
    text: "text" in reply
      ? withRealName(reply.text, sentName, name)
      : "ERROR: Refused",
    ...(reply.t === "error" ? { code: reply.code } : {}),
  };
}

/**
 * Takes the server's word on `transfer` (the message must be for it):
 * how far its slowest recipient is, a recipient's verdict, or its end;
 * then wakes its send loop. Other messages are left alone.
 */
export function heardOfTransfer(
  transfer: SentTransfer,
  message: ServerMessage,
): void {
  switch (message.t) {
    case "file_progress":
      transfer.acked = Math.max(transfer.acked, message.acked);
      break;
    case "file_result":
      transfer.results.set(message.name, {
        name: message.name,
        ok: message.ok,
        reason: message.reason,
        // Its connection broke: offered again, it may resume.
        ...(message.resumable ? { resumable: true } : {}),
      });
      break;
    case "file_cancel":
      // The server also tells the sender of its own cancel: its reason stays.
      transfer.cancelled ??= message.reason;
      break;
    default:
      return;
  }
  transfer.wake();
}

/**
 * This user stops transfer `xfer` of `transfers` (/cancel): every
 * recipient is told, through `post`. False when it is not under way or
 * stopped already.
 */
export function cancelledByYou(
  transfers: ReadonlyMap<number, SentTransfer>,
  xfer: number,
  post: (cancel: Extract<ClientMessage, { t: "file_cancel" }>) => void,
): boolean {
  const transfer = transfers.get(xfer);
  if (transfer === undefined || transfer.cancelled !== null) return false;
  post({ t: "file_cancel", xfer, reason: "cancelled" });
  transfer.cancelled = "you cancelled it";
  transfer.byYou = true;
  transfer.wake();
  return true;
}

/**
 * The `file_end` of `xfer`, its `sha256` keyed (file_cipher.ts: the server
 * cannot tell a file by it); a group file's signed by `signer`, so that a
 * member cannot pass off its own.
 */
export async function signedFileEnd(
  xfer: number,
  sha256: string,
  signer: FileSigner | undefined,
): Promise<Extract<ClientMessage, { t: "file_end" }>> {
  const sig = await signer?.sign(sha256);
  return { t: "file_end", xfer, sha256, ...(sig === undefined ? {} : { sig }) };
}

/**
 * The outcome of `transfer` of `name` (`size` bytes) once settled: finished
 * once `everyone` answered (the recipients `file_ready` named, then those
 * it left out), else cancelled, each recipient not heard from given its
 * reason.
 */
export function transferOutcome(
  transfer: SentTransfer,
  { name, size, recipients, everyone }: {
    name: string;
    size: number;
    recipients: readonly string[];
    everyone: number;
  },
):
  | Extract<SentFileOutcome, { kind: "finished" }>
  | Extract<SentFileOutcome, { kind: "cancelled" }> {
  const results = withUnnamed(
    recipients.map((recipient) =>
      transfer.results.get(recipient) ??
        {
          name: recipient,
          ok: false,
          reason: transfer.cancelled ?? "no answer",
        }
    ),
    transfer.results,
  );
  return transfer.results.size >= everyone
    ? { kind: "finished", name, size, results }
    : {
      kind: "cancelled",
      name,
      reason: transfer.cancelled ?? "",
      results,
      ...(transfer.broken ? { broken: true } : {}),
      ...(transfer.byYou ? { byYou: true } : {}),
    };
}
