/**
 * Files the user sends (/file, /groupfile): offered, their progress shown,
 * and offered again, resuming where they stopped, to those a broken
 * connection (ours or theirs) cut off.
 *
 * @module
 */

import { basename } from "node:path";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import type { Link } from "./connection_files.ts";
import type { SendTarget } from "./file_sender.ts";
import {
  declinedMoreLine,
  resumedPart,
  type SentFileOutcome,
} from "./render.ts";
import type { Re, SessionEvent } from "./session_events.ts";
import type { Declined } from "../protocol/messages.ts";
import { ResendSchedule } from "./resend_schedule.ts";
import { notYetReason, offeredAgainLine } from "./offered_again.ts";
import type { Turn } from "./unconfirmed_chat.ts";
import { PROGRESS_MIN_BYTES, type StatusRow } from "./status_row.ts";
import { type InOrder, ResumeOrder } from "./resume_order.ts";
import {
  atOnceNotice,
  type FilesAtOnce,
  heldNotice,
  placeKey,
  type SendingPlace,
  SendingPlaces,
} from "./sending_places.ts";

export interface OutgoingFilesOptions {
  /** The connection now. */
  link: () => Link;
  /**
   * Resolves with true when a new connection takes over, with false when
   * the session ends.
   */
  relinked: () => Promise<boolean>;
  /** The session is ending: nothing is offered again. */
  leaving: () => boolean;
  emit: (event: SessionEvent) => void;
  /**
   * Learns the groups there are now, before a refusal that the group
   * named does not exist is said: nobody is told of a group they are not
   * in, and `/groupfile hahq` to a group made since the client last asked
   * is answered "Did you mean haha?" from what it knows (likely_name.ts).
   */
  learnGroups?: () => Promise<void>;
  status: StatusRow;
  /**
   * When a file whose transfer broke is offered again (a test's shorter
   * one; by default RESEND_DELAYS_MS within RESEND_BUDGET_MS connected).
   */
  resendSchedule?: () => ResendSchedule;
  /**
   * A place among the chat lines typed (unconfirmed_chat.ts): a file's
   * first offer goes after the lines typed before it, and those typed
   * after it wait until the server passed it on or refused it.
   */
  turn?: () => Turn;
  /**
   * The places of the files under way to each recipient (a test's, to see
   * each given back once its file ends; by default the session's own).
   */
  places?: SendingPlaces;
  /**
   * At most this many files under way at once, whoever they go to (the
   * server's bound on a sender: a `--json` bot's files go on while it reads
   * on, a person may type /file nine times); the others wait for one to
   * end, in the order sent, listed meanwhile. None: no bound but each
   * recipient's.
   */
  atOnce?: FilesAtOnce;
  /**
   * A file that waits for one of `atOnce` to end is said, in one line (at
   * the terminal; a bot's hundreds of files would be as many events).
   */
  atOnceSaid?: boolean;
}

/**
 * A file waiting to be offered: again (for the next pause to pass, or for
 * our next connection), or for its place (sending_places.ts: its recipient
 * has MAX_SENDING_PER_RECIPIENT of ours under way). /transfers lists it,
 * /cancel stops it.
 */
export interface PendingResend {
  /**
   * The file's number, from the moment it is typed until it ends: its
   * offers and transfers carry it too (file_sender.ts), so /transfers lists
   * it under one number whatever stage it is at. For `cancelResend`.
   */
  id: number;
  /** The file's name. */
  name: string;
  /** Whom it is to be offered to. */
  targets: readonly SendTarget[];
  /**
   * Why it waits: to be offered again, for a place, for its turn (it has
   * its place; the offer of the held file given one before it goes first),
   * or for one of the files under way at once to end (`atOnce`).
   */
  why: "again" | "place" | "turn" | "many";
}

