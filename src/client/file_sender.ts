/**
 * Sending a file: offer it, stream it in chunks within the flow-control window
 * (the slowest recipient's acknowledgements) and the socket's backlog, send its
 * SHA-256 at the end, and collect each recipient's verdict.
 *
 * Each chunk is sealed once, with a key made for this offer
 * (crypto/file_cipher.ts), and the server relays it without opening it.
 *
 * Memory stays flat whatever the file size: one read buffer, reused, and
 * sealed chunks in a few buffers the channel hands back once each is on the
 * socket (chunk_buffers.ts).
 *
 * With a {@link FileAead} (chat connect: OpenSSL through FFI) a chunk is
 * read, hashed and sealed on the spot; without one (a test, a runtime
 * without FFI) WebCrypto seals a few chunks ahead on its threads while the
 * next ones are read.
 */

import { basename } from "node:path";
import { likelyFileName } from "./likely_file_name.ts";
import {
  FILE_TAG_BYTES,
  type FileAead,
  FileCipher,
  newFileKey,
} from "../crypto/file_cipher.ts";
import { createSha256, type Sha256 } from "../files/digest.ts";
import { FILE_CHUNK_BYTES, FILE_WINDOW_BYTES } from "../protocol/limits.ts";
import type {
  Declined,
  ResumeClaim,
  ServerMessage,
} from "../protocol/messages.ts";
import { briefClause, type ChatClient } from "./chat_client.ts";
import { ChunkBuffers } from "./chunk_buffers.ts";
import { fileKeyForOffer } from "./file_key.ts";
import { offerWithPatience } from "./offer_with_patience.ts";
import { takeBackOffer, TAKEN_BACK } from "./offer_withdrawal.ts";
import { SentFiles, type SentFileSteps } from "./sent_file_steps.ts";
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
} from "./sent_transfer.ts";
import { type KeyLine, keyLinesOf, type SharedKey } from "./file_key_share.ts";
import type { FileSigner } from "../crypto/file_signature.ts";
import { formatBytes, type SentFileOutcome } from "./render.ts";

export type SendTarget = { to: string } | { group: string };

export interface SendProgress {
  /** Bytes handed to the server so far. */
  sent: number;
  /** Bytes the slowest recipient has written to disk. */
  acked: number;
  size: number;
}

/** The socket may hold this much unsent before the sender reads more. */
const BACKLOG_LIMIT = 4 * 1024 * 1024;
const BACKLOG_POLL_MS = 1;
/** Chunks sealed at once through WebCrypto, ahead of the one being sent. */
const SEALS_IN_FLIGHT = 3;
/** What one read of the file asks for: 8 chunks. */
const READ_BLOCK_BYTES = 8 * FILE_CHUNK_BYTES;
/**
 * Sealed-chunk buffers kept for reuse: as many as the channel may hold at
 * once (the backlog allowed), which it hands back as it copies each into
 * its frame. Fewer (a read block's worth) still allocated fresh ones each
 * time the socket fell behind and caught up.
 */
const SPARE_CHUNK_BUFFERS = BACKLOG_LIMIT / FILE_CHUNK_BYTES;
/**
 * The largest file hashed before it is offered, so that its first offer
 * carries its digest (docs/PROTOCOL.md 5.6 "A file already received whole"):
 * sent again by hand, even from a client started since, the recipient that
 * has it whole recognises it rather than keeping a second copy. 64 MiB is
 * read and hashed in 0.1 to 0.3 s here; a larger file is offered at once,
 * without it (hashed as it is sent, its digest goes in an offer made again).
 */
export const OFFER_DIGEST_MAX_BYTES = 64 * 1024 * 1024;
/**
 * How long the hash before an offer may take: the lines typed after a
 * `/file` wait for its offer (they keep their order), so a slow disk (a USB
 * stick: 64 MiB in seconds) must not hold them. Past it the file is offered
 * without its digest, as a larger one is. A file of one read block (1 MiB)
 * is always hashed: the budget is looked at before each block.
 */
