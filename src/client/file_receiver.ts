/**
 * Receiving files: each offer goes to `consent` first (the user's policy or
 * answer) and nothing is written before it says yes; an accepted file goes
 * into the downloads folder unless it cannot fit, chunks are written in order
 * as they arrive (acknowledged as they reach the disk, which paces the
 * sender), and the file gets its final name only after its size and SHA-256
 * check out. It is then opened only if it is a passive kind (files/kind.ts).
 */

import { releaseBuffer } from "../crypto/bytes.ts";
import {
  FILE_TAG_BYTES,
  type FileAead,
  FileCipher,
} from "../crypto/file_cipher.ts";
import { verifyFileEnd } from "../crypto/file_signature.ts";
import {
  explainNotOpened,
  notOpenedByName,
  passiveKind,
  SNIFF_BYTES,
} from "../files/kind.ts";
import { openFile } from "../files/open.ts";
import { partialKey, partialOpenTo } from "../files/partials.ts";
import { IncomingFile, SaveError, sizeRefusal } from "../files/save.ts";
import {
  FILE_ACK_BYTES,
  FILE_WINDOW_BYTES,
  MAX_FILE_CHUNK_BYTES,
} from "../protocol/limits.ts";
import type { FileOfferNotice, ServerMessage } from "../protocol/messages.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { briefClause, type ChatClient } from "./chat_client.ts";
import { fileKeyOfOffer } from "./file_key.ts";
import { duplicateOfferWarning } from "./consent.ts";
import type { Place } from "./in_turn.ts";
import {
  claimWhole,
  endsAsReceived,
  offeredAgain,
  type ReceivedFile,
  type ReceivedFiles,
} from "./received_files.ts";
import { receivingRefusal } from "./receiving_share.ts";
import { reasonForSender } from "./reason_for_sender.ts";
import { resumedPart } from "./render.ts";

/** Chunks opened ahead of the one being written, at most. */
const OPENS_AHEAD = 2;
/**
 * Chunks held before the file can take them: twice the window a sender may
 * have in flight (docs/PROTOCOL.md 5.6), then the transfer fails.
 */
const MAX_EARLY_BYTES = 2 * FILE_WINDOW_BYTES;
/**
 * What is staged (less than FILE_ACK_BYTES) is written at the latest this
 * long after it was staged: a line that trickles, or a sender that stopped,
 * still gets its bytes written and shown (and acknowledged once they add up
 * to FILE_ACK_BYTES). Not whenever no chunk waits, as before: to a group,
 * chunks come one by one, and writing each alone cost the receivers 10-25 %
 * more CPU (session 13: `git show 12533c7:bench/BASELINE.md`, "Files,
 * session 13").
 */
const IDLE_WRITE_MS = 20;

export interface ReceiverOptions {
  downloadsDir: string;
  /** The downloads folder is chat's default one, kept 0700 (save.ts). */
  ownDownloadsDir?: boolean;
  /** Largest file accepted, whatever the sender declares. */
  maxFileBytes: number;
  /** Open received files with the platform opener (or `openWith`). */
  open: boolean;
  /** Replaces the platform opener (`--open-with`). */
  openWith: string[] | null;
  /**
   * Whether to take an offer; nothing is written before it resolves with
   * "accept". "no_answer" declines as the user not answering in time.
   * `named`: the offer's `name` is the file's (false when it was to come
   * end to end with a key not waited for, see `declines`).
   */
  consent: (
    offer: FileOfferNotice,
    named: boolean,
  ) => Promise<ConsentAnswer>;
  /**
   * Whether `consent` declines `offer` whatever its file and name (the
   * --accept-files policy, an ignored sender): its key, if it is to come
   * end to end, is then not waited for, and the sender hears "declined" at
   * once rather than a refusal for a key that had not come.
   */
  declines?: (offer: FileOfferNotice) => boolean;
  /** Where user-facing lines go. */
  print: (line: string) => void;
  /** Where a file that did not arrive is reported (default: `print`). */
  printError?: (line: string) => void;
  /** Called as bytes reach the disk, for a progress display. */
  onProgress?: (offer: FileOfferNotice, received: number) => void;
  /**
   * Called when a transfer ends either way; `said`: why was said already
   * (a question about it needs no line of its own); `told`: settles once
   * why it ended is said, in the offer's turn (a next question waits for
   * it, not to come before that line).
   */
  onFinished?: (
    offer: FileOfferNotice,
    said?: boolean,
    told?: Promise<void>,
  ) => void;
  /** Called with a file saved, or why an accepted one was not (`--json`). */
  onResult?: (offer: FileOfferNotice, result: ReceiveResult) => void;
  /**
   * Keep what arrived of a file whose transfer broke (a lost connection, a
   * sender that left) and continue it when the same sender offers the same
   * file again (files/partials.ts). Without it a broken transfer leaves
   * nothing behind.
   */
  resume?: boolean;
  /**
   * The file key of an offer, or why it cannot be taken (file_key_share.ts
   * `receiveFileKey`); `wait: false`: only a key already here. Without it,
   * the key the offer carries.
   */
  fileKey?: (
    offer: FileOfferNotice,
    wait: boolean,
    since: number,
  ) => FileKeyResult | Promise<FileKeyResult>;
  /**
   * Holds the offer's place among the lines shown, when it comes (in_turn.ts
   * `hold`): the lines that came after it wait until it is shown (asked
   * about, taken or declined) or refused. Its steps wait for those before
   * it (`ready`), then the key (`fileKey`) is taken. Without it, an offer
   * is dealt with at once.
   */
  place?: (offer: FileOfferNotice) => Place;
  /**
   * A synchronous AES-GCM for the chunks (native_aead.ts `fileAead`): each
   * chunk is then opened just before it is written, into one buffer per
   * transfer. Without it, WebCrypto opens a few ahead, each into a buffer
   * of its own.
   */
  fileAead?: FileAead | null;
  /**
   * Files received whole a moment ago (received_files.ts): the same file
   * offered again by the same sender (its connection broke before it heard
   * the file had arrived) is claimed whole and not saved again.
   */
  received?: ReceivedFiles;
}

