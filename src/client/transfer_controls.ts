/**
 * /transfers and /cancel: the transfers of the connection now (each way),
 * the files waiting to be offered again and the partial downloads that may
 * resume, numbered as last listed.
 *
 * @module
 */

import { removePartial, scanPartials } from "../files/partials.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { Link } from "./connection_files.ts";
import type { PendingResend } from "./outgoing_files.ts";
import {
  sentFileNumber,
  type TransferEntry,
  TransferNumbers,
} from "./transfers_view.ts";

export function transferControls(options: {
  /** The connection now. */
  link: () => Link;
  downloadsDir: string;
  /** Files waiting to be offered again (outgoingFiles). */
  resends: {
    list: () => PendingResend[];
    /** False when it is not waiting any more. */
    cancel: (id: number) => boolean;
  };
}): {
  list: () => Promise<[number, TransferEntry][]>;
  cancel: (n: number) => Promise<string[]>;
} {
  const { link, downloadsDir, resends } = options;
  const numbers = new TransferNumbers();
  /**
   * The listing under way: a cancel read right after a listing (a script's
   * `/transfers` then `/cancel 1`, run without waiting) takes its numbers
   * from it, not from the one before (none: `No transfer 1`).
   */
  let listing: Promise<unknown> = Promise.resolve();
  const listTransfers = (): Promise<[number, TransferEntry][]> => {
    const listed = listNow();
    listing = listed.catch(() => {});
    return listed;
  };
  const listNow = async (): Promise<[number, TransferEntry][]> => {
    const entries: TransferEntry[] = [];
    for (const o of link().sender.offers()) {
      entries.push({
        kind: "offered",
        offer: o.offer,
        ...(o.fileNumber === undefined ? {} : { fileNumber: o.fileNumber }),
        name: o.name,
        to: "to" in o.target ? o.target.to : `group ${o.target.group}`,
      });
    }
    for (const s of link().sender.list()) {
      entries.push({
        kind: "sending",
        xfer: s.xfer,
        ...(s.fileNumber === undefined ? {} : { fileNumber: s.fileNumber }),
        name: s.name,
        to: "to" in s.target ? s.target.to : `group ${s.target.group}`,
        done: s.acked,
        size: s.size,
        resumedAt: s.resumedAt,
      });
    }
    for (const r of resends.list()) {
      entries.push({
        kind: "resend",
        id: r.id,
        name: r.name,
        to: r.targets.map((t) => "to" in t ? t.to : `group ${t.group}`)
          .join(", "),
        why: r.why,
      });
    }
    const receiving = link().receiver.list();
    for (const r of receiving) {
      entries.push({
        kind: "receiving",
        xfer: r.xfer,
        name: r.offer.name,
        from: r.offer.from,
        done: r.received,
        size: r.offer.size,
        resumedAt: r.resumedAt,
      });
    }
    const inUse = new Set(receiving.map((r) => r.partPath));
    const { partials } = await scanPartials(downloadsDir);
    for (const p of partials) {
      if (inUse.has(p.partPath)) continue;
      entries.push({
        kind: "resumable",
        key: p.key,
        name: p.meta.name,
        from: p.meta.from,
        done: p.held,
        size: p.meta.size,
        modified: p.modified,
      });
    }
    return numbers.number(entries, link().sender.filesUnderWay());
  };

  const cancelTransfer = async (n: number): Promise<string[]> => {
    // Numbers refer to the last listing, the one the user saw: not listed
    // again here (a number is never given to another transfer, and one that
    // ended since is said so below).
    await listing;
    const entry = numbers.get(n);
    if (entry === undefined) {
      return [`ERROR: No transfer ${n}; /transfers lists them`];
    }
    const name = sanitizeForTerminal(entry.name);
    // A file sent is stopped at the step it is at now (it may have been
    // offered, or started, since it was listed under n).
    const file = sentFileNumber(entry);
    if (file !== undefined) {
      switch (
        resends.cancel(file) ? "transfer" : link().sender.stopFile(file)
      ) {
        case "offer":
          return [`Took back the offer of ${name}.`];
        case "transfer":
          return [`Cancelled sending ${name}.`];
        case null:
          return [`ERROR: Transfer ${n} (${name}) has already ended`];
      }
    }
    switch (entry.kind) {
      case "offered":
        if (!link().sender.withdraw(entry.offer)) break;
        return [`Took back the offer of ${name}.`];
      case "sending":
        if (!link().sender.cancel(entry.xfer)) break;
        return [`Cancelled sending ${name}.`];
      case "resend":
        if (!resends.cancel(entry.id)) break;
        return [`Cancelled sending ${name}.`];
      case "receiving":
        if (!(await link().receiver.cancel(entry.xfer))) break;
        return [`Cancelled receiving ${name}; its partial file is removed.`];
      case "resumable":
        switch (await removePartial(downloadsDir, entry.key)) {
          case "removed":
            return [`Removed the partial download of ${name}.`];
          case "receiving":
            // Resumed since the listing, here or by another chat sharing
            // the downloads folder: that transfer is what /cancel stops.
            return [
              `ERROR: The partial download of ${name} is being received now; /transfers lists it where it is`,
            ];
          case "none":
            break;
        }
        break;
      default: {
        const unreachable: never = entry;
        return unreachable;
      }
    }
    return [`ERROR: Transfer ${n} (${name}) has already ended`];
  };

  return { list: listTransfers, cancel: cancelTransfer };
}
