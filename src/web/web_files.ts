// This module is browser compatible.

/**
 * Files from and to the web page (docs/PROTOCOL.md 5.6), over one
 * ChatClient: the terminal's FileSender and FileReceiver stream through
 * files on disk and node:crypto's incremental SHA-256; a page has a File (or
 * Blob) in memory and WebCrypto, which hashes a whole buffer at once. So the
 * page sends and receives files up to {@link WEB_MAX_FILE_BYTES}. It keeps
 * no partial file it receives (an offer of one starts from 0, which the
 * protocol allows), but a file it sends again resumes from what its
 * recipients hold (PROTOCOL.md 5.6, "Resume"): the whole file is in memory
 * to check their claims against. Nothing received is shown or opened: it
 * becomes a Blob the page offers to save.
 *
 * @module
 */

import {
  briefClause,
  type ChatClient,
  type Incoming,
} from "../client/chat_client.ts";
import { fileKeyForOffer, fileKeyOfOffer } from "../client/file_key.ts";
import {
  type KeyLine,
  keyLinesOf,
  type ReceivedKey,
  type SharedKey,
} from "../client/file_key_share.ts";
import { offerWithPatience } from "../client/offer_with_patience.ts";
import { reasonForSender } from "../client/reason_for_sender.ts";
import { takeBackOffer, TAKEN_BACK } from "../client/offer_withdrawal.ts";
import { SentFiles, type SentFileSteps } from "../client/sent_file_steps.ts";
import {
  cancelledByYou,
  freshTransfer,
  heardOfTransfer,
  isSettled,
  refusedOffer,
  type SentTransfer,
  signedFileEnd,
  transferOutcome,
  unlessStopped,
} from "../client/sent_transfer.ts";
import {
  FILE_TAG_BYTES,
  FileCipher,
  newFileKey,
} from "../crypto/file_cipher.ts";
import { type FileSigner, verifyFileEnd } from "../crypto/file_signature.ts";
import type { SentFileOutcome } from "../client/render.ts";
import type { TransferEntry } from "../client/transfers_view.ts";
import type { Place } from "../client/in_turn.ts";
import {
  claimWhole,
  endsAsReceived,
  offeredAgain,
  type ReceivedFile,
  type ReceivedFiles,
} from "../client/received_files.ts";
import { receivingRefusal } from "../client/receiving_share.ts";
import {
  FILE_ACK_BYTES,
  FILE_CHUNK_BYTES,
  FILE_WINDOW_BYTES,
} from "../protocol/limits.ts";
import type {
  Declined,
  FileOfferNotice,
  ResumeClaim,
  ServerMessage,
} from "../protocol/messages.ts";

/** The server's end of a transfer, or of an offer before it began. */
type FileCancel = Extract<ServerMessage, { t: "file_cancel" }>;

/** The largest file a page sends or takes: it holds it whole in memory. */
export const WEB_MAX_FILE_BYTES = 256 * 1024 * 1024;
/**
 * The bytes the files asked about or coming in may announce together (how
 * many, and from one sender: receiving_share.ts, as the terminal client): a
 * page holds each in memory.
 */
export const WEB_MAX_RECEIVING_BYTES = 2 * WEB_MAX_FILE_BYTES;

/** The socket may hold this much unsent before more chunks are queued. */
const BACKLOG_LIMIT = 4 * 1024 * 1024;
const BACKLOG_POLL_MS = 5;

export type FileTarget = { to: string } | { group: string };