export const OFFER_DIGEST_BUDGET_MS = 250;

interface Outgoing extends SentTransfer {
  /** The file the user typed that this sends (`send`'s `fileNumber`). */
  fileNumber: number | undefined;
  name: string;
  size: number;
  target: SendTarget;
  sent: number;
  resumedAt: number;
  /**
   * The whole file's SHA-256 (hex, not keyed) once its `file_end` went
   * out: a recipient may have it whole though we never heard so.
   */
  ended: string | null;
}

/** A transfer being sent, as /transfers shows it. */
export interface SendingInfo {
  xfer: number;
  /** The file the user typed (`send`'s `fileNumber`): /transfers' number. */
  fileNumber?: number;
  name: string;
  size: number;
  target: SendTarget;
  /** Bytes the slowest recipient has written. */
  acked: number;
  /** Where this transfer resumed from (0 when it started afresh). */
  resumedAt: number;
}

/** An offer not answered yet, as /transfers shows it: it may be taken back. */
export interface OfferedInfo {
  /** The offer's request id, by which `withdraw` takes it back. */
  offer: number;
  /** The file the user typed (`send`'s `fileNumber`): /transfers' number. */
  fileNumber?: number;
  name: string;
  size: number;
  target: SendTarget;
}

/**
 * Sends an offer's file key to its recipients and says what the offer carries
 * (file_key_share.ts `shareFileKey`); without one, the key goes in the offer.
 */
export type ShareKey = (
  target: SendTarget,
  key: Uint8Array,
  name: string,
  size: number,
) => Promise<SharedKey>;

export class FileSender {
  #client: ChatClient;
  #outgoing = new Map<number, Outgoing>();
  /** Offers waiting for their answers, by request id, and how to stop each. */
  #offered = new Map<number, OfferedInfo & { withdraw: () => void }>();
  /** The files `send` is at, by their `fileNumber` (sent_file_steps.ts). */
  #files = new SentFiles();
  /** What each of those is, by `fileNumber`, for `betweenSteps`. */
  #started = new Map<number, { name: string; target: SendTarget }>();
  #shareKey: ShareKey | null;
  #aead: FileAead | null;

