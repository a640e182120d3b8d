// This module is browser compatible.

/**
 * The file transfers in flight, as the server tracks them: who sends, who
 * receives and how far each is. transfers.ts decides what they do.
 */

import type { Declined } from "../protocol/messages.ts";
import type { ConnId } from "./session.ts";

export interface Recipient {
  name: string;
  /** Bytes this recipient has acknowledged writing. */
  acked: number;
  /** Whether it said `file_accept`; nothing is forwarded to it before. */
  accepted: boolean;
  /**
   * The first part of the file it says it holds (resume), passed to the
   * sender, which starts at or below it.
   */
  claim?: { offset: number; sha256: string };
  /**
   * Since when it has owed the sender something without a word (ms): its
   * last acknowledgement, or when it came to owe one (transfers.ts `owes`).
   * A recipient quiet past `fileStallMs` while it owes is dropped.
   */
  quietSince?: number;
  /**
   * What it had acknowledged when `quietSince` was set: an acknowledgement
   * sets it again only once it moves the count by FILE_ACK_BYTES from there
   * or reaches all that was sent (transfers.ts `ack`).
   */
  quietAcked?: number;
}

export interface Transfer {
  id: number;
  sender: ConnId;
  senderName: string;
  /** The id of the sender's `file_offer`, answered once every recipient has. */
  re: number;
  /** The file name, as it may be echoed in the sender's reply. */
  fileName: string;
  /** The group it was sent to, if any. */
  group: string | undefined;
  /**
   * Until when recipients may still answer; null once the sender has its
   * reply, after which only those who accepted are left.
   */
  answerBy: number | null;
  /** Recipients that did not take the file, for the sender's reply. */
  declined: Declined[];
  size: number;
  /**
   * Bytes forwarded so far, counted from the start of the file: a resumed
   * transfer starts at the offset of its first chunk.
   */
  sent: number;
  /** The first chunk (or `file_end`) has fixed where the data starts. */
  started?: boolean;
  /** The file key from the offer, passed on to the recipients (5.6). */
  key: string | undefined;
  /** The id of the file key sent end to end, passed on too (11.10). */
  keyId?: string | undefined;
  /**
   * The whole file's keyed SHA-256 from an offer made again, passed on
   * too (5.6 "Resume"): the server cannot read it (it is keyed).
   */
  sha256?: string | undefined;
  ended: boolean;
  /** Recipients still receiving: removed when they finish, fail or leave. */
  recipients: Map<ConnId, Recipient>;
  /** The slowest recipient's acknowledged bytes, last reported to the sender. */
  reported: number;
  /** Each recipient's verdict so far, for the transfer record. */
  outcomes: string[];
}

export class TransferTable {
  #transfers = new Map<number, Transfer>();
  #nextId = 1;

  get size(): number {
    return this.#transfers.size;
  }

  countBySender(sender: ConnId): number {
    let count = 0;
    for (const transfer of this.#transfers.values()) {
      if (transfer.sender === sender) count++;
    }
    return count;
  }

  /** Every transfer in flight. */
  running(): Transfer[] {
    return [...this.#transfers.values()];
  }

  /** Transfers a connection takes part in, as sender or recipient. */
  involving(id: ConnId): Transfer[] {
    return [...this.#transfers.values()].filter((t) =>
      t.sender === id || t.recipients.has(id)
    );
  }

  /** The transfer `sender` offered with request id `re`, if it runs. */
  offeredAs(sender: ConnId, re: number): Transfer | undefined {
    for (const transfer of this.#transfers.values()) {
      if (transfer.sender === sender && transfer.re === re) return transfer;
    }
    return undefined;
  }

  get(id: number): Transfer | undefined {
    return this.#transfers.get(id);
  }

  /** The earliest time a transfer stops waiting for answers, or null. */
  nextAnswerDeadline(): number | null {
    let next: number | null = null;
    for (const transfer of this.#transfers.values()) {
      if (
        transfer.answerBy !== null &&
        (next === null || transfer.answerBy < next)
      ) next = transfer.answerBy;
    }
    return next;
  }

  /** Transfers still waiting for answers whose time is up at `now`. */
  expired(now: number): Transfer[] {
    return [...this.#transfers.values()].filter((t) =>
      t.answerBy !== null && t.answerBy <= now
    );
  }

  /**
   * An id no transfer here has or will have, for one run elsewhere that a
   * user here knows by it (file_bridge.ts).
   */
  reserveId(): number {
    return this.#nextId++;
  }

  add(transfer: Omit<Transfer, "id">): Transfer {
    const created = { ...transfer, id: this.#nextId++ };
    this.#transfers.set(created.id, created);
    return created;
  }

  delete(id: number): void {
    this.#transfers.delete(id);
  }
}