/** A file to send: a File from a picker or a drop. */
export interface NamedBlob {
  readonly name: string;
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/**
 * Sends an offer's file key to its recipients end to end and says what the
 * offer carries (file_key_share.ts `shareFileKey`, as the terminal's
 * FileSender takes it); without one, the key goes in the offer.
 */
export type ShareKey = (
  target: FileTarget,
  key: Uint8Array,
  name: string,
  size: number,
) => Promise<SharedKey>;

/** How the page gets an offer's key (file_key_share.ts `receiveFileKey`). */
export type TakeKey = (
  offer: FileOfferNotice,
  since?: number,
  /** False: only a key here already is taken (file_key_share receiveFileKey). */
  wait?: boolean,
) => ReceivedKey | Promise<ReceivedKey>;

/** Where file keys come from and go to: end to end when the page has keys. */
export interface FileKeys {
  share: ShareKey | null;
  take: TakeKey;
}

/** Without end-to-end keys: the key in the offer, both ways. */
export const KEYS_IN_OFFERS: FileKeys = {
  share: null,
  take: (offer) => {
    const key = fileKeyOfOffer(offer);
    return key === null
      ? { error: `Cannot take '${offer.name}': the offer carries no file key` }
      : { key, name: offer.name, readable: true };
  },
};

export interface SendCallbacks {
  /** Lines about the file's key. */
  keyLines?(lines: KeyLine[]): void;
  /** The offer reached its recipients: they are being asked. */
  offered(): void;
  /** Everyone answered; `declined` did not take it. */
  answered(declined: Declined[], more: number): void;
  /** Bytes the slowest recipient has taken. */
  progress(acked: number, size: number): void;
  /**
   * Every recipient holds the first `offset` bytes already (a transfer
   * that broke, offered again): the data starts there.
   */
  resumed?(offset: number, size: number): void;
}

/** What the page shows about a file offered to its user. */
export interface ReceiveCallbacks {
  /**
   * Asks the user; `answer` takes their choice, once, while the question
   * stands (false: it was over, and the answer went nowhere). The page must
   * answer before `deadlineMs` or the offer is declined as not answered.
   * Every way a question ends without an answer comes to `declined`,
   * `withdrawn` or `lapsed`, which take its buttons away.
   */
  ask(
    offer: FileOfferNotice,
    answer: (accept: boolean) => boolean,
    deadlineMs: number,
  ): void;
  /**
   * The offer was declined without asking (too large), or timed out, or
   * the server ended it before an answer (its sender left, say).
   */
  declined(offer: FileOfferNotice, why: string): void;
  /**
   * The connection ended (`why`, a clause) while the user was asked: the
   * question goes, since no answer can reach the offer any more.
   */
  lapsed?(offer: FileOfferNotice, why: string): void;
  /**
   * Whether `ask` declines `offer` without asking (its sender is ignored):
   * such an offer is asked about, and so declined, never claimed whole as
   * a file received from its sender a moment ago (without: none is).
   */
  declinesUnasked?(offer: FileOfferNotice): boolean;
  /**
   * An offer under the transfer number of one still here (asked about,
   * awaiting its key, or coming in), ignored: the first is left as it was.
   */
  duplicate?(offer: FileOfferNotice): void;
  /** Its sender took the offer back before it began (without: `declined`). */
  withdrawn?(offer: FileOfferNotice): void;
  progress(offer: FileOfferNotice, received: number): void;
  /**
   * All bytes arrived and their SHA-256 matches: `file` is ready to save.
   * May return whether it is still kept to save, asked later: one let go is
   * not claimed whole when offered again (`ReceivedFile.kept`).
   */
  received(offer: FileOfferNotice, file: Blob): void | (() => boolean);
  /**
   * The same file came whole from its sender a moment ago, and was offered
   * again (its sender did not hear it arrived): claimed whole, nothing kept
   * twice (without: nothing said).
   */
  again?(offer: FileOfferNotice): void;
  /** The user stopped it (/cancel): nothing more comes, and the page says so. */
  cancelled(offer: FileOfferNotice): void;
  failed(offer: FileOfferNotice, reason: string): void;
}

/**
 * A transfer being sent (sent_transfer.ts); stopped by this user (/cancel,
 * the second /quit: `byYou`), who was told so then, the file ends, as the
 * terminal's (file_sender.ts).
 */
interface Outgoing extends SentTransfer {
  /** The file the user sent that this is (`send`'s `fileNumber`). */
  fileNumber: number | undefined;
  name: string;
  size: number;
  target: FileTarget;
  /** Where the data started (0, or what every recipient held). */
  resumedAt: number;
}

interface Receiving {
  offer: FileOfferNotice;
  accepted: boolean;
  /** Opens the chunks (the offer's file key); made when the offer comes. */
  cipher: Promise<FileCipher>;
  /** A group file's: `file_end` must be signed by it (file_signature.ts). */
  verifyKey: Uint8Array | null;
  /** The plaintext chunks opened so far, in order. */
  chunks: Uint8Array[];
  /** Where the next chunk must start: counted as chunks arrive. */
  expected: number;
  /** Chunks that arrived, which numbers the next one (its nonce). */
  arrived: number;
  /** Chunks are opened one after another, in arrival order. */
  opening: Promise<void>;
  /** Bytes opened and checked. */
  received: number;
  acked: number;
  /**
   * The same file from the same sender, received whole a moment ago and
   * claimed whole (`ReceivedFiles`): nothing of this offer is kept, and its
   * end is checked against that file's SHA-256.
   */
  already: { key: string; file: ReceivedFile } | null;
}

/**
 * What a file received whole is remembered under (received_files.ts):
 * its sender's key, its name and its size, as the terminal's partial key,
 * in memory only.
 */
function receivedKey(offer: FileOfferNotice): string | null {
  if (offer.fingerprint === undefined || offer.size === 0) return null;
  return JSON.stringify([offer.fingerprint, offer.name, offer.size]);
}

/**
 * The page's transfers on one connection. The page hands it every message
 * it gets ({@link WebFiles.receive}): a ChatClient replays what came before
 * its first listener to that listener only, so the page keeps one.
 */
export class WebFiles {
  #client: ChatClient;
  #receive: ReceiveCallbacks;
  /** Offers the user is asked about: each stops its question's deadline. */
  #asking = new Map<number, () => void>();
  #outgoing = new Map<number, Outgoing>();
  /**
   * Offers waiting for their answers, by request id: /cancel takes one
   * back (file_sender.ts does the same in the terminal).
   */
  #mine = new Map<
    number,
    {
      fileNumber: number | undefined;
      name: string;
      target: FileTarget;
      withdraw: () => void;
    }
  >();
  #incoming = new Map<number, Receiving>();
  /** The files `send` is at, by their `fileNumber` (sent_file_steps.ts). */
  #files = new SentFiles();
  /** Every file `send` is at, from its reading on. */
  #sending = new Set<{ name: string; target: FileTarget }>();
  /** Offers whose key is still awaited, by xfer, with their sizes. */
  #offering = new Map<number, { size: number; from: string }>();
  /**
   * Offers the server ended while their key was awaited, by xfer: nobody
   * is asked about them once it comes.
   */
  #endedEarly = new Map<number, FileCancel>();
  #keys: FileKeys;
  #place: ((offer: FileOfferNotice) => Place) | null;
  #received: ReceivedFiles | null;