export function outgoingFiles(options: OutgoingFilesOptions): {
  /** Sends `path` to `target`; resolves once done with it. */
  send: (target: SendTarget, path: string, re: Re) => Promise<void>;
  /** Resolves once every file being sent is done with. */
  settled: () => Promise<unknown>;
  /**
   * The names of the files being sent, whatever step each is at (offered,
   * under way, waiting to be offered again): what a script whose input
   * ended still waits for.
   */
  sendingNames: () => string[];
  /** The files waiting to be offered again now. */
  resends: () => PendingResend[];
  /**
   * Offers `id` no more (/cancel, the second /quit: by the user); false
   * when it is not waiting any more.
   */
  cancelResend: (id: number) => boolean;
  /**
   * The session ends with the connection down: every file waiting to be
   * offered stops, each said by its `re` (`settled` resolves once said).
   */
  stopWaiting: () => void;
  /**
   * A non-interactive `/quit`: nothing is offered again from now on, and
   * the files waiting to be are stopped, each said by its `re` as when the
   * session ends; the others (offered, under way) go on to their outcome.
   * What was stopped, as "NAME to bob" (sanitized), for the one line that
   * says it.
   */
  stopOffersAgain: () => string[];
} {
  const { link, relinked, leaving, emit, status } = options;
  const schedule = options.resendSchedule ?? (() => new ResendSchedule());
  /** Each file being sent, and its name. */
  const sending = new Map<Promise<void>, string>();
  let nextSend = 1;
  /** Files waiting to be offered again, and how to stop each, by id. */
  const waiting = new Map<
    number,
    Omit<PendingResend, "id"> & { cancel: () => void }
  >();
  /** Files under way to each recipient, and those waiting for a place. */
  const places = options.places ?? new SendingPlaces();
  /** Those our broken connection cut off, to go again in the order sent. */
  const resumeOrder = new ResumeOrder();
  /**
   * Per recipient (placeKey), the offer of the last held file given its
   * place: resolves once that offer is passed on or ends.
   */
  const heldOffers = new Map<string, Promise<void>>();
  /** The files the user stopped while they waited (cancelResend), by id. */
  const stoppedByYou = new Set<number>();
  /**
   * Set by `stopOffersAgain`: the session is about to end (a script's
   * `/quit`), so no file is offered again and each outcome is final.
   */
  let noneAgain = false;
  const ending = () => leaving() || noneAgain;
  // A script's /quit offers nothing again, but a file cut off by our own
  // connection dropping is work it asked for that is not over: it goes on
  // once reconnected, resuming where it stopped (session_reconnect.ts).
  const offeredNoMore = () => leaving() || (noneAgain && !link().client.isOver);
  let nextResend = 1;
  const sendFile = (target: SendTarget, path: string, re: Re) => {
    const run = sendWithResume(target, path, re, options.turn?.());
    sending.set(run, basename(path));
    run.finally(() => sending.delete(run));
    return run;
  };

  /**
   * Sends, then offers again to those a broken connection cut off, until
   * it reaches them, they decline, the session ends, the user cancels it
   * (/cancel) or the schedule's budget of time connected is spent
   * (resend_schedule.ts).
   */
  const sendWithResume = async (
    target: SendTarget,
    path: string,
    re: Re,
    turn?: Turn,
  ) => {
    const resend = schedule();
    const id = nextResend++;
    // Its outcome while it is to be offered again: not final (a program
    // is told it once, at the end), said as final if it is not offered.
    // Kept for each recipient it is offered again to on its own (a group's
    // members one by one): one member's outcome took the place of another's,
    // whose final event was then never said.
    // A recipient it was never offered to yet is kept too: stopped first
    // (/cancel, the session ending while it waited for its turn, a place or
    // the connection), that is its outcome, said by its `re`. Before, a
    // program heard nothing final of it.
    const unsaid = new Map<string, Unsaid>();
    const unsaidOf = (to: SendTarget): Unsaid => {
      const key = placeKey(to);
      let one = unsaid.get(key);
      if (one === undefined) {
        unsaid.set(key, one = { event: null, target: to, offered: false });
      }
      return one;
    };
    // A group's member offered again alone: the group's offer reached
    // them, so stopped before another does (the session ends, /cancel),
    // their outcome is their part of the group's (`bob disconnected`), not
    // that the file was never offered to them (or nothing at all).
    const heldFromGroup = (
      member: SendTarget,
      outcome: Extract<SentFileOutcome, { kind: "finished" }>,
    ) => {
      if (!("to" in member)) return;
      const one = unsaidOf(member);
      one.offered = true;
      one.event = {
        type: "file_sent",
        re,
        target: member,
        outcome: {
          ...outcome,
          results: outcome.results.filter((r) => r.name === member.to),
        },
      };
    };
    let targets: SendTarget[] = [target];
    // The file's SHA-256 once a transfer of it sent its end: each offer
    // made again carries it (FileSender `whole`), so that a recipient that
    // had all of it, unheard, claims it whole, and only then.
    let whole: string | undefined;
    // Waiting for our connection: once back, it goes in the order sent.
    let inOrder: InOrder | undefined;
    try {
      for (let attempt = 0; targets.length > 0; attempt++) {
        const retry: SendTarget[] = [];
        // Each listed before any waits: a group's members offered again one
        // by one, stopped at the first, have their outcome said too.
        for (const to of targets) unsaidOf(to);
        for (const to of targets) {
          // Offered again, it waits for no line and holds none back.
          const place = attempt === 0 ? turn : undefined;
          const outcome = await sendOnce(to, path, attempt > 0, re, place, id, {
            queued: () => inOrder?.done(),
            unsaid: unsaidOf(to),
            whole,
          });
          if (
            outcome !== "unsent" && outcome !== "cancelled" &&
            outcome.kind !== "refused" && outcome.sha256 !== undefined
          ) whole = outcome.sha256;
          inOrder?.done();
          inOrder = undefined;
          if (outcome === "cancelled") return;
          // /cancel N stops the file, N being its number whatever it is at:
          // offered again to several people one after the other, taking
          // back the offer to one stopped it for that one alone, and it
          // went on to the next (while waiting, it stopped for all).
          if (
            outcome !== "unsent" && outcome.kind === "cancelled" &&
            outcome.byYou
          ) {
            return;
          }
          if (outcome === "unsent") retry.push(to);
          else {
            const again = resendTargets(to, outcome, attempt > 0);
            if ("group" in to && outcome.kind === "finished") {
              for (const member of again) heldFromGroup(member, outcome);
            }
            retry.push(...again);
          }
        }
        targets = retry;
        if (targets.length === 0 || offeredNoMore()) return;
        // Between offers only: a running one is cancelled as a transfer.
        const cancelled = Promise.withResolvers<"cancelled">();
        waiting.set(id, {
          name: basename(path),
          targets,
          why: "again",
          cancel: () => cancelled.resolve("cancelled"),
        });
        try {
          const back = () => inOrder = resumeOrder.hold(id);
          if (
            !(await untilNextOffer(
              resend,
              cancelled.promise,
              path,
              re,
              back,
              unsaid,
            ))
          ) {
            return;
          }
        } finally {
          waiting.delete(id);
        }
        await inOrder?.turn();
      }
    } finally {
      inOrder?.done();
      const byYou = stoppedByYou.delete(id);
      // Not offered again after all (the session ended, /cancel): what was
      // held back is its outcome, final now; not offered at all, that it
      // was stopped.
      const held = ending() ? "ended" : "cancelled";
      for (const one of unsaid.values()) {
        if (one.event !== null) emit({ ...one.event, held });
        else if (!one.offered) {
          emit(neverOffered(one.target, basename(path), re, byYou));
        }
      }
    }
  };

  /**
   * Waits until a file whose transfer broke is to be offered again: true
   * then; false when it is not to be (the session ends, `cancelled`
   * resolves, or `resend`'s budget is spent, which is said). `back` is
   * called as it starts waiting for our next connection.
   */
  const untilNextOffer = async (
    resend: ResendSchedule,
    cancelled: Promise<"cancelled">,
    path: string,
    re: Re,
    back: () => void,
    unsaid: Map<string, Unsaid>,
  ): Promise<boolean> => {
    if (link().client.isOver) {
      back();
      // Our connection broke: wait for the next one, however long that
      // takes (a server restarting slowly); then offer at once.
      if ((await Promise.race([relinked(), cancelled])) !== true) return false;
      resend.reconnected();
      return true;
    }
    const delay = resend.next();
    if (delay === null) {
      // This is its outcome: what was held back is not said too.
      unsaid.clear();
      emit({
        type: "error",
        re,
        code: "file",
        text: `ERROR: Gave up offering ${
          sanitizeForTerminal(basename(path))
        } again: not taken in ${
          resend.budgetMs / 60_000
        } minutes connected; send it again later and it resumes where it stopped`,
      });
      return false;
    }
    const client = link().client;
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woke = await Promise.race([
      new Promise<"slept">((resolve) => {
        timer = setTimeout(() => resolve("slept"), delay);
      }),
      relinked().then((back) => back ? "relinked" as const : "ended" as const),
      client.ended.then(() => "broke" as const),
      cancelled,
    ]);
    clearTimeout(timer);
    // Only time connected counts: up to the break, if ours broke.
    resend.waited(performance.now() - started);
    if (leaving() || woke === "ended" || woke === "cancelled") return false;
    if (woke === "relinked") resend.reconnected();
    else if (woke === "broke" || client.isOver) {
      back();
      if ((await Promise.race([relinked(), cancelled])) !== true) return false;
      resend.reconnected();
    }
    return true;
  };

  /** What to offer again after `outcome`: its targets that may resume. */
  const resendTargets = (
    target: SendTarget,
    outcome: SentFileOutcome,
    retrying: boolean,
  ): SendTarget[] => {
    switch (outcome.kind) {
      case "refused":
        // While offering again, a recipient not back yet is tried later;
        // an offer our connection's end left unanswered, once we are back.
        return (retrying && outcome.code === "no_such_user") ||
            link().client.isOver
          ? [target]
          : [];
      case "cancelled":
        return outcome.broken ? [target] : [];
      case "finished":
        return outcome.results.filter((r) => !r.ok && r.resumable).map((r) =>
          "to" in target ? target : { to: r.name }
        );
      default: {
        const unreachable: never = outcome;
        return unreachable;
      }
    }
  };

  /**
   * Offers `path` to `target` once its turn comes and a place is free
   * (sending_places.ts); "cancelled" when it was stopped (/cancel, /quit)
   * while it waited for one; "unsent" when its place came with our
   * connection down (it waits for the next one, unsaid: it was never
   * offered). `id`: the file's number (PendingResend);
   * `queued` is called once it has its place or waits in line for one.
   */
  const sendOnce = async (
    target: SendTarget,
    path: string,
    again: boolean,
    re: Re,
    turn: Turn | undefined,
    id: number,
    { queued, unsaid, whole }: {
      queued: () => void;
      unsaid: Unsaid;
      whole: string | undefined;
    },
  ): Promise<SentFileOutcome | "cancelled" | "unsent"> => {
    let passedOn = turn?.done;
    try {
      await turn?.ready;
      let place = places.tryTake(target);
      if (place !== null) queued();
      else {
        // The lines typed after it do not wait for a file that waits: its
        // order is kept among the files to that recipient.
        turn?.done();
        passedOn = undefined;
        const asked = placeFor(target, path, again, id);
        // In line for a place now (placeFor asks before it awaits).
        queued();
        const given = await asked;
        if (given === "cancelled" || leaving()) {
          if (given !== "cancelled") given.release();
          return "cancelled";
        }
        // The places our broken connection's transfers gave back: offered
        // on it, the file was refused (an ERROR) and said "offered again,
        // resuming" though it never was. Let the place go to the next.
        if (link().client.isOver) {
          given.release();
          return "unsent";
        }
        place = given;
        // Places are given in the order sent, but each file opens and sends
        // its key before its offer goes: the 6th, ready first, reached the
        // wire before the 5th. Each held file's offer goes once the one
        // given a place before it (to that recipient) is passed on or ended.
        const key = placeKey(target);
        const before = heldOffers.get(key);
        const mine = Promise.withResolvers<void>();
        heldOffers.set(key, mine.promise);
        passedOn = () => {
          mine.resolve();
          if (heldOffers.get(key) === mine.promise) heldOffers.delete(key);
        };
        if (before !== undefined) {
          if ((await offerTurn(before, target, path, id)) === "cancelled") {
            place.release();
            return "cancelled";
          }
          if (leaving()) {
            place.release();
            return "cancelled";
          }
          if (link().client.isOver) {
            place.release();
            return "unsent";
          }
        }
      }
      // No more under way at once than the bound (a --json bot's): it waits
      // for one of them to end, its recipient's place kept.
      let slot = options.atOnce?.tryTake() ?? null;
      if (options.atOnce !== undefined && slot === null) {
        // The lines after it do not wait for a file that waits, as above.
        turn?.done();
        const given = await manyFor(options.atOnce, target, path, again, id);
        if (given === "cancelled" || leaving()) {
          if (given !== "cancelled") given.release();
          place.release();
          return "cancelled";
        }
        if (link().client.isOver) {
          given.release();
          place.release();
          return "unsent";
        }
        slot = given;
      }
      try {
        return await offer(
          target,
          path,
          again,
          re,
          id,
          unsaid,
          whole,
          passedOn,
        );
      } finally {
        place.release();
        slot?.release();
      }
    } finally {
      turn?.done();
      passedOn?.();
    }
  };

  /**
   * Lists file `id` (`path`, to `target`) as waiting, `why`, for as long as
   * `until` takes, which is given a promise that resolves "cancelled" once
   * /cancel (or the second /quit) stops it.
   */
  const listedWhile = async <T>(
    why: PendingResend["why"],
    target: SendTarget,
    path: string,
    id: number,
    until: (cancelled: Promise<"cancelled">) => Promise<T>,
  ): Promise<T> => {
    const cancelled = Promise.withResolvers<"cancelled">();
    const entry = {
      name: basename(path),
      targets: [target],
      why,
      cancel: () => cancelled.resolve("cancelled"),
    };
    waiting.set(id, entry);
    try {
      return await until(cancelled.promise);
    } finally {
      if (waiting.get(id) === entry) waiting.delete(id);
    }
  };

  /**
   * Waits for a place for a file to `target`, listed meanwhile as waiting
   * for it (said once, the first time it is offered).
   */
  const placeFor = (
    target: SendTarget,
    path: string,
    again: boolean,
    id: number,
  ): Promise<SendingPlace | "cancelled"> =>
    listedWhile("place", target, path, id, (cancelled) => {
      if (!again) {
        emit({
          type: "notice",
          text: sanitizeForTerminal(heldNotice(basename(path), target)),
        });
      }
      return places.wait(target, cancelled);
    });

  /**
   * Waits for one of the files under way at once (`atOnce`) to end, listed
   * meanwhile as waiting for it; said once, the first time it is offered,
   * when `atOnceSaid` (the terminal's: a bot's hundreds of files would be
   * as many lines; each says its outcome as ever).
   */
  const manyFor = (
    atOnce: FilesAtOnce,
    target: SendTarget,
    path: string,
    again: boolean,
    id: number,
  ): Promise<SendingPlace | "cancelled"> =>
    listedWhile("many", target, path, id, (cancelled) => {
      if (options.atOnceSaid === true && !again) {
        emit({
          type: "notice",
          text: sanitizeForTerminal(atOnceNotice(basename(path))),
        });
      }
      return atOnce.wait(cancelled);
    });

  /**
   * Waits for `before`, the offer of the held file given its place before
   * this one (`id`), listed meanwhile as waiting for its turn (it has its
   * place): "cancelled" once /cancel (or the second /quit) stops
   * it first. Before, it was in no list for as long as that offer took (up
   * to 27 s of retries after a server's slow_down): /transfers left it out,
   * /cancel of its number said it had ended, /quit did not name it.
   */
  const offerTurn = (
    before: Promise<void>,
    target: SendTarget,
    path: string,
    id: number,
  ): Promise<"ready" | "cancelled"> =>
    // Never rejects: resolved whatever that offer came to.
    listedWhile("turn", target, path, id, (cancelled) =>
      Promise.race([
        before.then(() => "ready" as const),
        cancelled,
      ]));

  /**
   * `sendOnce`, in its turn; `passedOn` once the server passed it on. `id`:
   * the file's number, which its offer and transfer are listed under;
   * `whole`: its SHA-256 once a transfer of it sent its end.
   */
  const offer = (
    target: SendTarget,
    path: string,
    again: boolean,
    re: Re,
    id: number,
    unsaid: Unsaid,
    whole: string | undefined,
    passedOn: () => void = () => {},
  ): Promise<SentFileOutcome> => {
    const key = `out:${nextSend++}`;
    // The rate is measured from the first chunk sent: not from the offer,
    // whose answer may take a minute, nor over the part a resume skips.
    let from: { at: number; bytes: number } | null = null;
    const peer = "to" in target ? target.to : target.group;
    const file = basename(path);
    // Offered again, the offer is said only once it reaches its recipients:
    // while they are away, each try is refused, and a line each time (for
    // up to RESEND_BUDGET_MS) would only say again that it waits.
    let held: SessionEvent[] | null = again ? [] : null;
    const say = (event: SessionEvent) => {
      if (held === null) emit(event);
      else held.push(event);
    };
    // Who did not take it: said at once (file_declined), and again in its
    // outcome, so that `ok` is not said of a file some never got.
    let declinedAll: readonly Declined[] = [];
    let declinedMore = 0;
    const reached = () => {
      const said = held ?? [];
      held = null;
      for (const event of said) emit(event);
    };
    return link().sender.send(
      target,
      expandHome(path),
      (p) => {
        if (p.size >= PROGRESS_MIN_BYTES) {
          from ??= { at: Date.now(), bytes: p.acked };
          status.showProgress(key, {
            type: "file_progress",
            direction: "out",
            name: file,
            peer,
            bytes: p.acked,
            size: p.size,
            elapsedMs: Date.now() - from.at,
            fromBytes: from.bytes,
            re,
          });
        }
      },
      (name, size) => {
        passedOn();
        say({ type: "file_offering", re, name, size, target });
      },
      (declined, more) => {
        reached();
        declinedAll = declined;
        declinedMore = more;
        // Said as soon as the answers are in, not after a long transfer.
        for (const d of declined) {
          emit({ type: "file_declined", re, file, declined: d });
        }
        if (more > 0) {
          emit({ type: "notice", text: declinedMoreLine(more, file) });
        }
      },
      (offset, size) => {
        reached();
        emit({
          type: "notice",
          // All of it there already: the file arrived before a break kept
          // us from hearing so (received_files.ts); nothing goes twice.
          text: offset === size
            ? `${sanitizeForTerminal(peer)} ${
              "to" in target ? "has" : "members have"
            } ${sanitizeForTerminal(file)} already: nothing more to send`
            : `Resuming ${sanitizeForTerminal(file)} to ${
              sanitizeForTerminal(peer)
            } at ${resumedPart(offset, size)}`,
        });
      },
      (lines) => {
        for (const { kind, text } of lines) {
          const safe = sanitizeForTerminal(text);
          if (kind === "warning") {
            say({ type: "error", re: null, code: "e2e", text: safe });
          } else say({ type: "notice", text: safe });
        }
      },
      again ? reached : undefined,
      id,
      again ? whole : undefined,
    ).then(async (outcome) => {
      status.showProgress(key, null);
      if (outcome.kind === "refused" && outcome.code === "no_such_group") {
        await options.learnGroups?.();
      }
      const offerSaid = held === null;
      // An offer made again that never reached anyone is not said.
      held = null;
      // Nor is "not online yet" while offering again: the file waits on,
      // as it was said to once already. Unless this offer was said (it
      // reached their server, which then found them gone: a node of a
      // cluster that still listed them, or they left while asked): its end
      // is said too, and that it waits on.
      if (
        again && !offerSaid && outcome.kind === "refused" &&
        outcome.code === "no_such_user"
      ) return outcome;
      // Its outcome for them is this offer's now (said, or held below), not
      // that it was never offered: the refusals above never reached them.
      unsaid.offered = true;
      const sent: FileSent = {
        type: "file_sent",
        re,
        target,
        outcome,
        ...(declinedAll.length > 0 ? { declined: declinedAll } : {}),
        ...(declinedMore > 0 ? { declinedMore } : {}),
      };
      const resent = resendTargets(target, outcome, again);
      if (resent.length === 0 || offeredNoMore()) {
        unsaid.event = null;
        emit(sent);
        return outcome;
      }
      // Offered again to the same target (not a group's members one by
      // one): not its outcome yet, which comes once, final, at the end
      // (a script took an error or `ok: false` said first as final).
      const same = resent.length === 1 && resent[0] === target;
      unsaid.event = same ? sent : null;
      emit(same ? { ...sent, again: true } : sent);
      // The one line said of it, terminal and program alike: not an ERROR
      // ("Not sent: the connection ... was lost" then "will be offered
      // again" said it was lost, then that it was not); its outcome, if it
      // is never offered again, is said then, final.
      // A group's members one by one: its outcome was said, final, and
      // this says what goes on for those who did not get it.
      emit({
        type: "notice",
        re,
        text: !same
          ? `${
            sanitizeForTerminal(file)
          } will be offered again, resuming where it stopped`
          : offeredAgainLine(
            file,
            link().client.isOver ||
              (outcome.kind === "cancelled" && outcome.broken === true)
              ? { reconnected: true }
              : { reason: notYetReason(outcome) },
          ),
      });
      return outcome;
    });
  };

  return {
    send: sendFile,
    settled: () => Promise.all(sending.keys()),
    sendingNames: () => [...sending.values()],
    resends: () =>
      [...waiting].map(([id, { name, targets, why }]) => ({
        id,
        name,
        targets,
        why,
      })),
    cancelResend: (id) => {
      const pending = waiting.get(id);
      if (pending === undefined) return false;
      waiting.delete(id);
      stoppedByYou.add(id);
      pending.cancel();
      return true;
    },
    stopWaiting: () => {
      for (const pending of waiting.values()) pending.cancel();
      waiting.clear();
    },
    stopOffersAgain: () => {
      noneAgain = true;
      const stopped: string[] = [];
      for (const [id, pending] of waiting) {
        if (pending.why !== "again") continue;
        waiting.delete(id);
        pending.cancel();
        for (const target of pending.targets) {
          stopped.push(
            `${sanitizeForTerminal(pending.name)} to ${
              sanitizeForTerminal(
                "to" in target ? target.to : `group ${target.group}`,
              )
            }`,
          );
        }
      }
      return stopped;
    },
  };
}

