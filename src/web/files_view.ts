/// <reference lib="dom" />
/**
 * Files on the page: the question an offer asks (Accept / Decline), progress
 * bars, and the link that saves a received file through the browser's
 * download (never opened); sending one with the terminal's texts. The
 * transfers themselves are web_files.ts'. Browser only (the DOM).
 *
 * @module
 */

import { describeOffer } from "../client/consent.ts";
import { formatBytes } from "../client/render.ts";
import type { SessionEvent } from "../client/session_events.ts";
import { safeFileName } from "../files/naming.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";
import { type LogView, smallButton } from "./log_view.ts";
import type { FileTarget, ReceiveCallbacks, WebFiles } from "./web_files.ts";

export interface FilesViewContext {
  log: LogView;
  emit(event: SessionEvent): void;
  /** Whether this sender's offers are declined unseen (/ignore). */
  isIgnored(name: string, fingerprint?: string): boolean;
  /** Gives the keyboard back to the input line. */
  focusInput(): void;
}

/** How the page shows files offered to its user. */
export function receivingView(context: FilesViewContext): ReceiveCallbacks {
  const { log, emit } = context;
  const bars = new Map<number, (done: number, total: number) => void>();
  return {
    ask(offer, answer, deadlineMs) {
      // An ignored user's offers are declined unseen, as their messages are.
      if (context.isIgnored(offer.from, offer.fingerprint)) {
        answer(false);
        return;
      }
      const where = offer.group === undefined ? "you" : `group ${offer.group}`;
      const question = document.createElement("span");
      question.textContent = `${offer.from} wants to send ${where} ${
        safeFileName(offer.name)
      } (${formatBytes(offer.size)}). Accept? `;
      const answered = (accept: boolean) => () => {
        answer(accept);
        row.replaceChildren(
          `${accept ? "Accepted" : "Declined"} ${describeOffer(offer)}.`,
        );
        context.focusInput();
      };
      const row = log.row(
        "offer",
        question,
        smallButton("Accept", answered(true)),
        " ",
        smallButton("Decline", answered(false)),
        ` (within ${Math.round(deadlineMs / 1000)} s)`,
      );
    },
    declined(offer, why) {
      emit({
        type: "notice",
        text: `Declined ${describeOffer(offer)}: ${why}.`,
      });
    },
    progress(offer, received) {
      let update = bars.get(offer.xfer);
      if (update === undefined) {
        update = log.progress(`${safeFileName(offer.name)} from ${offer.from}`);
        bars.set(offer.xfer, update);
      }
      update(received, offer.size);
    },
    received(offer: FileOfferNotice, file: Blob) {
      bars.delete(offer.xfer);
      const name = safeFileName(offer.name);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(file);
      // A download, never opened: the name is the sender's, made safe.
      link.download = name;
      link.textContent = `Save ${name}`;
      log.row(
        "notice received",
        offer.group === undefined
          ? `You received file ${name} from ${offer.from}. `
          : `[Receive ${name} from Group ${offer.group} ${offer.from}]. `,
        link,
      );
    },
    failed(offer, reason) {
      bars.delete(offer.xfer);
      emit({
        type: "error",
        re: null,
        code: "file",
        text: `ERROR: Receiving ${describeOffer(offer)} failed: ${reason}`,
      });
    },
  };
}

/** Sends `file` to `target`, saying what happens as the terminal does. */
export async function sendFromPage(
  context: FilesViewContext,
  files: WebFiles,
  target: FileTarget,
  file: File,
): Promise<void> {
  const { emit } = context;
  let update: ((done: number, total: number) => void) | null = null;
  const outcome = await files.send(target, file, {
    keyLines: (lines) => {
      for (const text of lines) {
        emit(
          text.startsWith("WARNING: ")
            ? { type: "error", re: null, code: "e2e", text }
            : { type: "notice", text },
        );
      }
    },
    offered: () =>
      emit({
        type: "file_offering",
        re: 0,
        name: file.name,
        size: file.size,
        target,
      }),
    answered: (declined) => {
      for (const d of declined) {
        emit({ type: "file_declined", re: 0, file: file.name, declined: d });
      }
    },
    progress: (acked, size) => {
      update ??= context.log.progress(
        `${file.name} to ${"to" in target ? target.to : target.group}`,
      );
      update(acked, size);
    },
  });
  emit({ type: "file_sent", re: 0, target, outcome });
}