  /**
   * `offer`, refused before it was asked about, under the name its key came
   * with if that key is here already (end to end it came before the offer,
   * whose own name is the placeholder `(end-to-end)`), as the terminal's
   * (file_receiver.ts #nameIfHere). Nothing is waited for; the key goes
   * with the refused offer.
   */
  async #namedIfHere(offer: FileOfferNotice): Promise<FileOfferNotice> {
    if (offer.key_id === undefined) return offer;
    try {
      const got = await this.#keys.take(offer, undefined, false);
      return "error" in got ? offer : { ...offer, name: got.name };
    } catch {
      return offer;
    }
  }

  /**
   * `place`: holds an offer's place among the lines shown, when it comes
   * (in_turn.ts `placeAfter`): the lines after it wait until it is asked
   * about or declined; its steps wait for those before it first. Without
   * it, an offer is dealt with at once. `received`: the files received
   * whole on the page's connections (received_files.ts), one offered again
   * by its sender claimed whole rather than kept twice.
   */
  constructor(
    client: ChatClient,
    receive: ReceiveCallbacks,
    keys: FileKeys = KEYS_IN_OFFERS,
    place: ((offer: FileOfferNotice) => Place) | null = null,
    received: ReceivedFiles | null = null,
  ) {
    this.#client = client;
    this.#receive = receive;
    this.#keys = keys;
    this.#place = place;
    this.#received = received;
    void client.ended.then((ending) => {
      // In a few words: the page says the whole reason once.
      const why = briefClause(ending);
      for (const outgoing of this.#outgoing.values()) {
        outgoing.cancelled ??= why;
        outgoing.broken = true;
        outgoing.wake();
      }
      for (const incoming of this.#incoming.values()) {
        if (incoming.accepted) {
          this.#receive.failed(incoming.offer, why);
        } else if (this.#asking.has(incoming.offer.xfer)) {
          // Still a question: its deadline would decline on a closed
          // connection, and a click would answer no one.
          this.#asking.get(incoming.offer.xfer)!();
          this.#receive.lapsed?.(incoming.offer, why);
        }
      }
      this.#asking.clear();
      this.#incoming.clear();
    });
  }

  /** Whether its connection has ended. */
  get isOver(): boolean {
    return this.#client.isOver;
  }

  /** Resolves once its connection has ended. */
  get ended(): Promise<unknown> {
    return this.#client.ended;
  }

  /** The transfers running, as /transfers lists them (transfers_view.ts). */
  list(): TransferEntry[] {
    const entries: TransferEntry[] = [];
    for (const [offer, o] of this.#mine) {
      entries.push({
        kind: "offered",
        offer,
        ...(o.fileNumber === undefined ? {} : { fileNumber: o.fileNumber }),
        name: o.name,
        to: "to" in o.target ? o.target.to : `group ${o.target.group}`,
      });
    }
    for (const [xfer, o] of this.#outgoing) {
      entries.push({
        kind: "sending",
        xfer,
        ...(o.fileNumber === undefined ? {} : { fileNumber: o.fileNumber }),
        name: o.name,
        to: "to" in o.target ? o.target.to : `group ${o.target.group}`,
        done: o.acked,
        size: o.size,
        resumedAt: o.resumedAt,
      });
    }
    for (const [xfer, r] of this.#incoming) {
      if (!r.accepted) continue;
      entries.push({
        kind: "receiving",
        xfer,
        name: r.offer.name,
        from: r.offer.from,
        done: r.received,
        size: r.offer.size,
        resumedAt: 0,
      });
    }
    return entries;
  }

