/// <reference lib="dom" />
/**
 * Files on the page: the question an offer asks (Accept / Decline), progress
 * bars (saying so where they stood when their transfer stops short), and the link that saves a
 * received file through the browser's download (never opened), for as long
 * as the page keeps the file (savable_files.ts); sending one with the
 * terminal's texts. The transfers themselves are web_files.ts'. Browser only
 * (the DOM).
 *
 * @module
 */

import { describeOffer, duplicateOfferWarning } from "../client/consent.ts";
import {
  declinedMoreLine,
  formatBytes,
  resumedPart,
  type SentFileOutcome,
} from "../client/render.ts";
import { ResendSchedule } from "../client/resend_schedule.ts";
import { type InOrder, ResumeOrder } from "../client/resume_order.ts";
import {
  atOnceNotice,
  awayNotice,
  FilesAtOnce,
  heldNotice,
  placeKey,
  type PlaceTarget,
  type SendingPlace,
  SendingPlaces,
} from "../client/sending_places.ts";
import type { SessionEvent } from "../client/session_events.ts";
import type { TransferEntry } from "../client/transfers_view.ts";
import type { Turn } from "../client/unconfirmed_chat.ts";
import { safeFileName } from "../files/naming.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { FileOfferNotice } from "../protocol/messages.ts";
import { marked } from "./bidi_runs.ts";
import {
  type LogView,
  type ProgressRow,
  runNodes,
  smallButton,
} from "./log_view.ts";
import { fileTargetPlace, offerPlace } from "./row_places.ts";
import type { SavableFiles } from "./savable_files.ts";
import type { FileTarget, ReceiveCallbacks, WebFiles } from "./web_files.ts";

export interface FilesViewContext {
  log: LogView;
  /** The received files the page keeps to save. */
  savable: SavableFiles;
  /**
   * Shows `event`; `typedIn`: the view the user acted in (row_places.ts),
   * absent for what came unasked.
   */
  emit(event: SessionEvent, typedIn?: string): void;
  /** The key of the view the log shows (row_places.ts). */
  view(): string;
  /** Whether this sender's offers are declined unseen (/ignore). */
  isIgnored(name: string, fingerprint?: string): boolean;
  /** Gives the keyboard back to the input line. */
  focusInput(): void;
  /**
   * The transfers of the connection after the one `after` ran on, once
   * signed in there (at once if it already is); null once the page stops
   * reconnecting (/quit, its name refused or signed in elsewhere).
   */
  relinked(after: WebFiles): Promise<WebFiles | null>;
  /** The page is leaving or left: nothing is offered again. */
  leaving(): boolean;
  /** The files waiting to be offered again (sendFromPage adds them). */
  waiting: FilesWaiting;
}

/** What a file waits for before it is offered (transfers_view.ts says it). */
type WaitingWhy = "again" | "place" | "turn" | "many" | "connection";

/**
 * Files waiting to be offered again (for the page's next connection): as
 * the terminal's (outgoing_files.ts), /transfers lists them, /quit names
 * them, /cancel and the second /quit stop them. Before, a file between the
 * drop and the reconnect was in no list, and /quit ended its wait unasked.
 */
export class FilesWaiting {
  #next = 1;
  readonly #waiting = new Map<
    number,
    {
      name: string;
      targets: readonly FileTarget[];
      why: WaitingWhy;
      stop: () => void;
    }
  >();
  /**
   * The page's files under way to each recipient, and those waiting for a
   * place (sending_places.ts), as the terminal's.
   */
  readonly places = new SendingPlaces();
  /**
   * The page's files under way at once, whoever they go to: no more than
   * the server lets a sender have (sending_places.ts MAX_SENDING_AT_ONCE),
   * as the terminal's. Before, a 9th file dropped was offered at once and
   * refused: "You already have 8 transfers running".
   */
  readonly atOnce = new FilesAtOnce();
  /**
   * Those the page's dropped connection cut off, to go again in the order
   * sent (resume_order.ts), as the terminal's. Before, they went in the
   * order their ends were heard in: of 4 under way, photo2 could go again
   * before photo1 (1 run of 3 of browser_places_reconnect_test).
   */
  readonly resumeOrder = new ResumeOrder();
  /**
   * Per recipient (placeKey), the offer of the last held file given its
   * place: resolves once that offer is passed on or ends.
   */
  readonly #heldOffers = new Map<string, Promise<void>>();
  #sent = 1;

