/**
 * The files of one connection: the receiver of what is offered to the user
 * and the sender of what the user offers, each with its progress, results
 * and end-to-end file keys.
 *
 * @module
 */

import type { GroupSessions } from "./group_sessions.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { fileAead } from "../crypto/native_aead.ts";
import type { ChatClient } from "./chat_client.ts";
import type { AcceptPolicy } from "./consent.ts";
import type { E2eSessions } from "./e2e_sessions.ts";
import type { Place } from "./in_turn.ts";
import { FileReceiver } from "./file_receiver.ts";
import { FileSender } from "./file_sender.ts";
import {
  type FileKeyInbox,
  receiveFileKey,
  shareFileKey,
} from "./file_key_share.ts";
import type { OfferConsent } from "./offer_consent.ts";
import type { SessionEvent } from "./session_events.ts";
import { PROGRESS_MIN_BYTES, type StatusRow } from "./status_row.ts";
import type { ReceivedFiles } from "./received_files.ts";
import type { Terminal } from "./terminal.ts";
import type { TrustedSenders } from "./trusted_senders.ts";

export interface FileOptions {
  downloadsDir: string;
  /** `downloadsDir` is the default folder, chat's own (kept 0700). */
  ownDownloadsDir: boolean;
  maxFileBytes: number;
  /** Which offers are taken, asked about or declined (--accept-files). */
  accept: AcceptPolicy;
  /** Senders accepted without asking (`always`), per server key. */
  trusted: TrustedSenders;
  /** Open received files (with `openWith` or the platform opener). */
  open: boolean;
  openWith: string[] | null;
}

/** One connection, and its files. */
export interface Link {
  client: ChatClient;
  receiver: FileReceiver;
  sender: FileSender;
}

export interface ConnectionFilesOptions {
  files: FileOptions;
  /** Files received whole this session, recognised if offered again. */
  received: ReceivedFiles;
  offers: OfferConsent;
  /** The session's end-to-end messages; null without keys. */
  e2e: E2eSessions | null;
  /**
   * The session's group chains (null without keys): whom a group file's
   * key goes to is said against them (file_key_share.ts `fileGivenLine`).
   */
  groupSessions?: GroupSessions | null;
  /** File keys that came end to end, until their offers ask for them. */
  fileKeys: FileKeyInbox;
  /** Whether a name on a server (by its key) has end-to-end keys. */
  usesE2e: (server: string) => (name: string) => boolean;
  /**
   * Holds a place for an offer among the messages shown (in_turn.ts
   * `hold`), in the order they came: the lines its sender (`from`) sent
   * after it wait for it, not those of others.
   */
  hold: (from: string) => Place;
  emit: (event: SessionEvent) => void;
  terminal: Terminal;
  json: boolean;
  status: StatusRow;
}

/** The file receiver and sender of `client`'s connection. */
export function connectionFiles(
  client: ChatClient,
  options: ConnectionFilesOptions,
): { receiver: FileReceiver; sender: FileSender } {
  const {
    files,
    offers,
    e2e,
    groupSessions = null,
    fileKeys,
    usesE2e,
    hold,
    emit,
    terminal,
    json,
    status,
  } = options;
  // Where each transfer's rate is measured from: its first chunk, not the
  // offer (a question answered late) nor the start of a resumed file.
  const receiving = new Map<number, { at: number; bytes: number }>();
  const receiver = new FileReceiver(client, {
    ...files,
    fileAead,
    resume: true,
    received: options.received,
    consent: (offer, named) =>
      offers.consent(offer, client.serverFingerprint, named),
    declines: (offer) => offers.declines(offer, client.serverFingerprint),
    // The offer is shown (asked about, or refused) in the order it came,
    // before the lines that came after it (a line its sender typed next).
    place: (offer) => hold(offer.from),
    ...(e2e === null ? {} : {
      fileKey: async (
        offer: FileOfferNotice,
        wait: boolean,
        since: number,
      ) => {
        // The key was sent before the offer: asked for once the messages
        // before the offer are dealt with (its place is `ready`), waiting
        // what is left of 10 s since the offer came (and 1 s at least: a
        // long queue before it does not use the wait up), not 10 s more
        // for each offer in turn. Not waiting (it declines anyway), it
        // takes a key only if it is here then.
        const got = await receiveFileKey(offer, {
          inbox: fileKeys,
          usesE2e: usesE2e(client.serverFingerprint),
          since,
        }, wait);
        // A key from the offer itself is readable by the host.
        if ("key" in got && got.readable && got.notice !== undefined) {
          emit({ type: "notice", text: sanitizeForTerminal(got.notice) });
        }
        return got;
      },
    }),
    // A program gets file_received and file_failed events instead.
    print: (line) => {
      if (!json) terminal.print(line);
    },
    printError: (line) => {
      if (!json) terminal.printError(line);
    },
    onResult: (offer, result) =>
      emit(
        result.ok
          ? {
            type: "file_received",
            offer,
            name: result.name,
            path: result.path,
          }
          : {
            type: "file_failed",
            offer,
            reason: result.reason,
            ...(result.withdrawn ? { withdrawn: true as const } : {}),
          },
      ),
    onProgress: (offer, received) => {
      if (offer.size < PROGRESS_MIN_BYTES) return;
      let from = receiving.get(offer.xfer);
      if (from === undefined) {
        from = { at: Date.now(), bytes: received };
        receiving.set(offer.xfer, from);
      }
      status.showProgress(`in:${offer.xfer}`, {
        type: "file_progress",
        direction: "in",
        name: offer.name,
        peer: offer.from,
        bytes: received,
        size: offer.size,
        elapsedMs: Date.now() - from.at,
        fromBytes: from.bytes,
        xfer: offer.xfer,
      });
    },
    onFinished: (offer, _said, told) => {
      // A transfer cancelled while its question waits: no answer is needed.
      // The next question comes after what is said of this one, which says
      // why (taken back, or not received and why): the question's going is
      // not said besides (it was, as 'cancelled', for a sender gone away).
      offers.prompts.withdraw(offer.xfer, true, told);
      offers.answers.withdraw(offer.xfer);
      receiving.delete(offer.xfer);
      status.showProgress(`in:${offer.xfer}`, null);
    },
  });
  const sender = new FileSender(
    client,
    e2e === null ? null : (target, key, name, size) =>
      shareFileKey(
        {
          sendSecret: (...args) => e2e.sendSecret(...args),
          usesE2e: usesE2e(client.serverFingerprint),
          notify: (text) => emit({ type: "notice", text }),
          chainGivenTo: (group) =>
            groupSessions?.chainGivenTo(client.serverFingerprint, group) ??
              null,
        },
        client,
        target,
        key,
        name,
        size,
      ),
    fileAead,
  );
  return { receiver, sender };
}