  /**
   * Stops a transfer (/cancel); false when it has already ended. Everyone
   * in it is told.
   */
  cancel(entry: TransferEntry): boolean {
    switch (entry.kind) {
      case "offered": {
        const offered = this.#mine.get(entry.offer);
        if (offered === undefined) return false;
        takeBackOffer(this.#client, entry.offer, offered.withdraw);
        return true;
      }
      case "sending":
        return this.#cancelSending(entry.xfer);
      case "receiving": {
        const incoming = this.#incoming.get(entry.xfer);
        if (incoming === undefined || !incoming.accepted) return false;
        this.#incoming.delete(entry.xfer);
        this.#client.post({
          t: "file_cancel",
          xfer: entry.xfer,
          reason: "cancelled",
        });
        this.#receive.cancelled(incoming.offer);
        return true;
      }
      case "resumable":
        // A page keeps no partial files.
        return false;
      case "resend":
        // Files waiting to be offered again are files_view.ts' (FilesWaiting),
        // stopped there.
        return false;
      default: {
        const unreachable: never = entry;
        return unreachable;
      }
    }
  }

  /** Stops sending `xfer`; false when it has already ended. */
  #cancelSending(xfer: number): boolean {
    return cancelledByYou(
      this.#outgoing,
      xfer,
      (cancel) => this.#client.post(cancel),
    );
  }

  /**
   * Offers `file` to `target`, then sends it to those who accept.
   * `fileNumber`: the number the file the user sent is listed under while
   * it waits (files_view.ts FilesWaiting), which its offer and transfer are
   * listed under too: /transfers keeps one number for it to its end.
   */
  async send(
    target: FileTarget,
    file: NamedBlob,
    callbacks: SendCallbacks,
    fileNumber?: number,
  ): Promise<SentFileOutcome> {
    const sending = { name: file.name, target };
    this.#sending.add(sending);
    const steps = fileNumber === undefined
      ? null
      : this.#files.start(fileNumber);
    try {
      const outcome = await this.#send(
        target,
        file,
        callbacks,
        fileNumber,
        steps,
      );
      // Cut off before its offer was answered (or its key went): the error
      // names the file, which "Not sent: the connection ..." did not.
      if (
        outcome.kind !== "refused" || !this.#client.isOver ||
        outcome.text.includes(file.name)
      ) return outcome;
      return {
        ...outcome,
        text: `ERROR: ${file.name} not sent: ${
          outcome.text.replace(/^ERROR: (?:Not sent: )?/, "")
        }`,
      };
    } finally {
      this.#sending.delete(sending);
      if (fileNumber !== undefined && steps !== null) {
        this.#files.end(fileNumber, steps);
      }
    }
  }

  /** The `fileNumber`s of the files `send` is at, listed or between steps. */
  filesUnderWay(): number[] {
    return this.#files.numbers();
  }

  /**
   * Stops file `fileNumber` (`send`'s) at whatever step it is (/cancel):
   * takes back its offer, cancels its transfer, or, between the two, stops
   * it at its next step. Which it was stopped as; null when it is not
   * being sent, or already stopping.
   */
  stopFile(fileNumber: number): "offer" | "transfer" | null {
    for (const entry of this.list()) {
      if (
        (entry.kind === "offered" || entry.kind === "sending") &&
        entry.fileNumber === fileNumber
      ) {
        if (!this.cancel(entry)) return null;
        return entry.kind === "offered" ? "offer" : "transfer";
      }
    }
    return this.#files.stop(fileNumber);
  }

  /**
   * The files being sent (read, their keys given, offered or under way):
   * what leaving asks about first (leave_questions.ts), as "NAME to bob".
   */
  underWay(): string[] {
    return [...this.#sending].map(({ name, target }) =>
      `${name} to ${"to" in target ? target.to : `group ${target.group}`}`
    );
  }

  /** Takes back every offer and stops every file being sent (a second /quit). */
  stopSending(): void {
    for (const entry of this.list()) {
      if (entry.kind === "offered" || entry.kind === "sending") {
        this.cancel(entry);
      }
    }
    // Those between their key and their offer (in neither list) stop there,
    // as the terminal's (767d3fe). Before, they went on after the page had
    // left, and said "ERROR: notes.txt not sent: disconnected." then.
    for (const fileNumber of this.#files.numbers()) {
      this.#files.stop(fileNumber);
    }
  }

  async #send(
    target: FileTarget,
    file: NamedBlob,
    callbacks: SendCallbacks,
    fileNumber: number | undefined,
    steps: SentFileSteps | null,
  ): Promise<SentFileOutcome> {
    // Read afresh each time: set by stopFile, in another task.
    const stopping = () => steps !== null && steps.stop;
    const { name, size } = file;
    if (size > WEB_MAX_FILE_BYTES) {
      return {
        kind: "refused",
        text: `ERROR: ${name} is too large to send from a browser (${
          WEB_MAX_FILE_BYTES / 1024 / 1024
        } MiB at most); use chat connect`,
      };
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.byteLength !== size) {
      return {
        kind: "refused",
        text: `ERROR: ${name} changed while it was being read`,
      };
    }
    const sha256 = await sha256Hex(bytes);
    // Fresh for every offer: no key and nonce are ever used twice.
    const key = newFileKey();
    // The key goes end to end first, so that it is there when the offer is.
    // The name goes in the clear only where the key does (keyFields).
    let keyFields: { key?: string; key_id?: string; name?: string } =
      fileKeyForOffer(key);
    let signer: FileSigner | undefined;
    if (this.#keys.share !== null) {
      // Stopped (/cancel, the second /quit) while its key goes: it ends
      // now, not once the key's answer comes, which may be never (the
      // page's connection closing meanwhile said it not sent), as the
      // terminal's (file_sender.ts).
      const shared = await unlessStopped(
        this.#keys.share(target, key, name, size),
        steps,
      );
      if (shared === null) return { ...TAKEN_BACK, name, results: [] };
      if (shared.kind === "refused") {
        return {
          kind: "refused",
          text: shared.reply.text,
          code: shared.reply.code,
        };
      }
      keyFields = shared.fields;
      signer = shared.signer;
      // Said at once: whom the key and name went to holds whatever
      // becomes of the offer.
      const lines = keyLinesOf(shared.given, shared.lines);
      if (lines.length > 0) callbacks.keyLines?.(lines);
    }
    // Said once the offer reached its recipients (or they answered), not
    // for one the server refused outright (a name nobody has).
    let offeredSaid = false;
    const sayOffered = () => {
      if (offeredSaid) return;
      offeredSaid = true;
      callbacks.offered();
    };
    // Stopped (/cancel) while its key went out: it is not offered.
    if (stopping()) return { ...TAKEN_BACK, name, results: [] };
    // Refused with slow_down (a burst of files), it goes again after the
    // server's pause, still in its turn, as the terminal's.
    // The whole file's digest, keyed (the digest key is the file key's
    // alone), in every offer whose key the server cannot read: the page
    // hashed the file already. A recipient that had this very file from us
    // a moment ago claims it whole (our connection broke before we heard it
    // arrived); one that had another under its name and size is asked
    // (PROTOCOL.md 5.6 "Resume"). With the key in the offer, the server
    // could test a guess of the file by it, though the offer be declined
    // and not a byte of the file cross: a recipient is then asked again.
    const whole = keyFields.key !== undefined ? {} : {
      sha256: await (await FileCipher.create(key, 0, size)).keyedDigest(
        sha256,
      ),
    };
    const reply = await offerWithPatience(this.#client, {
      t: "file_offer",
      name,
      size,
      ...target,
      ...keyFields,
      ...whole,
    }, {
      listed: (offer, withdraw) =>
        this.#mine.set(offer, { fileNumber, name, target, withdraw }),
      unlisted: (offer) => this.#mine.delete(offer),
      passedOn: sayOffered,
    });
    if (reply === "withdrawn") return { ...TAKEN_BACK, name, results: [] };
    if (
      reply.t === "file_ready" ||
      (reply.t === "error" && reply.code === "declined")
    ) sayOffered();
    if (reply.t !== "file_ready") {
      return refusedOffer(reply, keyFields.name ?? name, name);
    }
    if (steps !== null) steps.step = "transfer";
    const { xfer, recipients } = reply;
    const cipher = await FileCipher.create(key, xfer, size);
    callbacks.answered(reply.declined ?? [], reply.declined_more ?? 0);
    // Recipients that hold a first part: checked against our file, and the
    // data starts at the lowest part everyone has (0 if anyone has none or
    // a part that is not ours), as the terminal's (file_sender.ts).
    const start = await resumePoint(
      bytes,
      recipients,
      reply.resume ?? [],
      (sha256) => cipher.keyedDigest(sha256),
    );
    if (start > 0) callbacks.resumed?.(start, size);
    const outgoing: Outgoing = {
      fileNumber,
      name,
      size,
      target,
      resumedAt: start,
      ...freshTransfer(start),
    };
    this.#outgoing.set(xfer, outgoing);
    // Stopped (/cancel) as it started: it stops now.
    if (stopping()) this.#cancelSending(xfer);
    // Those who accepted past what the header names (accepted_more) answer
    // too.
    const everyone = recipients.length + (reply.accepted_more ?? 0);
    const settled = () => isSettled(outgoing, everyone);
    const waitForNews = () =>
      new Promise<void>((resolve) => (outgoing.wake = resolve));
    try {
      let sent = start;
      let index = 0;
      while (sent < size && !settled()) {
        if (sent - outgoing.acked > FILE_WINDOW_BYTES - FILE_CHUNK_BYTES) {
          await waitForNews();
          callbacks.progress(outgoing.acked, size);
          continue;
        }
        if (this.#client.backlog > BACKLOG_LIMIT) {
          await new Promise((resolve) => setTimeout(resolve, BACKLOG_POLL_MS));
          continue;
        }
        const chunk = bytes.subarray(sent, sent + FILE_CHUNK_BYTES);
        // Sealed here, once: the server passes it on as it is (5.6).
        const sealed = await cipher.seal({ index, offset: sent }, chunk);
        if (settled()) break;
        this.#client.post(
          { t: "file_chunk", xfer, offset: sent },
          sealed,
          true,
        );
        index++;
        sent += chunk.byteLength;
      }
      if (!settled()) {
        // Keyed (file_cipher.ts): the server cannot tell a file by it.
        // A group file: signed, so a member cannot pass off its own.
        const keyed = await cipher.keyedDigest(sha256);
        this.#client.post(
          await signedFileEnd(xfer, keyed, signer),
          undefined,
          true,
        );
      }
      while (!settled()) {
        callbacks.progress(outgoing.acked, size);
        await waitForNews();
      }
      callbacks.progress(outgoing.acked, size);
      return transferOutcome(outgoing, { name, size, recipients, everyone });
    } finally {
      this.#outgoing.delete(xfer);
    }
  }

  /** Takes a message from the server; all but file transfers are ignored. */
  receive({ message, body }: Incoming): void {
    switch (message.t) {
      case "file_progress":
      case "file_result": {
        const outgoing = this.#outgoing.get(message.xfer);
        if (outgoing !== undefined) heardOfTransfer(outgoing, message);
        return;
      }
      case "file_cancel": {
        const outgoing = this.#outgoing.get(message.xfer);
        if (outgoing !== undefined) heardOfTransfer(outgoing, message);
        if (this.#offering.has(message.xfer)) {
          this.#endedEarly.set(message.xfer, message);
        }
        const incoming = this.#incoming.get(message.xfer);
        if (incoming !== undefined) {
          this.#incoming.delete(message.xfer);
          if (!incoming.accepted) {
            // Still a question: its deadline would answer an offer that is
            // gone, and say the user did not answer.
            this.#asking.get(message.xfer)?.();
            this.#asking.delete(message.xfer);
          }
          // The offer was shown: its end is said in turn, as a line of its
          // sender's would be (the terminal's too, file_receiver.ts), not
          // ahead of their lines still held behind an offer of theirs.
          const say = () =>
            incoming.accepted
              ? this.#receive.failed(incoming.offer, message.reason)
              : this.#unasked(incoming.offer, message);
          const place = this.#place?.(incoming.offer);
          if (place === undefined) say();
          else {
            void place.ready.then(() => {
              try {
                say();
              } finally {
                place.release();
              }
            });
          }
        }
        return;
      }
      case "file_offer": {
        // Held at once, in the order the offer came among the messages;
        // let go once it is asked about or declined.
        const place = this.#place?.(message);
        void this.#offered(message, place?.ready).finally(() =>
          place?.release()
        );
        return;
      }
      case "file_chunk":
        this.#chunk(message.xfer, message.offset, body);
        return;
      case "file_end":
        void this.#end(message.xfer, message.sha256, message.sig);
        return;
      default:
        return;
    }
  }

  /** Says why an offer not (or not yet) answered ended (`cancel`). */
  #unasked(offer: FileOfferNotice, cancel: FileCancel): void {
    if (cancel.withdrawn === true && this.#receive.withdrawn !== undefined) {
      this.#receive.withdrawn(offer);
    } else this.#receive.declined(offer, cancel.reason);
  }

  /** Bytes announced by the files asked about or coming in. */
  #heldBytes(): number {
    let bytes = 0;
    for (const { size } of this.#offering.values()) bytes += size;
    for (const incoming of this.#incoming.values()) {
      bytes += incoming.offer.size;
    }
    return bytes;
  }

  async #offered(
    sealed: FileOfferNotice,
    ready?: Promise<void>,
  ): Promise<void> {
    // A second offer under the id of one already here is the server's
    // mistake or a trick: it must not replace the first (found in review).
    // Judged as it comes; said in its place, once what came before it is
    // shown (as every line about an offer), not ahead of it.
    if (this.#incoming.has(sealed.xfer) || this.#offering.has(sealed.xfer)) {
      await ready;
      this.#receive.duplicate?.(sealed);
      return;
    }
    // The sender hears at once; the page says it in the offer's place.
    const refuse = async (why: string) => {
      this.#client.post({
        t: "file_cancel",
        xfer: sealed.xfer,
        reason: reasonForSender(why),
      });
      await ready;
      this.#receive.declined(await this.#namedIfHere(sealed), why);
    };
    if (sealed.size > WEB_MAX_FILE_BYTES) {
      await refuse(
        `too large for a browser (${
          WEB_MAX_FILE_BYTES / 1024 / 1024
        } MiB at most)`,
      );
      return;
    }
    // Each file is held in memory, and each offer asks its user: a flood of
    // offers is refused past these, as by the terminal client.
    // So is one past its sender's share of them (receiving_share.ts).
    const busy = receivingRefusal(sealed.from, [
      ...[...this.#incoming.values()].map((r) => r.offer.from),
      ...[...this.#offering.values()].map((o) => o.from),
    ]);
    if (busy !== null) {
      await refuse(busy);
      return;
    }
    if (this.#heldBytes() + sealed.size > WEB_MAX_RECEIVING_BYTES) {
      await refuse(
        `too much coming in at once for a browser (${
          WEB_MAX_RECEIVING_BYTES / 1024 / 1024
        } MiB at most)`,
      );
      return;
    }
    // The key first (end to end, it normally came before the offer; at
    // most 10 s): nobody is asked about a file that could not be opened.
    this.#offering.set(sealed.xfer, { size: sealed.size, from: sealed.from });
    // Its key's wait counts from now (file_key_share.ts `keyWaitLeft`).
    const since = performance.now();
    let got: ReceivedKey;
    let ended: FileCancel | undefined;
    try {
      // What came before the offer is shown first: its key among it.
      await ready;
      got = await this.#keys.take(sealed, since);
    } finally {
      this.#offering.delete(sealed.xfer);
      ended = this.#endedEarly.get(sealed.xfer);
      this.#endedEarly.delete(sealed.xfer);
    }
    // Taken back (or ended) while its key was awaited: no question that
    // would answer an offer that is gone.
    if (ended !== undefined) {
      this.#unasked(sealed, ended);
      return;
    }
    if ("error" in got) {
      const why = got.error.replace(
        /^Cannot take ('[^']*'|a file from \S+): /,
        "",
      );
      this.#client.post({
        t: "file_cancel",
        xfer: sealed.xfer,
        reason: reasonForSender(why),
      });
      this.#receive.declined(sealed, why);
      return;
    }
    if (this.#incoming.has(sealed.xfer)) return;
    const key = got.key;
    // Shown and saved under the name the key came with (end to end, the
    // offer's own is only a placeholder the server could have written).
    const offer = { ...sealed, name: got.name };
    const incoming: Receiving = {
      offer,
      accepted: false,
      cipher: FileCipher.create(key, offer.xfer, offer.size),
      verifyKey: "verifyKey" in got ? got.verifyKey ?? null : null,
      chunks: [],
      expected: 0,
      arrived: 0,
      opening: Promise.resolve(),
      received: 0,
      acked: 0,
      already: null,
    };
    this.#incoming.set(offer.xfer, incoming);
    // The same file, had whole from the same sender a moment ago: offered
    // again because its sender did not hear that it arrived (its connection
    // broke). Claimed whole, without asking again; nothing is kept twice
    // (as the terminal's file_receiver.ts, PROTOCOL.md 5.6 "Resume"). Not
    // from a sender ignored since: declined unseen, as any of their offers,
    // not accepted (and said to be here again) without asking.
    const had = this.#receive.declinesUnasked?.(offer) === true
      ? null
      : receivedKey(offer);
    const known = had === null ? null : this.#received?.find(had, offer.from);
    // With its digest (an offer made again): another file under its name
    // and size is asked about.
    const again = known != null && offer.timeout !== undefined &&
      await offeredAgain(offer, known, await incoming.cipher);
    if (this.#incoming.get(offer.xfer) !== incoming) return;
    if (had !== null && known != null && again) {
      incoming.already = { key: had, file: known };
      incoming.accepted = true;
      const claim = await claimWhole(offer, known, await incoming.cipher);
      if (this.#incoming.get(offer.xfer) !== incoming) return;
      this.#client.post(claim);
      return;
    }
    // As the terminal client: two thirds of the server's wait, at most 60 s,
    // so that the page declines (and says so) before the server gives up.
    const deadlineMs = Math.min((offer.timeout ?? 90_000) * 2 / 3, 60_000);
    let answered = false;
    const timer = setTimeout(() => {
      if (answered) return;
      answered = true;
      this.#asking.delete(offer.xfer);
      this.#incoming.delete(offer.xfer);
      this.#client.post({
        t: "file_cancel",
        xfer: offer.xfer,
        reason: "did not answer",
      });
      this.#receive.declined(offer, "you did not answer in time");
    }, deadlineMs);
    this.#asking.set(offer.xfer, () => {
      answered = true;
      clearTimeout(timer);
    });
    this.#receive.ask(offer, (accept) => {
      if (answered || this.#incoming.get(offer.xfer) !== incoming) {
        return false;
      }
      answered = true;
      this.#asking.delete(offer.xfer);
      clearTimeout(timer);
      if (!accept) {
        this.#incoming.delete(offer.xfer);
        this.#client.post({ t: "file_decline", xfer: offer.xfer });
        return true;
      }
      incoming.accepted = true;
      this.#client.post({ t: "file_accept", xfer: offer.xfer });
      if (offer.size === 0) this.#ack(incoming);
      return true;
    }, deadlineMs);
  }

  #chunk(xfer: number, offset: number, body: Uint8Array): void {
    const incoming = this.#incoming.get(xfer);
    // Data for an offer not accepted is dropped (PROTOCOL 5.6, "Consent").
    if (incoming === undefined || !incoming.accepted) return;
    const bytes = body.byteLength - FILE_TAG_BYTES;
    if (
      offset !== incoming.expected || bytes <= 0 ||
      incoming.expected + bytes > incoming.offer.size
    ) {
      this.#fail(
        incoming,
        offset !== incoming.expected
          ? `a chunk came at offset ${offset}, expected ${incoming.expected}`
          : bytes <= 0
          ? "a chunk too short to be sealed"
          : "more bytes than the declared size",
      );
      return;
    }
    incoming.expected += bytes;
    const place = { index: incoming.arrived++, offset };
    if (incoming.already !== null) {
      // Sent all the same (the sender's file is not the one here): counted
      // and acknowledged, not kept; the end tells whether it is ours.
      incoming.received += bytes;
      if (
        incoming.received - incoming.acked >= FILE_ACK_BYTES ||
        incoming.received === incoming.offer.size
      ) this.#ack(incoming);
      return;
    }
    // Copied: the frame the body came in is reused once this returns.
    const sealed = body.slice();
    incoming.opening = incoming.opening.then(async () => {
      const chunk = await (await incoming.cipher).open(place, sealed);
      if (this.#incoming.get(xfer) !== incoming) return;
      if (chunk === null) {
        this.#fail(incoming, "a chunk did not authenticate");
        return;
      }
      incoming.chunks.push(chunk);
      incoming.received += chunk.byteLength;
      this.#receive.progress(incoming.offer, incoming.received);
      if (
        incoming.received - incoming.acked >= FILE_ACK_BYTES ||
        incoming.received === incoming.offer.size
      ) this.#ack(incoming);
    });
  }

  async #end(
    xfer: number,
    sha256: string,
    signature: string | undefined,
  ): Promise<void> {
    const incoming = this.#incoming.get(xfer);
    if (incoming === undefined || !incoming.accepted) return;
    // After every chunk that came before it is opened.
    await incoming.opening;
    if (this.#incoming.get(xfer) !== incoming) return;
    const { offer } = incoming;
    if (incoming.already !== null) {
      await this.#hadIt(incoming, sha256, signature);
      return;
    }
    if (incoming.received !== offer.size) {
      this.#fail(
        incoming,
        `truncated: ${incoming.received} of ${offer.size} bytes arrived`,
      );
      return;
    }
    const file = new Blob(incoming.chunks as BlobPart[], {
      // Never shown by the browser as what the name claims: saved only.
      type: "application/octet-stream",
    });
    const whole = new Uint8Array(await file.arrayBuffer());
    if (this.#incoming.get(xfer) !== incoming) return;
    // Every member holds a group file's key: only its sender's signature
    // says the file is the sender's. Checked first, as the terminal does.
    if (
      incoming.verifyKey !== null &&
      !await verifyFileEnd(incoming.verifyKey, sha256, signature)
    ) {
      if (this.#incoming.get(xfer) !== incoming) return;
      this.#fail(
        incoming,
        `the file is not signed by ${offer.from} (another member of the group, with the server's help, may have replaced it)`,
      );
      return;
    }
    const cipher = await incoming.cipher;
    const digest = await sha256Hex(whole);
    if (await cipher.keyedDigest(digest) !== sha256.toLowerCase()) {
      if (this.#incoming.get(xfer) !== incoming) return;
      this.#fail(incoming, "checksum mismatch");
      return;
    }
    if (this.#incoming.get(xfer) !== incoming) return;
    this.#incoming.delete(xfer);
    this.#client.post({ t: "file_done", xfer, ok: true, reason: "" });
    const key = receivedKey(offer);
    const kept = this.#receive.received(offer, file);
    if (key !== null) {
      this.#received?.remember(key, {
        from: offer.from,
        sha256: digest,
        path: "",
        name: offer.name,
        ...(typeof kept === "function" ? { kept } : {}),
      });
    }
  }

  /**
   * The end of a file claimed whole (`already`): the sender's file is the
   * one here (its keyed SHA-256, and a group file's signature, say so),
   * which is said, and the sender told it arrived; or it is not, and it is
   * refused, to be asked about afresh if offered again.
   */
  async #hadIt(
    incoming: Receiving,
    sha256: string,
    signature: string | undefined,
  ): Promise<void> {
    const { offer } = incoming;
    const { key, file } = incoming.already!;
    const cipher = await incoming.cipher;
    const same = (incoming.arrived === 0 || incoming.received === offer.size) &&
      (incoming.verifyKey === null ||
        await verifyFileEnd(incoming.verifyKey, sha256, signature)) &&
      await endsAsReceived(file, cipher, sha256);
    if (this.#incoming.get(offer.xfer) !== incoming) return;
    if (!same) {
      this.#received?.forget(key);
      this.#fail(
        incoming,
        `it is not the file received from ${offer.from} a moment ago; it is asked about if offered again`,
      );
      return;
    }
    this.#incoming.delete(offer.xfer);
    this.#client.post({
      t: "file_done",
      xfer: offer.xfer,
      ok: true,
      reason: "",
    });
    this.#receive.again?.(offer);
  }

  #ack(incoming: Receiving): void {
    incoming.acked = incoming.received;
    this.#client.post({
      t: "file_ack",
      xfer: incoming.offer.xfer,
      received: incoming.received,
    });
  }

  #fail(incoming: Receiving, reason: string): void {
    this.#incoming.delete(incoming.offer.xfer);
    this.#client.post({
      t: "file_done",
      xfer: incoming.offer.xfer,
      ok: false,
      // Not taken: its sender reads it as a decline, which the server
      // cuts (reason_for_sender.ts).
      reason: incoming.accepted ? reason : reasonForSender(reason),
    });
    this.#receive.failed(incoming.offer, reason);
  }
}