type FileSent = Extract<SessionEvent, { type: "file_sent" }>;

/**
 * A file's outcome for one recipient (`target`), held back while it is to
 * be offered again; `offered`: an offer of it had an outcome for them (said,
 * or held here), so that stopped now it is not said never offered.
 */
interface Unsaid {
  event: FileSent | null;
  readonly target: SendTarget;
  offered: boolean;
}

/** The reasons a file stopped before it was offered gives (README "--json"). */
export const STOPPED_BY_YOU = "you cancelled it";
export const STOPPED_AT_END = "the session ended before it was offered";

/**
 * The outcome of file `name`, stopped before it was ever offered to
 * `target`: by the user (/cancel, the second /quit, who were told so then:
 * `byYou`), or by the session ending. As an offer taken back says it (a
 * `file_sent` with `ok: false`), so that a program has one rule for a file
 * stopped: the reply to `cancel` goes to the cancel's own `re`.
 */
function neverOffered(
  target: SendTarget,
  name: string,
  re: Re,
  byYou: boolean,
): FileSent {
  return {
    type: "file_sent",
    re,
    target,
    outcome: byYou
      ? { kind: "cancelled", name, reason: STOPPED_BY_YOU, results: [], byYou }
      : { kind: "cancelled", name, reason: STOPPED_AT_END, results: [] },
  };
}

/** `~/x` means the user's home folder, as in a shell. */
function expandHome(path: string): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  return home && (path === "~" || path.startsWith("~/"))
    ? home + path.slice(1)
    : path;
}