export type ReceiveResult =
  | { ok: true; name: string; path: string }
  /** `withdrawn`: the sender took the offer back before it began. */
  | { ok: false; reason: string; withdrawn?: true };

/**
 * An offer's file key and the file's name (end to end, the offer's own is a
 * placeholder: file_key_share.ts), or why it cannot be taken.
 */
export type FileKeyResult =
  | {
    key: Uint8Array<ArrayBuffer>;
    name?: string;
    /** A group file's: `file_end` must be signed by it (file_signature.ts). */
    verifyKey?: Uint8Array<ArrayBuffer>;
  }
  | { error: string };

/**
 * How an offer was answered. `accept_asked`: taken by the user's answer to
 * the question (consent.ts offerQuestion), which said already when the
 * file's name keeps it from being opened: that is not said again once saved.
 */
export type ConsentAnswer = "accept" | "accept_asked" | "decline" | "no_answer";

interface Incoming {
  offer: FileOfferNotice;
  /**
   * `offer.name` is the file's: false while the name is to come end to end
   * with the key (the offer's is then a placeholder).
   */
  named: boolean;
  /** Refused at once (past a share), its name being looked for: not counted. */
  refusing: boolean;
  /** Every step for this file runs after the previous one, in arrival order. */
  chain: Promise<void>;
  /** Its place among the lines shown, until it is shown or refused. */
  place: Place | null;
  /**
   * When the offer came (performance.now(), which a clock set meanwhile
   * leaves alone): its key's wait counts from there.
   */
  arrived: number;
  file: IncomingFile | null;
  /**
   * We told the server to send (or it is an older server that sends without
   * asking). Until then a chunk is the server breaking the rules: dropped,
   * not queued, so it cannot pile up in memory while the user decides.
   */
  accepted: boolean;
  /**
   * The user was asked about it, the question saying whether its name
   * keeps it from being opened (notOpenedByName).
   */
  asked: boolean;
  received: number;
  acked: number;
  failed: boolean;
  /** The first chunk (or the end) has said where the data starts. */
  started: boolean;
  /** The partial's key, when this transfer holds it (it keeps what arrives). */
  key: string | null;
  /** Opens the chunks, once accepted. */
  cipher: FileCipher | null;
  /**
   * The sender's key for this group file's `file_end` signature, which came
   * end to end with the file key; null when no signature is due.
   */
  verifyKey: Uint8Array<ArrayBuffer> | null;
  /**
   * Bytes of chunks that came before the file could take them (no cipher
   * yet: its key or the user's answer still awaited), held in memory.
   */
  early: number;
  /** Chunks received so far: the next one's number (in its AAD). */
  opened: number;
  /** Chunks being opened, or opened and not yet written. */
  opening: number;
  /**
   * Chunks opened natively and not yet written: opened straight into this
   * buffer (allocated at the first chunk), written when it holds
   * {@link FILE_ACK_BYTES}, the file is complete, or IDLE_WRITE_MS after.
   */
  staged: { buffer: Uint8Array; length: number } | null;
  /** Writes what is staged at the latest IDLE_WRITE_MS after it was. */
  idleWrite: ReturnType<typeof setTimeout> | null;
  /**
   * The same file from the same sender, received whole a moment ago and
   * claimed whole: nothing of this offer is written, and its end is
   * checked against that file's SHA-256.
   */
  already: { key: string; file: ReceivedFile } | null;
}

/** A transfer being received, as /transfers shows it. */
export interface ReceivingInfo {
  xfer: number;
  offer: FileOfferNotice;
  received: number;
  /** Where this transfer resumed from (0 when it started afresh). */
  resumedAt: number;
  partPath: string;
}

/**
 * What the user is told of a broken transfer whose part is kept: it goes on
 * when the sender offers the file again (as chat connect's sender does once
 * back). Nothing for an offer that cannot be resumed (no file key).
 */
function keptNote(incoming: Incoming, reason: string): string {
  if (incoming.key === null) return "";
  // After the reason's own sentence: the server's have no full stop.
  const stop = /[.!?]$/.test(reason) ? "" : ".";
  return `${stop} What arrived is kept: it resumes if ${
    sanitizeForTerminal(incoming.offer.from)
  } offers it again.`;
}