  /**
   * A held file given its place to `target` is offered once the one given
   * its place before it (to that recipient) is passed on or ended
   * (`before`); `done` once its own is. Places are given in the order sent,
   * but each file then reads itself and sends its key before its offer
   * goes: a large 5th, freed with a small 6th, was offered after it. As the
   * terminal's (outgoing_files.ts).
   */
  offerTurn(
    target: PlaceTarget,
  ): { before: Promise<void> | undefined; done: () => void } {
    const key = placeKey(target);
    const before = this.#heldOffers.get(key);
    const mine = Promise.withResolvers<void>();
    this.#heldOffers.set(key, mine.promise);
    return {
      before,
      done: () => {
        mine.resolve();
        if (this.#heldOffers.get(key) === mine.promise) {
          this.#heldOffers.delete(key);
        }
      },
    };
  }

  /** The next file's number in the order sent. */
  sent(): number {
    return this.#sent++;
  }

  /**
   * A number for a file sent, from the moment it is sent until it ends:
   * /transfers lists it under that number whatever it does (waits here, is
   * offered, is being sent: web_files.ts `send`). Each wait had a number
   * of its own before, and /cancel of it said it had ended once offered.
   */
  number(): number {
    return this.#next++;
  }

  /**
   * File `id` (see `number`), `name`, waits to be offered to `target`
   * (`why`: again, for its place, for its turn among the held once it has
   * its place, for one of the files under way at once to end, or for the
   * connection it was sent without) until `done` is
   * called; `stopped` resolves if /cancel (or a second /quit) stops it
   * first.
   */
  add(
    id: number,
    name: string,
    targets: readonly FileTarget[],
    why: WaitingWhy = "again",
  ): { stopped: Promise<void>; done: () => void } {
    const stopped = Promise.withResolvers<void>();
    const waiting = {
      name,
      targets,
      why,
      stop: () => stopped.resolve(),
    };
    this.#waiting.set(id, waiting);
    return {
      stopped: stopped.promise,
      // Its own wait only: a later one of the same file is not ended.
      done: () => {
        if (this.#waiting.get(id) === waiting) this.#waiting.delete(id);
      },
    };
  }

  /** As /transfers lists them. */
  list(): (TransferEntry & { kind: "resend" })[] {
    return [...this.#waiting].map(([id, { name, targets, why }]) => ({
      kind: "resend",
      id,
      name,
      to: targets.map((t) => "to" in t ? t.to : `group ${t.group}`).join(", "),
      why,
    }));
  }

  /** As leaving asks about them (leave_questions.ts): "NAME to bob". */
  underWay(): string[] {
    return this.list().map(({ name, to }) => `${name} to ${to}`);
  }

  /** Offers `id` no more; false when it is not waiting any more. */
  cancel(id: number): boolean {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return false;
    this.#waiting.delete(id);
    waiting.stop();
    return true;
  }

  /** Offers none of them again (the second /quit). */
  cancelAll(): void {
    for (const id of [...this.#waiting.keys()]) this.cancel(id);
  }
}

/**
 * An offer's row once its question is over (answered, taken back, lapsed):
 * a notice like the others, no longer bold as a question waiting for the
 * user, which it read as after it was answered.
 */
function settle(row: HTMLElement): void {
  row.classList.replace("offer", "notice");
}

/**
 * The parts a user wrote in a file's line (its name, whom it is from or
 * to) marked as runs of their own (render.ts `Style.isolate`, bidi_runs.ts):
 * a Hebrew name ending in "!" showed its "!" on the wrong side.
 */
const ISOLATE = { isolate: true } as const;

/** A file's line the page says as a notice, its marked parts runs of their own. */
function markedNotice(text: string): SessionEvent {
  return { type: "notice", text, marked: true };
}

/** How the page shows files offered to its user. */
export function receivingView(context: FilesViewContext): ReceiveCallbacks {
  const { log, emit, savable } = context;
  const bars = new Map<number, ProgressRow>();
  /**
   * The view each offer was answered in, by transfer: its rows show there
   * too, as well as in the conversation it came in.
   */
  const answeredIn = new Map<number, string>();
  const placesOf = (offer: FileOfferNotice) => {
    const here = answeredIn.get(offer.xfer);
    return here === undefined ? [offerPlace(offer)] : [offerPlace(offer), here];
  };
  /**
   * The questions not answered yet, by transfer: each drops its buttons
   * and says, in their place, how it ended.
   */
  const asking = new Map<number, (text: string) => void>();
  /**
   * Ends the question about `offer`, if one is asked, with `text` where its
   * buttons were; false when none was (the offer was never asked about).
   */
  const ended = (offer: FileOfferNotice, text: string): boolean => {
    const end = asking.get(offer.xfer);
    if (end === undefined) return false;
    asking.delete(offer.xfer);
    end(text);
    return true;
  };
  /**
   * The transfer ended short of the file: its bar says so where it stood,
   * in the conversation and where it was answered (the reply to /cancel,
   * or the error, shows only where it was typed or answered).
   */
  const stopped = (offer: FileOfferNotice, why: string) => {
    bars.get(offer.xfer)?.stop(why);
    bars.delete(offer.xfer);
    answeredIn.delete(offer.xfer);
  };
  return {
    declinesUnasked: (offer) =>
      context.isIgnored(offer.from, offer.fingerprint),
    ask(offer, answer, deadlineMs) {
      // An ignored user's offers are declined unseen, as their messages are.
      if (context.isIgnored(offer.from, offer.fingerprint)) {
        answer(false);
        return;
      }
      const where = offer.group === undefined ? "you" : `group ${offer.group}`;
      const question = document.createElement("span");
      // The file's name a run of its own (bidi_runs.ts): a Hebrew one took
      // "(12 KB)" after it into its order, its "(" drawn as ")".
      question.replaceChildren(
        ...runNodes(
          `${offer.from} wants to send ${where} ${
            marked(safeFileName(offer.name))
          } (${formatBytes(offer.size)}). Accept? `,
        ),
      );
      const answered = (accept: boolean) => (event: MouseEvent) => {
        // Over already (its buttons went then): a press answers nothing.
        if (!asking.has(offer.xfer)) return;
        asking.delete(offer.xfer);
        settle(row);
        if (!answer(accept)) {
          // Ended without a word to this view: it is no question any more.
          row.replaceChildren(
            ...runNodes(`No longer asked: ${describeOffer(offer, ISOLATE)}.`),
          );
          log.place(row, [offerPlace(offer), context.view()]);
          return;
        }
        if (accept) answeredIn.set(offer.xfer, context.view());
        row.replaceChildren(
          ...runNodes(
            `${accept ? "Accepted" : "Declined"} ${
              describeOffer(offer, ISOLATE)
            }.`,
          ),
        );
        // Answered: no longer a question for every view.
        log.place(row, [offerPlace(offer), context.view()]);
        // Clicked or tapped: back to writing. From the keyboard (no pointer:
        // detail 0), the focus stays in the log, on the next offer's Accept
        // or the log itself (log_view.ts), for the next answer.
        if (event.detail > 0) context.focusInput();
      };
      // Twenty offers are twenty "Accept" buttons: each says which file.
      const button = (label: "Accept" | "Decline", accept: boolean) => {
        const made = smallButton(label, answered(accept));
        made.setAttribute("aria-label", `${label} ${describeOffer(offer)}`);
        return made;
      };
      // In every view until answered: it goes unanswered after a while.
      const row = log.row(
        "offer",
        [],
        question,
        button("Accept", true),
        " ",
        button("Decline", false),
        ` (within ${Math.round(deadlineMs / 1000)} s)`,
      );
      asking.set(offer.xfer, (text) => {
        // No Accept that would answer no one: what happened instead.
        settle(row);
        row.replaceChildren(...runNodes(text));
        log.place(row, [offerPlace(offer), context.view()]);
      });
    },
    lapsed(offer, why) {
      // A clause from a sentence ("disconnected."): no stop before the ";".
      const clause = why.replace(/\.$/, "");
      ended(
        offer,
        `Not answered: ${
          describeOffer(offer, ISOLATE)
        }: ${clause}; ${offer.from} can offer it again once you are back.`,
      );
    },
    declined(offer, why) {
      // A question that timed out, or that the server ended: said in its
      // place, once. The reason may be the server's words: cleaned, so that
      // an isolate mark in it shows as text rather than making a run.
      const text = `Declined ${describeOffer(offer, ISOLATE)}: ${
        sanitizeForTerminal(why)
      }.`;
      if (!ended(offer, text)) emit(markedNotice(text));
    },
    withdrawn(offer) {
      const text = `${marked(offer.from)} took back the offer of ${
        marked(safeFileName(offer.name))
      }.`;
      if (!ended(offer, text)) emit(markedNotice(text));
    },
    progress(offer, received) {
      let bar = bars.get(offer.xfer);
      if (bar === undefined) {
        bar = log.progress(
          `${marked(safeFileName(offer.name))} from ${offer.from}`,
          placesOf(offer),
          "received",
        );
        bars.set(offer.xfer, bar);
      }
      bar.update(received, offer.size);
    },
    received(offer: FileOfferNotice, file: Blob) {
      bars.delete(offer.xfer);
      const places = placesOf(offer);
      answeredIn.delete(offer.xfer);
      const name = safeFileName(offer.name);
      const link = document.createElement("a");
      // Files kept before this one may be let go now (their rows say so).
      const url = savable.keep(file, () =>
        link.replaceWith(
          `(no longer kept: the page keeps the last ${
            formatBytes(savable.maxBytes)
          } of files received; ask ${offer.from} to send it again)`,
        ));
      link.href = url;
      // A download, never opened: the name is the sender's, made safe.
      link.download = name;
      link.replaceChildren(...runNodes(`Save ${marked(name)}`));
      link.setAttribute("aria-label", `Save ${name} from ${offer.from}`);
      const row = log.row(
        "notice received",
        places,
        offer.group === undefined
          ? `You received file ${marked(name)} from ${offer.from}. `
          : `[Receive ${
            marked(name)
          } from Group ${offer.group} ${offer.from}]. `,
        link,
      );
      log.whenRemoved(row, () => savable.release(url));
      // Let go (its row left the log, or newer files pushed it out), it is
      // received afresh if offered again, not said to be here.
      return () => savable.has(url);
    },
    again(offer) {
      bars.delete(offer.xfer);
      const places = placesOf(offer);
      answeredIn.delete(offer.xfer);
      log.row(
        "notice received",
        places,
        `${offer.from} sent ${
          marked(safeFileName(offer.name))
        } again, which is here already: not kept twice (its Save link is above).`,
      );
    },
    cancelled(offer) {
      stopped(offer, "you cancelled it");
    },
    duplicate(offer) {
      // Said apart from the first offer's row, which stays its question.
      emit({
        type: "error",
        re: null,
        code: "file",
        text: duplicateOfferWarning(offer),
      });
    },
    failed(offer, reason) {
      const here = answeredIn.get(offer.xfer);
      stopped(offer, reason);
      emit({
        type: "error",
        re: null,
        code: "file",
        // The reason may be the sender's words: a mark in it shows as
        // text, so that the marks are describeOffer's alone.
        text: `ERROR: Receiving ${describeOffer(offer, ISOLATE)} failed: ${
          sanitizeForTerminal(reason)
        }`,
        marked: true,
      }, here);
    },
  };
}

/**
 * Sends `file` to `target`, saying what happens as the terminal does.
 * `turn`: its place among the chat lines typed (unconfirmed_chat.ts), taken
 * when the user sent it.
 */
export async function sendFromPage(
  context: FilesViewContext,
  files: WebFiles,
  target: FileTarget,
  file: File,
  turn?: Turn,
): Promise<void> {
  // Sent from the view shown now: what it comes to shows there too.
  const here = context.view();
  const emit = (event: SessionEvent) => context.emit(event, here);
  // As the terminal's (outgoing_files.ts): the first offer goes after the
  // lines typed before it, and those typed after it wait until the server
  // passed it on or refused it (or it was never made, our connection down);
  // offered again, it waits for no line and holds none back. Taking no
  // place, a line said pending whose late answer was slow_down went again
  // after the file: out of the order sent.
  if (turn !== undefined) await turn.ready;
  const passedOn = turn?.done ?? (() => {});
  const seq = context.waiting.sent();
  // Waiting for our connection: once back, it goes in the order sent.
  let inOrder: InOrder | undefined;
  /** It has its place, or waits in line for one: the next may go. */
  const queued = () => {
    inOrder?.done();
    inOrder = undefined;
  };
  try {
    // A transfer (or an offer not answered yet) our dropped connection broke
    // is offered again once the page is back, and one a recipient's broken
    // connection cut off after a pause (while the page stays connected, up
    // to RESEND_BUDGET_MS), to that recipient: each resumes from what its
    // recipients hold, as the terminal's (outgoing_files.ts): the page still
    // has the file. Before, it said the file stopped, and nothing sent it.
    const schedule = new ResendSchedule();
    const id = context.waiting.number();
    let targets: FileTarget[] = [target];
    let on: WebFiles = files;
    /** An offer of it was made (or it waited for its place): not only away. */
    let offered = false;
    for (let again = false;; again = true) {
      const retry: FileTarget[] = [];
      for (const to of targets) {
        if (on.isOver) {
          // Sent while the page reconnects: never offered, so nothing
          // refused it; it waits for the connection, said once. Before,
          // the page dropped it ("ERROR: Not connected") while the lines
          // typed meanwhile were queued and sent once back.
          if (!again) emit(markedNotice(awayNotice(file.name, marked)));
          retry.push(to);
          continue;
        }
        offered = true;
        // No more under way to a recipient than it takes in from one
        // sender (sending_places.ts): the others wait here, in order.
        let place = context.waiting.places.tryTake(to);
        // Offered again after our connection broke, it lets the next of
        // those go once its offer is passed on, not once it has its place:
        // the page's offers take their own time to reach the wire (keys,
        // resume claims), and the four offered again came 101, 102, 104,
        // 103 in 1 run of 4 of browser_places_reconnect_test.
        let passOn: (() => void) | undefined = again ? queued : passedOn;
        /** Held for its place: its offer's turn among the held (offerTurn). */
        let heldTurn: { done: () => void } | undefined;
        if (place !== null) {
          if (!again) queued();
        } else {
          // The lines typed after it do not wait for a file that waits.
          passedOn();
          passOn = undefined;
          const asked = placeFor(context, id, to, file.name, again, emit);
          // In line for a place now (placeFor asks before it awaits).
          queued();
          const given = await asked;
          if (given === "stopped" || context.leaving()) {
            if (given !== "stopped") given.release();
            return;
          }
          // Offered after the held file given its place before it; listed
          // meanwhile as waiting for its turn (it has its place).
          // Before, it was in no list for as long as that offer took (up to
          // 27 s of retries after a server's slow_down): /transfers left
          // it out, /cancel of its number said it had ended, /quit did not
          // count it.
          const turn = context.waiting.offerTurn(to);
          heldTurn = turn;
          if (turn.before !== undefined) {
            const held = context.waiting.add(id, file.name, [to], "turn");
            const stopped = await Promise.race([
              turn.before.then(() => false),
              held.stopped.then(() => true),
            ]).finally(held.done);
            if (stopped) {
              // Stopped by /cancel or the second /quit, which said so.
              given.release();
              turn.done();
              return;
            }
          }
          // The places our dropped connection's transfers gave back: offered
          // on it, the file was refused (an ERROR) and said "offered again,
          // resuming" though it never was. It waits for the next one, unsaid.
          if (on.isOver || context.leaving()) {
            given.release();
            turn.done();
            if (context.leaving()) return;
            retry.push(to);
            continue;
          }
          place = given;
          passOn = heldTurn.done;
        }
        // No more under way at once than the server lets a sender have: it
        // waits for one of them to end, its recipient's place kept.
        let slot = context.waiting.atOnce.tryTake();
        if (slot === null) {
          // The lines typed after it do not wait for a file that waits, and
          // the next file may ask for its place (in line behind this one).
          passedOn();
          if (passOn === passedOn) passOn = undefined;
          const asked = manyFor(context, id, to, file.name, again, emit);
          queued();
          const given = await asked;
          if (given === "stopped" || context.leaving()) {
            if (given !== "stopped") given.release();
            place.release();
            heldTurn?.done();
            return;
          }
          // Our connection broke meanwhile: the next one offers it.
          if (on.isOver) {
            given.release();
            place.release();
            heldTurn?.done();
            retry.push(to);
            continue;
          }
          slot = given;
        }
        const outcome = await sendOnce(
          context,
          on,
          to,
          file,
          id,
          here,
          again,
          passOn,
        ).finally(() => {
          place.release();
          slot.release();
          heldTurn?.done();
        });
        // Not passed on (refused, or our connection broke): the next goes.
        queued();
        // /cancel N stops the file, N being its number whatever it is at:
        // offered again to several people one after the other, taking back
        // the offer to one (or stopping its transfer) stopped it for that
        // one alone, and it went on to the next, as the terminal's did
        // (outgoing_files.ts).
        if (outcome.kind === "cancelled" && outcome.byYou === true) return;
        const more = offerAgainTo(to, outcome, again, on);
        if (
          more.length > 0 && !context.leaving() && !quietRetry(outcome, again)
        ) {
          emit(
            markedNotice(
              `${
                marked(file.name)
              } will be offered again, resuming where it stopped`,
            ),
          );
        }
        retry.push(...more);
      }
      // The first offer ended: the lines after it go (again later: no-op).
      passedOn();
      targets = retry;
      if (targets.length === 0 || context.leaving()) return;
      const waiting = context.waiting.add(
        id,
        file.name,
        targets,
        offered ? "again" : "connection",
      );
      const next = await untilNextOffer(
        context,
        on,
        schedule,
        waiting.stopped.then(() => "stopped" as const),
        () => inOrder = context.waiting.resumeOrder.hold(seq),
      ).finally(waiting.done);
      // Stopped by /cancel or the second /quit, which said so.
      if (next === "stopped") return;
      if (next === "spent") {
        emit({
          type: "error",
          re: null,
          code: "file",
          text: `ERROR: Gave up offering ${
            marked(file.name)
          } again: not taken in ${
            schedule.budgetMs / 60_000
          } minutes connected; send it again later and it resumes where it stopped`,
          marked: true,
        });
        return;
      }
      if (next === null) {
        emit({
          type: "error",
          re: null,
          code: "file",
          text: `ERROR: ${marked(file.name)} was not offered${
            offered ? " again" : ""
          }: the page stopped reconnecting. Send it again once connected`,
          marked: true,
        });
        return;
      }
      on = next;
      await inOrder?.turn();
    }
  } finally {
    queued();
    passedOn();
  }
}

/**
 * Waits for a place for `name` to `target` (its recipient has the most of
 * ours under way), listed meanwhile; said once, when first offered.
 */
function placeFor(
  context: FilesViewContext,
  id: number,
  target: FileTarget,
  name: string,
  again: boolean,
  emit: (event: SessionEvent) => void,
): Promise<SendingPlace | "stopped"> {
  return waitListed(
    context,
    { id, name, target, why: "place" },
    again ? null : () => markedNotice(heldNotice(name, target, marked)),
    emit,
    (stopped) => context.waiting.places.wait(target, stopped),
  );
}

/**
 * Waits for one of the files under way at once to end (the page has the
 * most the server lets a sender have), listed meanwhile; said once, when
 * first offered, in the terminal's words.
 */
function manyFor(
  context: FilesViewContext,
  id: number,
  target: FileTarget,
  name: string,
  again: boolean,
  emit: (event: SessionEvent) => void,
): Promise<SendingPlace | "stopped"> {
  return waitListed(
    context,
    { id, name, target, why: "many" },
    again ? null : () => markedNotice(atOnceNotice(marked(name))),
    emit,
    (stopped) => context.waiting.atOnce.wait(stopped),
  );
}

/**
 * Lists file `id` as waiting (`why`) for as long as `wait` takes, after
 * saying `notice` (null when it was said at the file's first offer). `wait`
 * is asked before the first await, so the file is in line when this returns.
 */
async function waitListed(
  context: FilesViewContext,
  file: { id: number; name: string; target: FileTarget; why: WaitingWhy },
  notice: (() => SessionEvent) | null,
  emit: (event: SessionEvent) => void,
  wait: (stopped: Promise<void>) => Promise<SendingPlace | "cancelled">,
): Promise<SendingPlace | "stopped"> {
  const waiting = context.waiting.add(
    file.id,
    file.name,
    [file.target],
    file.why,
  );
  if (notice !== null) emit(notice());
  try {
    const given = await wait(waiting.stopped);
    return given === "cancelled" ? "stopped" : given;
  } finally {
    waiting.done();
  }
}

/**
 * Waits until a file whose transfer broke is to be offered again: the
 * transfers to offer it on; null once the page stops reconnecting; "spent"
 * once `schedule`'s budget of time connected is; "stopped" when `stopped`
 * resolves first. Our connection broken, it waits for the next one however
 * long that takes, then offers at once; `back` is called as it starts to.
 */
async function untilNextOffer(
  context: FilesViewContext,
  on: WebFiles,
  schedule: ResendSchedule,
  stopped: Promise<"stopped">,
  back: () => void,
): Promise<WebFiles | null | "spent" | "stopped"> {
  if (!on.isOver) {
    const delay = schedule.next();
    if (delay === null) return "spent";
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woke = await Promise.race([
      new Promise<"slept">((resolve) => {
        timer = setTimeout(() => resolve("slept"), delay);
      }),
      on.ended.then(() => "broke" as const),
      stopped,
    ]);
    clearTimeout(timer);
    // Only time connected counts: up to the break, if ours broke. Before,
    // this waited for the next connection and charged the time between
    // too, so a page offline a while in a pause gave the file up once back.
    schedule.waited(performance.now() - started);
    if (woke === "stopped") return woke;
    if (woke === "slept" && !on.isOver) return on;
  }
  back();
  const next = await Promise.race([context.relinked(on), stopped]);
  if (next !== null && next !== "stopped") schedule.reconnected();
  return next;
}

/**
 * An offer made again refused because its recipient is not back yet: it
 * waits on, as it was said to once already, without a word.
 */
function quietRetry(outcome: SentFileOutcome, again: boolean): boolean {
  return again && outcome.kind === "refused" &&
    outcome.code === "no_such_user";
}

/** Whom to offer the file again after `outcome` on `on`: those who may resume. */
function offerAgainTo(
  target: FileTarget,
  outcome: SentFileOutcome,
  again: boolean,
  on: WebFiles,
): FileTarget[] {
  switch (outcome.kind) {
    case "refused":
      // While offering again, a recipient not back yet is tried later; an
      // offer our connection's end left unanswered, once we are back.
      return quietRetry(outcome, again) || on.isOver ? [target] : [];
    case "cancelled":
      return outcome.broken === true ? [target] : [];
    case "finished":
      // A recipient whose connection broke (not one who declined or
      // cancelled): offered again to that one alone.
      return outcome.results.filter((r) => !r.ok && r.resumable === true)
        .map((r) => "to" in target ? target : { to: r.name });
    default: {
      const unreachable: never = outcome;
      return unreachable;
    }
  }
}

/**
 * Offers `file` once on `files`' connection, and says what came of it in
 * the view `here` it was sent from; `passedOn` once the server passed the
 * offer on. `id`: the file's number (FilesWaiting `number`), which its offer
 * and transfer are listed under.
 */
async function sendOnce(
  context: FilesViewContext,
  files: WebFiles,
  target: FileTarget,
  file: File,
  id: number,
  here: string,
  again: boolean,
  passedOn: () => void = () => {},
): Promise<SentFileOutcome> {
  const emit = (event: SessionEvent) => context.emit(event, here);
  // Offered again, what it says is held until the offer reaches its
  // recipients: while they are away, each try is refused, and its lines each
  // time would only say again that it waits (as the terminal's).
  let held: SessionEvent[] | null = again ? [] : null;
  const say = (event: SessionEvent) => {
    if (held === null) emit(event);
    else held.push(event);
  };
  const reached = () => {
    const said = held ?? [];
    held = null;
    for (const event of said) emit(event);
  };
  const peer = "to" in target ? target.to : target.group;
  // Set by a callback: typed so that TypeScript does not take it for null.
  let bar = null as ProgressRow | null;
  const outcome = await files.send(target, file, {
    keyLines: (lines) => {
      for (const { kind, text } of lines) {
        say(
          kind === "warning"
            ? { type: "error", re: null, code: "e2e", text }
            : { type: "notice", text },
        );
      }
    },
    offered: () => {
      passedOn();
      say({
        type: "file_offering",
        re: 0,
        name: file.name,
        size: file.size,
        target,
      });
      // It reached its recipients: said now, as the terminal's (its
      // onAsked). Before, held until they answered or the offer ended, so
      // after "Took back the offer of big.bin." came "Offering big.bin
      // (4.0 MiB) to jojo; waiting for an answer.".
      if (again) reached();
    },
    answered: (declined, more) => {
      reached();
      for (const d of declined) {
        emit({ type: "file_declined", re: 0, file: file.name, declined: d });
      }
      if (more > 0) {
        emit(markedNotice(declinedMoreLine(more, file.name, ISOLATE)));
      }
    },
    resumed: (offset, size) => {
      reached();
      emit(markedNotice(
        // All of it there already: it arrived before the break kept us
        // from hearing so; nothing goes twice.
        offset === size
          ? `${marked(peer)} ${"to" in target ? "has" : "members have"} ${
            marked(file.name)
          } already: nothing more to send`
          : `Resuming ${marked(file.name)} to ${marked(peer)} at ${
            resumedPart(offset, size)
          }`,
      ));
    },
    progress: (acked, size) => {
      bar ??= context.log.progress(
        `${marked(file.name)} to ${peer}`,
        [fileTargetPlace(target), here],
        "sent",
      );
      bar.update(acked, size);
    },
  }, id);
  // Stopped for everyone: the bar says so where it stood. Stopped short for
  // someone only: the line below says so, not a bar left part full (it
  // shows the slowest recipient).
  if (outcome.kind === "cancelled") {
    bar?.stop(outcome.reason === "" ? "cancelled" : outcome.reason);
  } else if (
    outcome.kind !== "finished" || outcome.results.some((r) => !r.ok)
  ) {
    bar?.remove();
  }
  // Its recipient not back yet, the offer reached no one: it waits on,
  // unsaid (offerAgainTo).
  if (held !== null && quietRetry(outcome, again)) return outcome;
  // An offer made again that never reached anyone says its outcome, not
  // what was held for its recipients (its key's lines), as the terminal's.
  // Before, a WARNING that the host can read the file came again with an
  // offer the restarted server refused as too large.
  held = null;
  emit({ type: "file_sent", re: 0, target, outcome });
  return outcome;
}