  /**
   * `aead`: a synchronous AES-GCM for the chunks (native_aead.ts
   * `fileAead`); without it, WebCrypto.
   */
  constructor(
    client: ChatClient,
    shareKey: ShareKey | null = null,
    aead: FileAead | null = null,
  ) {
    this.#client = client;
    this.#shareKey = shareKey;
    this.#aead = aead;
    client.onMessage(({ message }) => this.#dispatch(message));
    client.ended.then((ending) => {
      for (const outgoing of this.#outgoing.values()) {
        if (outgoing.cancelled === null) {
          // In a few words: the session says the whole reason once.
          outgoing.cancelled = briefClause(ending);
          outgoing.broken = true;
        }
        outgoing.wake();
      }
    });
  }

  /** Transfers being sent, for /transfers. */
  list(): SendingInfo[] {
    return [...this.#outgoing].map(([xfer, o]) => ({
      xfer,
      ...(o.fileNumber === undefined ? {} : { fileNumber: o.fileNumber }),
      name: o.name,
      size: o.size,
      target: o.target,
      acked: o.acked,
      resumedAt: o.resumedAt,
    }));
  }

  /** Offers waiting for their answers, for /transfers. */
  offers(): OfferedInfo[] {
    return [...this.#offered.values()].map((
      { offer, fileNumber, name, size, target },
    ) => ({
      offer,
      ...(fileNumber === undefined ? {} : { fileNumber }),
      name,
      size,
      target,
    }));
  }

  /**
   * Takes back offer `offer` before its answers are in (/cancel): the
   * server tells the recipients, whose clients drop the question. A server
   * that does not know this (`xfer` 0 is no transfer) ignores it, and the
   * transfer is cancelled when its reply comes (see `send`).
   */
  withdraw(offer: number): boolean {
    const offered = this.#offered.get(offer);
    if (offered === undefined) return false;
    takeBackOffer(this.#client, offer, offered.withdraw);
    return true;
  }

  /** The `fileNumber`s of the files `send` is at, listed or between steps. */
  filesUnderWay(): number[] {
    return this.#files.numbers();
  }

  /**
   * The files `send` is at that are neither an offer nor a transfer yet
   * (their key going out first): /quit names them too, and stops them.
   */
  betweenSteps(): { fileNumber: number; name: string; target: SendTarget }[] {
    const listed = new Set([
      ...[...this.#offered.values()].map((o) => o.fileNumber),
      ...[...this.#outgoing.values()].map((o) => o.fileNumber),
    ]);
    return [...this.#started].filter(([n]) => !listed.has(n)).map((
      [fileNumber, { name, target }],
    ) => ({ fileNumber, name, target }));
  }

  /**
   * Stops file `fileNumber` (`send`'s) at whatever step it is (/cancel):
   * takes back its offer, cancels its transfer, or, between the two, stops
   * it at its next step. Which it was stopped as; null when it is not
   * being sent, or already stopping.
   */
  stopFile(fileNumber: number): "offer" | "transfer" | null {
    for (const o of this.#offered.values()) {
      if (o.fileNumber === fileNumber) {
        return this.withdraw(o.offer) ? "offer" : null;
      }
    }
    for (const [xfer, o] of this.#outgoing) {
      if (o.fileNumber === fileNumber) {
        return this.cancel(xfer) ? "transfer" : null;
      }
    }
    return this.#files.stop(fileNumber);
  }

  /** Stops sending `xfer` (/cancel); every recipient is told. */
  cancel(xfer: number): boolean {
    return cancelledByYou(
      this.#outgoing,
      xfer,
      (cancel) => this.#client.post(cancel),
    );
  }

  /**
   * Offers the file at `path`, waits for the recipients' answers (the
   * server's reply comes once all have answered), then sends it to those who
   * accepted. `onOffered` is called once the server has passed the offer
   * on (never for one it refused outright), and `onAnswered` with those who
   * did not take it once all have answered (and how many more the server
   * left out of its list, `declined_more`).
   * `onAsked`, when given, is called once the server has passed the offer on
   * to its recipients, not refused it outright (a recipient away, say),
   * unless their answers come first: their answer is what `onAnswered` says.
   * `fileNumber`: the number of the file the user typed, which its offer and its
   * transfer are listed under (`offers`, `list`), so that /transfers keeps
   * one number for it from its wait to its end (outgoing_files.ts).
   * `whole`: the file's SHA-256 (hex) when an earlier transfer of it sent
   * its end (its outcome's `sha256`): the offer carries it keyed, so that a
   * recipient that has that very file claims it whole, and one that has
   * another under its name and size is asked (docs/PROTOCOL.md 5.6).
   */
  async send(
    target: SendTarget,
    path: string,
    onProgress: (progress: SendProgress) => void = () => {},
    onOffered: (name: string, size: number) => void = () => {},
    onAnswered: (declined: Declined[], more: number) => void = () => {},
    onResumed: (offset: number, size: number) => void = () => {},
    onKeyLines: (lines: KeyLine[]) => void = () => {},
    onAsked?: () => void,
    fileNumber?: number,
    whole?: string,
  ): Promise<SentFileOutcome> {
    if (fileNumber === undefined) {
      return this.#send(
        target,
        path,
        onProgress,
        onOffered,
        onAnswered,
        onResumed,
        onKeyLines,
        onAsked,
        undefined,
        null,
        whole,
      );
    }
    const steps = this.#files.start(fileNumber);
    const started = { name: basename(path), target };
    this.#started.set(fileNumber, started);
    try {
      return await this.#send(
        target,
        path,
        onProgress,
        onOffered,
        onAnswered,
        onResumed,
        onKeyLines,
        onAsked,
        fileNumber,
        steps,
        whole,
      );
    } finally {
      this.#files.end(fileNumber, steps);
      if (this.#started.get(fileNumber) === started) {
        this.#started.delete(fileNumber);
      }
    }
  }

  async #send(
    target: SendTarget,
    path: string,
    onProgress: (progress: SendProgress) => void,
    onOffered: (name: string, size: number) => void,
    onAnswered: (declined: Declined[], more: number) => void,
    onResumed: (offset: number, size: number) => void,
    onKeyLines: (lines: KeyLine[]) => void,
    onAsked: (() => void) | undefined,
    fileNumber: number | undefined,
    steps: SentFileSteps | null,
    whole: string | undefined,
  ): Promise<SentFileOutcome> {
    // Read afresh each time: set by stopFile, in another task.
    const stopping = () => steps !== null && steps.stop;
    const opened = await openForSending(path);
    if ("error" in opened) return { kind: "refused", text: opened.error };
    const { file, size } = opened;
    const name = basename(path);
    // Fresh for every offer, so an offer made again (a resume) never
    // seals a chunk under a key and nonce used before.
    const key = newFileKey();
    // "Offering ..." is said once the server has passed the offer on (or
    // answers come back), never for an offer it refuses outright: `/file
    // ghost x.txt` said it was offering, then that ghost is not online.
    let offeredSaid = false;
    const sayOffered = () => {
      if (offeredSaid) return;
      offeredSaid = true;
      onOffered(name, size);
    };
    try {
      // The key goes end to end first, so that it is there when the offer is.
      let keyFields: { key?: string; key_id?: string; name?: string } =
        fileKeyForOffer(key);
      let signer: FileSigner | undefined;
      let keyLines: string[] = [];
      // Whom a group file's key and name went to: said once the offer is
      // out, or as it ends if it never is (refused, taken back), since
      // they have them either way.
      let given: string | undefined;
      if (this.#shareKey !== null) {
        // Stopped (/cancel, the second /quit) while its key goes: it ends
        // now, not once the key's answer comes, which may be never (a
        // server that does not answer; the session waited on for it).
        const shared = await unlessStopped(
          this.#shareKey(target, key, name, size),
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
        keyLines = shared.lines;
        given = shared.given;
      }
      // What the key lines warn about (a recipient without end-to-end keys)
      // is said once the offer is out, not before the server refuses it
      // outright (`/file ghost ...`, a name nobody has).
      const sayKeyLines = () => {
        const lines = keyLinesOf(given, keyLines);
        if (lines.length > 0) onKeyLines(lines);
        keyLines = [];
        given = undefined;
      };
      const sayGiven = () => {
        if (given !== undefined) onKeyLines(keyLinesOf(given, []));
        given = undefined;
      };
      // The name goes in the clear only where the key does (keyFields).
      // Refused with slow_down (a burst of files typed at once), it goes
      // again after the server's pause, still in its turn.
      // Stopped (/cancel) while its key went out: it is not offered.
      if (stopping()) {
        sayGiven();
        return { ...TAKEN_BACK, name, results: [] };
      }
      // Never beside a key the server reads (a recipient without end-to-end
      // keys): it could test a guess of the file by it. A small file is
      // hashed now if no transfer of it ended before (OFFER_DIGEST_MAX_BYTES).
      const digest = keyFields.key !== undefined
        ? undefined
        : whole ?? await digestBeforeOffer(file, size, stopping);
      if (stopping()) {
        sayGiven();
        return { ...TAKEN_BACK, name, results: [] };
      }
      // The digest key is the file key's alone (not the transfer's).
      const wholeField = digest === undefined ? {} : {
        sha256: await (await FileCipher.create(key, 0, size)).keyedDigest(
          digest,
        ),
      };
      const reply = await offerWithPatience(this.#client, {
        t: "file_offer",
        name,
        size,
        ...target,
        ...keyFields,
        ...wholeField,
      }, {
        listed: (offer, withdraw) =>
          this.#offered.set(offer, {
            offer,
            ...(fileNumber === undefined ? {} : { fileNumber }),
            name,
            size,
            target,
            withdraw,
          }),
        unlisted: (offer) => this.#offered.delete(offer),
        passedOn: () => {
          sayOffered();
          sayKeyLines();
          onAsked?.();
        },
      });
      if (reply === "withdrawn") {
        sayGiven();
        return { ...TAKEN_BACK, name, results: [] };
      }
      // Declined by everyone, the offer (with the name, for someone without
      // keys) did go out; any other refusal came before it did.
      if (reply.t === "error" && reply.code === "declined") {
        sayOffered();
        sayKeyLines();
      }
      if (reply.t !== "file_ready") {
        sayGiven();
        return refusedOffer(reply, keyFields.name ?? name, name);
      }
      sayOffered();
      sayKeyLines();
      if (steps !== null) steps.step = "transfer";
      const xfer = reply.xfer;
      const cipher = await FileCipher.create(key, xfer, size, this.#aead);
      onAnswered(reply.declined ?? [], reply.declined_more ?? 0);
      // Recipients that hold a first part: checked against our file, and
      // the data starts at the lowest part everyone has (0 if anyone has
      // none or a part that is not ours).
      const { start, hash } = await resumePoint(
        file,
        size,
        reply.recipients,
        reply.resume ?? [],
        (sha256) => cipher.keyedDigest(sha256),
      );
      const outgoing: Outgoing = {
        fileNumber,
        name,
        size,
        target,
        sent: start,
        resumedAt: start,
        ended: null,
        ...freshTransfer(start),
      };
      if (start > 0) onResumed(start, size);
      this.#outgoing.set(xfer, outgoing);
      // Stopped (/cancel) as it started: it stops now.
      if (stopping()) this.cancel(xfer);
      try {
        // Those who accepted past what the header names (accepted_more)
        // answer too.
        const everyone = reply.recipients.length + (reply.accepted_more ?? 0);
        const settled = () => isSettled(outgoing, everyone);
        // The file is read a block at a time (a read is an operation on
        // another thread, whose hand-over costs more than the copy at 128
        // KiB) and hashed a block at a time; each chunk of the block is then
        // sealed into a buffer of its own. Natively on the spot, into a
        // buffer the channel hands back once it is on the socket; through
        // WebCrypto (which copies its input at the call) up to
        // SEALS_IN_FLIGHT ahead, on its threads, while the next ones are
        // read, into buffers the channel frees.
        const block = new Uint8Array(READ_BLOCK_BYTES);
        const sealedBuffers = new ChunkBuffers(
          FILE_CHUNK_BYTES + FILE_TAG_BYTES,
          SPARE_CHUNK_BUFFERS,
        );
        let blockAt = 0;
        let blockEnd = 0;
        const sealing: { offset: number; sealed: Promise<Uint8Array> }[] = [];
        const postOldest = async () => {
          const { offset, sealed } = sealing.shift()!;
          const body = await sealed;
          if (settled()) return;
          this.#client.post({ t: "file_chunk", xfer, offset }, body, true);
        };
        let sent = start;
        let index = 0;
        while (sent < size && !settled()) {
          // Flow control: stay within the window of the slowest recipient and
          // let the socket drain before sealing more.
          while (!settled()) {
            if (sent - outgoing.acked > FILE_WINDOW_BYTES - FILE_CHUNK_BYTES) {
              // What is sealed goes out before waiting: held back, the
              // recipients would owe acknowledgements for bytes they never
              // got, and a stalled member had them all dropped as stalled.
              if (sealing.length > 0) {
                while (sealing.length > 0) await postOldest();
                continue; // acknowledgements may have come meanwhile
              }
              await new Promise<void>((resolve) => (outgoing.wake = resolve));
            } else if (this.#client.backlog > BACKLOG_LIMIT) {
              await new Promise((resolve) =>
                setTimeout(resolve, BACKLOG_POLL_MS)
              );
            } else {
              break;
            }
          }
          if (settled()) break;
          if (blockAt === blockEnd) {
            const want = Math.min(block.byteLength, size - sent);
            const read = await file.read(block.subarray(0, want));
            if (read === null || read === 0) {
              this.#client.post({
                t: "file_cancel",
                xfer,
                reason: "the file got shorter while sending",
              });
              // Its bytes past here are gone: nothing pads the offered
              // size, and the recipients drop what they got.
              outgoing.cancelled = `it got shorter while it was being sent (${
                formatBytes(size)
              } when offered, ${formatBytes(await sizeNow(file, sent))} now)`;
              break;
            }
            blockAt = 0;
            blockEnd = read;
            hash.update(block.subarray(0, read));
          }
          const chunk = block.subarray(
            blockAt,
            Math.min(blockEnd, blockAt + FILE_CHUNK_BYTES),
          );
          blockAt += chunk.length;
          // Sealed once, here: the server passes it on as it is (5.6).
          const place = { index, offset: sent };
          if (cipher.native) {
            const out = sealedBuffers.lend();
            const body = cipher.sealInto(place, chunk, out.bytes);
            this.#client.post(
              { t: "file_chunk", xfer, offset: sent },
              body,
              true,
              out.handBack,
            );
          } else {
            if (sealing.length >= SEALS_IN_FLIGHT) await postOldest();
            sealing.push({ offset: sent, sealed: cipher.seal(place, chunk) });
          }
          index++;
          sent += chunk.length;
          outgoing.sent = sent;
          onProgress({ sent, acked: outgoing.acked, size });
        }
        while (sealing.length > 0) await postOldest();
        // No more chunks: the spares, and those still queued, go now.
        sealedBuffers.free();
        if (!settled()) {
          // Keyed (file_cipher.ts): the server cannot tell a file by it.
          const plain = hash.digestHex();
          const sha256 = await cipher.keyedDigest(plain);
          // A group file: signed, so a member cannot pass off its own.
          this.#client.post(
            await signedFileEnd(xfer, sha256, signer),
            undefined,
            true,
          );
          outgoing.ended = plain;
        }
        while (!settled()) {
          await new Promise<void>((resolve) => (outgoing.wake = resolve));
          onProgress({ sent, acked: outgoing.acked, size });
        }
        const outcome = transferOutcome(outgoing, {
          name,
          size,
          recipients: reply.recipients,
          everyone,
        });
        // The offer's size and hash are the contract: a file that grew (or
        // shrank past what was read) went as it was when offered, which the
        // sender is told rather than left to think all of it went.
        const now = outgoing.cancelled === null
          ? await sizeNow(file, size)
          : size;
        // Said only of a file to be offered again (its end went out, so a
        // recipient may have it whole: FileSender `whole`).
        const ended = outgoing.ended === null ? {} : { sha256: outgoing.ended };
        const again = outcome.results.some((r) =>
          !r.ok && r.resumable === true
        );
        return outcome.kind === "finished"
          ? {
            ...outcome,
            ...(now === size ? {} : { sizeNow: now }),
            ...(again ? ended : {}),
          }
          : { ...outcome, ...(outgoing.broken || again ? ended : {}) };
      } finally {
        this.#outgoing.delete(xfer);
      }
    } finally {
      file.close();
    }
  }

  #dispatch(message: ServerMessage): void {
    if (
      message.t !== "file_progress" && message.t !== "file_result" &&
      message.t !== "file_cancel"
    ) return;
    const outgoing = this.#outgoing.get(message.xfer);
    if (outgoing !== undefined) heardOfTransfer(outgoing, message);
  }
}