/**
 * The most distinct parts a file offered again checks its recipients'
 * claims at: each is a SHA-256 of the file up to there, over the whole
 * buffer (WebCrypto hashes nothing incrementally), up to 256 MiB each.
 * Recipients that hold more different parts than this start at 0, which is
 * always allowed.
 */
export const MAX_RESUME_PARTS = 4;

/**
 * Where a file offered again starts, given its recipients' resume claims: a
 * claim is believed only if our own first `offset` bytes have its SHA-256
 * (as `keyed` makes it cross the server); 0 if any recipient made none, or
 * one that is not ours. Only the recipients' claims count, and at most
 * {@linkcode MAX_RESUME_PARTS} parts are checked, the lowest first, up to the
 * first that is not ours: a reply that named a thousand claims at as many
 * offsets (names no recipient has, or a thousand recipients: from a hostile
 * host) had the page hash its file a thousand times (200 of a 32 MiB file:
 * 27 s of the tab's CPU).
 */
export async function resumePoint(
  bytes: Uint8Array,
  recipients: readonly string[],
  claims: readonly ResumeClaim[],
  keyed: (sha256Hex: string) => Promise<string>,
): Promise<number> {
  const size = bytes.byteLength;
  const named = new Set(recipients);
  const byName = new Map(
    claims.filter((c) => named.has(c.name) && c.offset > 0 && c.offset <= size)
      .map((c) => [c.name, c]),
  );
  if (recipients.length === 0 || recipients.some((r) => !byName.has(r))) {
    return 0;
  }
  const parts = new Map<number, Set<string>>();
  for (const claim of byName.values()) {
    const digests = parts.get(claim.offset) ?? new Set<string>();
    digests.add(claim.sha256);
    parts.set(claim.offset, digests);
  }
  if (parts.size > MAX_RESUME_PARTS) return 0;
  const offsets = [...parts.keys()].sort((a, b) => a - b);
  for (const offset of offsets) {
    const ours = await keyed(await sha256Hex(bytes.subarray(0, offset)));
    // A claim at this part that is not ours: that recipient holds another
    // file's bytes, and only 0 sends it the right ones.
    if ([...parts.get(offset)!].some((digest) => digest !== ours)) return 0;
  }
  return offsets[0]!;
}

/** SHA-256 as 64 lower-case hex digits (file_end's form). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return new Uint8Array(digest).toHex();
}