export class FileReceiver {
  #client: ChatClient;
  #options: ReceiverOptions;
  #incoming = new Map<number, Incoming>();
  /** Failed transfers whose .part files are still being removed. */
  #aborting = new Set<Promise<void>>();
  #resumedAt = new Map<number, number>();

  constructor(client: ChatClient, options: ReceiverOptions) {
    this.#client = client;
    this.#options = options;
    client.onMessage(({ message, body }) => this.#dispatch(message, body));
    client.ended.then((ending) => {
      // In a few words: the session says the whole reason once.
      const why = briefClause(ending);
      for (const incoming of this.#incoming.values()) {
        // What arrived stays (`keep`) where the offer was resumable: the
        // same offer made again goes on from there, as chat connect's
        // sender makes it once back.
        this.#fail(incoming, why, false, true, keptNote(incoming, why));
      }
    });
  }

  /** Transfers being received (accepted), for /transfers. */
  list(): ReceivingInfo[] {
    return [...this.#incoming.values()].filter((i) =>
      i.file !== null && !i.failed
    ).map((
      i,
    ) => ({
      xfer: i.offer.xfer,
      offer: i.offer,
      received: i.received,
      resumedAt: this.#resumedAt.get(i.offer.xfer) ?? 0,
      partPath: i.file!.partPath,
    }));
  }

  /**
   * The user is leaving: senders are told (so they do not offer again at
   * once), and what arrived is kept for resuming.
   */
  async leave(): Promise<void> {
    let told = false;
    for (const incoming of [...this.#incoming.values()]) {
      if (incoming.failed) continue;
      if (incoming.accepted) {
        told = true;
        this.#client.post({
          t: "file_cancel",
          xfer: incoming.offer.xfer,
          reason: "they left the chat",
        });
      }
      this.#fail(incoming, "you left the chat", false, true);
    }
    // Answered only after the server handled what came before it.
    if (told) await this.#client.request({ t: "ping" }).catch(() => {});
  }

  /**
   * Stops receiving `xfer` (/cancel): the sender is told, nothing is kept.
   * Resolves once the partial file is gone (false: no such transfer): the
   * sender may hear of the cancel sooner than the disk is done.
   */
  async cancel(xfer: number): Promise<boolean> {
    const incoming = this.#incoming.get(xfer);
    if (incoming === undefined) return false;
    this.#client.post({ t: "file_cancel", xfer, reason: "cancelled" });
    // Said once, by /cancel ("Cancelled receiving ..."), not as an error too.
    this.#fail(incoming, "you cancelled it", false, false, "", "cancelled");
    await incoming.chain.catch(() => {});
    return true;
  }