/** The file's size now; `fallback` if it cannot be told. */
async function sizeNow(file: Deno.FsFile, fallback: number): Promise<number> {
  try {
    return (await file.stat()).size;
  } catch {
    return fallback;
  }
}

/**
 * The SHA-256 of `file` (hex), read from its start, if it is small enough
 * to hash before offering it (OFFER_DIGEST_MAX_BYTES) and not empty (a
 * claim is of 1 byte or more); left positioned at its start. Undefined
 * also if it reads shorter than `size` (it changed: its end says so), or
 * once `stopping` (/cancel, the second /quit) or past `budgetMs`
 * (OFFER_DIGEST_BUDGET_MS): both asked before each block, so that a stop
 * waits for one block's read (1 MiB), not the whole file's (64 MiB from a
 * slow disk: seconds, while the lines typed after it waited).
 */
export async function digestBeforeOffer(
  file: Deno.FsFile,
  size: number,
  stopping: () => boolean,
  budgetMs: number = OFFER_DIGEST_BUDGET_MS,
): Promise<string | undefined> {
  if (size === 0 || size > OFFER_DIGEST_MAX_BYTES) return undefined;
  const started = performance.now();
  const overBudget = (position: number) =>
    position > 0 && performance.now() - started >= budgetMs;
  const hash = createSha256();
  const buffer = new Uint8Array(READ_BLOCK_BYTES);
  let position = 0;
  try {
    while (position < size) {
      if (stopping() || overBudget(position)) return undefined;
      const read = await file.read(
        buffer.subarray(0, Math.min(buffer.length, size - position)),
      );
      if (read === null || read === 0) break;
      hash.update(buffer.subarray(0, read));
      position += read;
    }
  } finally {
    await file.seek(0, Deno.SeekMode.Start);
  }
  return position === size ? hash.digestHex() : undefined;
}