  /** Resolves when every transfer in progress has finished either way. */
  async idle(): Promise<void> {
    while (this.#incoming.size > 0 || this.#aborting.size > 0) {
      await Promise.all([
        ...[...this.#incoming.values()].map((i) => i.chain),
        ...this.#aborting,
      ]);
    }
  }

  /** Returns, for a chunk, the promise of its write (it reads `body`). */
  #dispatch(
    message: ServerMessage,
    body: Uint8Array,
  ): Promise<void> | undefined {
    switch (message.t) {
      case "file_offer":
        this.#offer(message);
        return;
      case "file_chunk": {
        const incoming = this.#incoming.get(message.xfer);
        if (incoming === undefined || incoming.failed) return;
        if (!incoming.accepted) return;
        if (incoming.already !== null) {
          // Sent from below its end all the same (the sender's file is not
          // the one here, or a member of its group holds less): passed
          // over, acknowledged, and the end tells whether it is ours.
          const { offset } = message;
          const length = body.byteLength - FILE_TAG_BYTES;
          return this.#then(incoming, () => {
            this.#passOver(incoming, offset, length);
            return Promise.resolve();
          });
        }
        const cipher = incoming.cipher;
        if (cipher === null) {
          // An older server sends before it is asked, up to its window;
          // more than that, held until the key comes, is a server filling
          // this client's memory (an offer without `timeout` is taken as
          // accepted: only --accept-files all takes one).
          incoming.early += body.byteLength;
          if (incoming.early > MAX_EARLY_BYTES) {
            this.#fail(
              incoming,
              "the server sent more of it than its window before it could be opened",
              true,
            );
            return;
          }
        }
        const index = incoming.opened++;
        const { offset } = message;
        if (cipher !== null && cipher.native) {
          return this.#then(
            incoming,
            () => this.#stage(incoming, cipher, index, offset, body),
          );
        }
        // Opened now, on WebCrypto's threads, while earlier chunks are still
        // being written (a few at a time, each holding its plaintext until
        // written); #write checks the offset it was opened for.
        const open = () => this.#openChunk(incoming, index, offset, body);
        const opening = incoming.opening < OPENS_AHEAD ? open() : null;
        return this.#then(incoming, async () => {
          const opened = await (opening ?? open()).finally(() =>
            incoming.opening--
          );
          await this.#write(incoming, offset, opened);
        });
      }
      case "file_end": {
        const incoming = this.#incoming.get(message.xfer);
        if (incoming === undefined || incoming.failed) return;
        if (!incoming.accepted) return;
        this.#then(
          incoming,
          () => this.#finish(incoming, message.sha256, message.sig),
        );
        return;
      }
      case "file_cancel": {
        const incoming = this.#incoming.get(message.xfer);
        if (incoming !== undefined && message.withdrawn === true) {
          // Taken back before it began: the question goes, and it is said
          // as what the sender did, not as a file that failed to arrive.
          // Said in the offer's place when it is not shown yet (named by
          // then if its name came), else in turn (#fail).
          this.#fail(
            incoming,
            message.reason,
            false,
            false,
            "",
            "withdrawn",
            true,
          );
          return;
        }
        if (incoming !== undefined) {
          // Broken on the sender's side (it left, its connection dropped):
          // what arrived is kept, and the line says so, as for our own
          // connection's break; it read as if the file were lost.
          const keep = message.resumable === true;
          this.#fail(
            incoming,
            message.reason,
            false,
            keep,
            keep ? keptNote(incoming, message.reason) : "",
            "error",
            true,
          );
        }
        return;
      }
      default:
        return;
    }
  }

  #offer(offer: FileOfferNotice): void {
    if (this.#incoming.has(offer.xfer)) {
      // Warned of in the place the offer came in, as any offer is shown:
      // not before the lines that came ahead of it and still wait.
      const place = this.#options.place?.(offer);
      const warning = duplicateOfferWarning(offer);
      if (place === undefined) this.#options.print(warning);
      else {
        void place.ready.then(() => {
          this.#options.print(warning);
          place.release();
        });
      }
      return;
    }
    const incoming: Incoming = {
      offer,
      named: offer.key_id === undefined,
      refusing: false,
      chain: Promise.resolve(),
      // Held at once, in the order the offer came among the other messages.
      place: this.#options.place?.(offer) ?? null,
      arrived: performance.now(),
      file: null,
      // An older server sends at once: its data is expected before any
      // answer (only --accept-files all takes such offers, see consent.ts).
      accepted: offer.timeout === undefined,
      asked: false,
      received: 0,
      acked: 0,
      failed: false,
      started: false,
      key: null,
      cipher: null,
      verifyKey: null,
      early: 0,
      opened: 0,
      opening: 0,
      staged: null,
      idleWrite: null,
      already: null,
    };
    // Each file coming in holds a .part and a staging buffer until it ends;
    // offers past MAX_RECEIVING at once (others' to a client that takes
    // everything, then left hanging), or past their sender's share of them,
    // are refused (receiving_share.ts).
    // Those refused already (said once their place comes) no longer count.
    const busy = receivingRefusal(
      offer.from,
      [...this.#incoming.values()].flatMap((i) =>
        i.failed || i.refusing ? [] : [i.offer.from]
      ),
    );
    this.#incoming.set(offer.xfer, incoming);
    if (busy !== null) {
      // Refused at once: the sender hears now, the user in the offer's
      // place (#fail), and the place is let go once said. Named if its key
      // (and with it its name) came end to end before it, as it should;
      // counted by no share meanwhile.
      incoming.refusing = true;
      void this.#nameIfHere(incoming).catch(() => {}).then(() =>
        this.#fail(incoming, busy, true)
      );
      return;
    }
    // A refusal lets its place go once said (#fail), in that place.
    this.#then(incoming, async () => {
      await this.#answer(incoming);
      if (!incoming.failed) incoming.place?.release();
    });
  }

  /**
   * Takes the offer's key and asks whether to take it; its place among the
   * lines shown is let go once it is asked about (or refused).
   */
  async #answer(incoming: Incoming): Promise<void> {
    let { offer } = incoming;
    // What came before the offer is shown first: its key among it.
    await incoming.place?.ready;
    if (incoming.failed) return;
    // Nobody is asked about a file that could not be taken anyway.
    const tooLarge = sizeRefusal(offer.size, this.#options.maxFileBytes);
    if (tooLarge !== null) {
      await this.#nameIfHere(incoming);
      throw new SaveError(tooLarge);
    }
    // An offer declined anyway is declined now: its key (and with it the
    // file's name) is taken only if it is here already.
    const declining = this.#options.declines?.(offer) ?? false;
    // The key first: nobody is asked about a file that could not be
    // opened, and a file whose name travels end to end with its key is
    // shown (and saved) under that name only. A key sent end to end
    // normally came before the offer; it is awaited at most 10 s.
    const fileKey =
      await (this.#options.fileKey === undefined
        ? fileKeyOfOffer(offer)
        : this.#options.fileKey(offer, !declining, incoming.arrived));
    // Cancelled while its key was awaited: already reported, and nobody
    // is to be asked about it now.
    if (incoming.failed) {
      return;
    }
    let cipher: FileCipher | null = null;
    const refusal = fileKey === null
      ? `Cannot take '${offer.name}': the offer carries no file key`
      : "error" in fileKey
      ? fileKey.error
      : null;
    if (fileKey !== null && !("error" in fileKey)) {
      if (!(fileKey instanceof Uint8Array) && fileKey.name !== undefined) {
        offer = { ...offer, name: fileKey.name };
        incoming.offer = offer;
      }
      if (!(fileKey instanceof Uint8Array)) {
        incoming.verifyKey = fileKey.verifyKey ?? null;
      }
      // A key in hand comes with the name (end to end, or in the clear
      // with a key in the clear).
      incoming.named = true;
      cipher = incoming.cipher = await FileCipher.create(
        fileKey instanceof Uint8Array ? fileKey : fileKey.key,
        offer.xfer,
        offer.size,
        this.#options.fileAead ?? null,
      );
    } else if (!declining) {
      throw new SaveError(refusal!);
    }
    // The same file, had whole from the same sender a moment ago: offered
    // again because its sender did not hear that it arrived (its connection
    // broke), with its digest. Claimed whole, without asking again; nothing
    // is saved twice. Another file under its name and size is asked about.
    const known = cipher === null || declining ? null : this.#known(offer);
    const again = known !== null && offer.timeout !== undefined &&
      await offeredAgain(offer, known.file, cipher!);
    if (incoming.failed) return;
    if (known !== null && again) {
      incoming.already = known;
      incoming.place?.release();
      const claim = await claimWhole(offer, known.file, cipher!);
      if (incoming.failed) return;
      incoming.accepted = true;
      this.#client.post(claim);
      return;
    }
    const answering = this.#options.consent(offer, incoming.named);
    // Shown (a question, an event, a line) or declined unseen: the lines
    // after it go on while the user decides.
    incoming.place?.release();
    const answer = await answering;
    // Cancelled while the user was being asked: already reported.
    if (incoming.failed) {
      return;
    }
    incoming.asked = answer === "accept_asked";
    if (answer !== "accept" && answer !== "accept_asked") {
      incoming.failed = true;
      this.#incoming.delete(offer.xfer);
      this.#client.post(
        answer === "no_answer"
          ? { t: "file_cancel", xfer: offer.xfer, reason: "did not answer" }
          : { t: "file_decline", xfer: offer.xfer },
      );
      this.#options.onFinished?.(offer);
      return;
    }
    // Accepted without a key only if `declines` said `consent` would
    // decline, and it did not (the user's trust changed since, say).
    if (cipher === null) {
      throw new SaveError(refusal!);
    }
    // Resumable only for a sender the server vouches for by key, only
    // by the sender it came from (partials.ts partialOpenTo): a partial
    // of someone else's is left as it is. And only by one transfer at a
    // time, of any process (the partial's lock, files/save.ts): another
    // receives the file afresh.
    const key = this.#options.resume && offer.fingerprint !== undefined
      ? partialKey(offer.fingerprint, offer.name, offer.size)
      : null;
    const theirs = key !== null &&
      await partialOpenTo(this.#options.downloadsDir, key, offer.from);
    const resume = key !== null && theirs;
    incoming.file = await IncomingFile.create(
      this.#options.downloadsDir,
      offer.name,
      offer.size,
      {
        maxBytes: this.#options.maxFileBytes,
        ownFolder: this.#options.ownDownloadsDir ?? false,
        ...(resume
          ? {
            resume: {
              key: key!,
              meta: {
                v: 1,
                from: offer.from,
                fingerprint: offer.fingerprint!,
                name: offer.name,
                size: offer.size,
              },
            },
          }
          : {}),
      },
    );
    if (incoming.file.resumable) {
      incoming.key = key;
    }
    const held = incoming.file.resumeClaim();
    // Its SHA-256 keyed, as the sender checks it (file_cipher.ts).
    const claim = held === null ? null : {
      offset: held.offset,
      sha256: await cipher.keyedDigest(held.sha256),
    };
    if (claim !== null && offer.timeout !== undefined) {
      this.#options.print(
        `${sanitizeForTerminal(offer.name)} from ${
          sanitizeForTerminal(offer.from)
        }: ${
          resumedPart(claim.offset, offer.size)
        } are already here; asking to resume`,
      );
    }
    // An older server sends without waiting for an answer (consent.ts).
    if (offer.timeout !== undefined) {
      incoming.accepted = true;
      this.#client.post({
        t: "file_accept",
        xfer: offer.xfer,
        ...(claim === null ? {} : claim),
      });
    } else if (incoming.file.received > 0) {
      // It cannot resume: start afresh.
      await incoming.file.rewindTo(0);
    }
    // An empty file has no chunks: acknowledge it at once.
    if (offer.size === 0) {
      this.#ack(incoming);
    }
  }

  /** The first chunk or the end says where the data starts. */
  async #start(incoming: Incoming, offset: number): Promise<void> {
    if (incoming.started) return;
    incoming.started = true;
    const file = incoming.file!;
    await file.rewindTo(offset);
    incoming.received = offset;
    incoming.acked = offset;
    if (offset > 0) {
      this.#resumedAt.set(incoming.offer.xfer, offset);
      this.#options.print(
        `Resuming ${sanitizeForTerminal(incoming.offer.name)} from ${
          sanitizeForTerminal(incoming.offer.from)
        } at ${resumedPart(offset, incoming.offer.size)}`,
      );
    }
  }

  /**
   * Opens the next chunk of `incoming`, numbered in arrival order, for the
   * offset it says it has (#write then checks that offset is the expected
   * one): a chunk reordered, replayed or altered on the way yields null.
   */
  #openChunk(
    incoming: Incoming,
    index: number,
    offset: number,
    body: Uint8Array,
  ): Promise<{ index: number; chunk: Uint8Array<ArrayBuffer> | null }> {
    incoming.opening++;
    const cipher = incoming.cipher;
    if (cipher === null) return Promise.resolve({ index, chunk: null });
    return cipher.open({ index, offset }, body).then((chunk) => ({
      index,
      chunk,
    }));
  }

  /**
   * Opens the chunk at `offset` natively into the transfer's staging buffer
   * (#write's checks, in the same order), and writes what is staged once it
   * reaches FILE_ACK_BYTES or the file is complete, or at the latest
   * IDLE_WRITE_MS after it was staged: a few large writes rather than one
   * per chunk (each write is an operation on another thread), and nothing
   * held for long while the line is idle.
   */
  async #stage(
    incoming: Incoming,
    cipher: FileCipher,
    index: number,
    offset: number,
    body: Uint8Array,
  ): Promise<void> {
    await this.#start(incoming, offset);
    incoming.staged ??= {
      buffer: new Uint8Array(FILE_ACK_BYTES + MAX_FILE_CHUNK_BYTES),
      length: 0,
    };
    const staged = incoming.staged;
    this.#checkOffset(incoming, offset, incoming.received + staged.length);
    const chunk = cipher.openInto(
      { index, offset },
      body,
      staged.buffer.subarray(staged.length),
    );
    if (chunk === null) throw this.#unauthentic(incoming, index, offset);
    staged.length += chunk.length;
    if (
      staged.length >= FILE_ACK_BYTES ||
      incoming.received + staged.length === incoming.offer.size
    ) await this.#writeStaged(incoming);
    else {
      incoming.idleWrite ??= setTimeout(() => {
        incoming.idleWrite = null;
        this.#then(incoming, () => this.#writeStaged(incoming));
      }, IDLE_WRITE_MS);
    }
  }

  /**
   * Writes what is staged (see #stage); `tell`: show the progress and
   * acknowledge it when due (not for a transfer that already ended).
   */
  async #writeStaged(incoming: Incoming, tell = true): Promise<void> {
    this.#stopIdleWrite(incoming);
    const staged = incoming.staged;
    if (staged === null || staged.length === 0) return;
    await incoming.file!.write(staged.buffer.subarray(0, staged.length));
    const length = staged.length;
    staged.length = 0;
    if (tell) this.#wrote(incoming, length);
    else incoming.received += length;
  }

  #checkOffset(incoming: Incoming, offset: number, expected: number): void {
    if (offset !== expected) {
      throw new SaveError(
        `Cannot save '${incoming.offer.name}': a chunk came at offset ${offset}, expected ${expected}`,
      );
    }
  }

  #unauthentic(incoming: Incoming, index: number, offset: number): SaveError {
    return new SaveError(
      `Cannot save '${incoming.offer.name}': chunk ${index} (at offset ${offset}) failed authentication`,
    );
  }

  async #write(
    incoming: Incoming,
    offset: number,
    { index, chunk }: { index: number; chunk: Uint8Array<ArrayBuffer> | null },
  ): Promise<void> {
    await this.#start(incoming, offset);
    this.#checkOffset(incoming, offset, incoming.received);
    if (chunk === null) throw this.#unauthentic(incoming, index, offset);
    await incoming.file!.write(chunk);
    const length = chunk.byteLength;
    // Written and hashed: freed now rather than left to the collector.
    releaseBuffer(chunk.buffer);
    this.#wrote(incoming, length);
  }

  /** `length` more bytes are written: progress, and an ack when due. */
  #wrote(incoming: Incoming, length: number): void {
    incoming.received += length;
    // A write under way when the transfer ended (its connection lost, say)
    // lands after onFinished: its progress would stay on the status row for
    // good, and the transfer it would acknowledge is over.
    if (incoming.failed) return;
    this.#options.onProgress?.(incoming.offer, incoming.received);
    if (
      incoming.received - incoming.acked >= FILE_ACK_BYTES ||
      incoming.received === incoming.offer.size
    ) this.#ack(incoming);
  }

  #ack(incoming: Incoming): void {
    incoming.acked = incoming.received;
    this.#client.post({
      t: "file_ack",
      xfer: incoming.offer.xfer,
      received: incoming.received,
    });
  }

  async #finish(
    incoming: Incoming,
    sha256: string,
    signature: string | undefined,
  ): Promise<void> {
    const { offer } = incoming;
    // Before anything is kept: every member holds a group file's key, so
    // only its sender's signature says the file is the sender's.
    if (
      incoming.verifyKey !== null &&
      !await verifyFileEnd(incoming.verifyKey, sha256, signature)
    ) {
      throw new SaveError(
        `the file is not signed by ${offer.from} (another member of the group, with the server's help, may have replaced it)`,
      );
    }
    if (incoming.already !== null) return await this.#hadIt(incoming, sha256);
    await this.#start(incoming, offer.size);
    await this.#writeStaged(incoming);
    const cipher = incoming.cipher!;
    const saved = await incoming.file!.finish(
      sha256,
      (digest) => cipher.keyedDigest(digest),
    );
    this.#arrived(incoming);
    if (offer.fingerprint !== undefined && offer.size > 0) {
      this.#options.received?.remember(
        partialKey(offer.fingerprint, offer.name, offer.size),
        {
          from: offer.from,
          sha256: saved.sha256,
          path: saved.path,
          name: saved.name,
          kept: stillSaved(saved.path, offer.size),
        },
      );
    }
    this.#options.onFinished?.(offer);
    const from = sanitizeForTerminal(offer.from);
    const name = sanitizeForTerminal(saved.name);
    this.#options.print(
      offer.group === undefined
        ? `You received file ${name} from ${from}.`
        : `[Receive ${name} from Group ${
          sanitizeForTerminal(offer.group)
        } ${from}].`,
    );
    this.#options.print(`Saved to ${sanitizeForTerminal(saved.path)}`);
    this.#options.onResult?.(offer, {
      ok: true,
      name: saved.name,
      path: saved.path,
    });
    if (this.#options.open) {
      await this.#open(saved.path, saved.name, incoming.asked);
    }
  }

  /**
   * The file received whole a moment ago from the same sender under the
   * same name and size (`received`), if any; not for an empty file (a
   * claim is of 1 byte or more) nor for a sender the server did not vouch
   * for by key.
   */
  #known(
    offer: FileOfferNotice,
  ): { key: string; file: ReceivedFile } | null {
    const received = this.#options.received;
    if (
      received === undefined || offer.fingerprint === undefined ||
      offer.size === 0
    ) return null;
    const key = partialKey(offer.fingerprint, offer.name, offer.size);
    const file = received.find(key, offer.from);
    return file === null ? null : { key, file };
  }

  /** A chunk of a file already here (`already`): counted, not written. */
  #passOver(incoming: Incoming, offset: number, length: number): void {
    if (!incoming.started) {
      incoming.started = true;
      incoming.received = offset;
      incoming.acked = offset;
    }
    this.#checkOffset(incoming, offset, incoming.received);
    if (length < 1 || incoming.received + length > incoming.offer.size) {
      throw new SaveError(
        `Cannot take '${incoming.offer.name}': a chunk of ${length} bytes at offset ${offset} passes its size`,
      );
    }
    this.#wrote(incoming, length);
  }

  /**
   * The end of a file claimed whole (`already`): the sender's file is the
   * one here (its keyed SHA-256 says so), which is said, and the sender
   * told it arrived; or it is not, and it is refused, to be offered again
   * and asked about afresh.
   */
  async #hadIt(incoming: Incoming, sha256: string): Promise<void> {
    const { offer } = incoming;
    const { key, file } = incoming.already!;
    const same = (!incoming.started || incoming.received === offer.size) &&
      await endsAsReceived(file, incoming.cipher!, sha256);
    if (!same) {
      this.#options.received?.forget(key);
      throw new SaveError(
        `Cannot take '${offer.name}' again: it is not the file received from ${offer.from} a moment ago (${file.path}); it is asked about if offered again`,
      );
    }
    this.#arrived(incoming);
    this.#options.onFinished?.(offer, true);
    // A group's file names its group, as its first arrival did
    // ("[Receive notes.txt from Group crew alice]"): not as if sent to
    // this user alone.
    const to = offer.group === undefined
      ? ""
      : ` to group ${sanitizeForTerminal(offer.group)}`;
    this.#options.print(
      `${sanitizeForTerminal(offer.from)} sent ${
        sanitizeForTerminal(offer.name)
      }${to} again, which is here already: not saved twice (${
        sanitizeForTerminal(file.path)
      })`,
    );
  }

  /** `asked`: the question about it said what its name keeps from opening. */
  async #open(path: string, name: string, asked: boolean): Promise<void> {
    const verdict = passiveKind(name, await readHead(path));
    if (!verdict.ok) {
      // The offer's question said so already (`.bin: will be saved, not
      // opened`): said once. What the content gives away is said here.
      if (asked && notOpenedByName(name) !== null) return;
      this.#options.print(
        sanitizeForTerminal(explainNotOpened(name, verdict.why)),
      );
      return;
    }
    const opened = openFile(path, {
      ...this.#options.openWith ? { command: this.#options.openWith } : {},
      // The file is there all the same: said where, as it opens nothing.
      onFailed: (program, status) =>
        this.#options.print(sanitizeForTerminal(
          `Could not open ${name}: ${program} ended with status ${status}; the file is saved as ${path}`,
        )),
    });
    // The warning names the file, whose name the sender chose.
    if (!opened.ok) this.#options.print(sanitizeForTerminal(opened.warning));
  }

  /** Runs `step` after the transfer's previous steps; returns when it is done. */
  #then(incoming: Incoming, step: () => Promise<void>): Promise<void> {
    incoming.chain = incoming.chain.then(async () => {
      if (incoming.failed) return;
      try {
        await step();
      } catch (error) {
        this.#fail(incoming, (error as Error).message, true);
      }
    });
    return incoming.chain;
  }

  #stopIdleWrite(incoming: Incoming): void {
    if (incoming.idleWrite === null) return;
    clearTimeout(incoming.idleWrite);
    incoming.idleWrite = null;
  }

  /** The file is here (saved, or had already): the sender is told so. */
  #arrived(incoming: Incoming): void {
    this.#release(incoming);
    this.#client.post({
      t: "file_done",
      xfer: incoming.offer.xfer,
      ok: true,
      reason: "",
    });
  }

  #release(incoming: Incoming): void {
    this.#stopIdleWrite(incoming);
    this.#incoming.delete(incoming.offer.xfer);
    this.#resumedAt.delete(incoming.offer.xfer);
  }

  /**
   * Takes the key of an offer refused before it was asked for, if it is
   * here already (end to end, it came before the offer), for its name: the
   * refusal then names the file (and a --json `file_failed` event has its
   * name, not the offer's placeholder `(end-to-end)`). Nothing is waited
   * for, and the key goes with the refused offer.
   */
  async #nameIfHere(incoming: Incoming): Promise<void> {
    if (incoming.named || this.#options.fileKey === undefined) return;
    const got = await this.#options.fileKey(
      incoming.offer,
      false,
      incoming.arrived,
    );
    if (incoming.failed || "error" in got || got.name === undefined) return;
    incoming.offer = { ...incoming.offer, name: got.name };
    incoming.named = true;
  }

  /**
   * Ends a transfer on this side. No partial file stays behind unless
   * `keep`: the transfer broke and the file is resumable. `more`: words
   * for the user after `reason` (safe to print), not for the server or
   * `onResult`. `said`: the failure is said as what someone did instead
   * of as an error (the user cancelled it, the sender took it back).
   */
  #fail(
    incoming: Incoming,
    reason: string,
    tellServer: boolean,
    keep = false,
    more = "",
    said: "error" | "cancelled" | "withdrawn" = "error",
    arrived = false,
  ): void {
    if (incoming.failed) return;
    incoming.failed = true;
    const { offer } = incoming;
    // Waits for a write in progress, so the abort removes the .part for good.
    // What is staged was opened and checked: kept with the rest (a write
    // that fails here leaves the part as it was).
    const aborted = incoming.chain.then(async () => {
      if (!keep) return await incoming.file?.abort(reason);
      await this.#writeStaged(incoming, false).catch(() => {});
      await incoming.file?.suspend(reason);
    }).finally(() => this.#release(incoming));
    incoming.chain = aborted;
    this.#aborting.add(aborted);
    aborted.finally(() => this.#aborting.delete(aborted));
    if (tellServer) {
      this.#client.post({
        t: "file_done",
        xfer: offer.xfer,
        ok: false,
        // Not taken: its sender reads it as a decline, which the server
        // cuts (reason_for_sender.ts).
        reason: incoming.accepted ? reason : reasonForSender(reason),
      });
    }
    const told = Promise.withResolvers<void>();
    this.#options.onFinished?.(offer, said !== "error", told.promise);
    const tell = () => {
      try {
        sayWhy();
      } finally {
        told.resolve();
      }
    };
    const sayWhy = () => {
      // Named as it is when said: its name may have come end to end
      // meanwhile.
      const name = incoming.named
        ? sanitizeForTerminal(incoming.offer.name)
        : null;
      const from = sanitizeForTerminal(offer.from);
      if (said === "withdrawn") {
        this.#options.print(
          `${from} took back the offer of ${name ?? "a file"}.`,
        );
      } else if (said === "error") {
        (this.#options.printError ?? this.#options.print)(
          `ERROR: ${
            name === null ? "A file" : `File ${name}`
          } from ${from} was not received: ${
            sanitizeForTerminal(reason)
          }${more}`,
        );
      }
      this.#options.onResult?.(incoming.offer, {
        ok: false,
        reason,
        ...(said === "withdrawn" ? { withdrawn: true as const } : {}),
      });
    };
    // Said in the offer's place while it holds one (its key awaited, or
    // lines before it not shown yet): not before the lines that came ahead
    // of it. Then what came after it goes on. Told by the server once the
    // offer was shown (`arrived`), it is said in turn as a line would be.
    const place = incoming.place?.held === true
      ? incoming.place
      : arrived
      ? this.#options.place?.(offer) ?? null
      : null;
    if (place === null) {
      tell();
      incoming.place?.release();
      return;
    }
    void place.ready.then(() => {
      tell();
      place.release();
    });
  }
}

/** The first SNIFF_BYTES of the file (all of a shorter one). */
async function readHead(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(SNIFF_BYTES);
    let filled = 0;
    while (filled < head.length) {
      const read = await file.read(head.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    return head.subarray(0, filled);
  } finally {
    file.close();
  }
}

/**
 * Whether the file saved at `path` (`size` bytes) is still there as it was
 * saved (the same size and modification time), asked when it is offered
 * again (ReceivedFile.kept): one its user deleted, moved or changed since is
 * received afresh, not claimed whole while nothing of it is here.
 */
function stillSaved(path: string, size: number): () => boolean {
  const modified = statOf(path)?.mtime?.getTime() ?? null;
  return () => {
    const now = statOf(path);
    return now !== null && now.isFile && now.size === size &&
      (now.mtime?.getTime() ?? null) === modified;
  };
}

function statOf(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}