/**
 * Where to start given the recipients' resume claims, with the SHA-256 of
 * the file up to there, and the file positioned there. A claim is believed
 * only if our own first `offset` bytes have its SHA-256 (as `keyed` makes
 * it cross the server).
 */
async function resumePoint(
  file: Deno.FsFile,
  size: number,
  recipients: string[],
  claims: ResumeClaim[],
  keyed: (sha256Hex: string) => Promise<string>,
): Promise<{ start: number; hash: Sha256 }> {
  const byName = new Map(
    claims.filter((c) => c.offset > 0 && c.offset <= size).map((c) => [
      c.name,
      c,
    ]),
  );
  if (recipients.some((r) => !byName.has(r))) {
    return { start: 0, hash: createSha256() };
  }
  const offsets = [...new Set([...byName.values()].map((c) => c.offset))]
    .sort((a, b) => a - b);
  const hash = createSha256();
  const digests = new Map<number, string>();
  const buffer = new Uint8Array(1024 * 1024);
  let position = 0;
  for (const offset of offsets) {
    while (position < offset) {
      const read = await file.read(
        buffer.subarray(0, Math.min(buffer.length, offset - position)),
      );
      if (read === null || read === 0) break;
      hash.update(buffer.subarray(0, read));
      position += read;
    }
    if (position === offset) {
      digests.set(offset, await keyed(hash.peekHex()));
    }
  }
  let start = Infinity;
  for (const claim of byName.values()) {
    const ok = digests.get(claim.offset) === claim.sha256;
    start = Math.min(start, ok ? claim.offset : 0);
  }
  if (start === position) return { start, hash };
  // Hashed past the start (recipients hold different amounts): again to it.
  await file.seek(0, Deno.SeekMode.Start);
  const fresh = createSha256();
  let at = 0;
  while (at < start) {
    const read = await file.read(
      buffer.subarray(0, Math.min(buffer.length, start - at)),
    );
    if (read === null || read === 0) break;
    fresh.update(buffer.subarray(0, read));
    at += read;
  }
  return { start: at, hash: fresh };
}

async function openForSending(
  path: string,
): Promise<{ file: Deno.FsFile; size: number } | { error: string }> {
  const shown = JSON.stringify(path);
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      return { error: `ERROR: ${shown} is a folder; send a file` };
    }
    if (!info.isFile) return { error: `ERROR: ${shown} is not a regular file` };
    const file = await Deno.open(path, { read: true });
    return { file, size: info.size };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // `notse.txt` beside notes.txt: that one name, never the folder's list.
      const likely = await likelyFileName(path);
      return {
        error: likely === null
          ? `ERROR: File ${shown} not found`
          : `ERROR: File ${shown} not found. Did you mean ${likely}?`,
      };
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return { error: `ERROR: Cannot read ${shown}: permission denied` };
    }
    return {
      error: `ERROR: Cannot read ${shown}: ${(error as Error).message}`,
    };
  }
}
