/// <reference lib="dom" />
/**
 * The page's log: rows of text (set as text, never as HTML), and rows that
 * hold elements (a question with buttons, a link to save a file, a progress
 * bar). It keeps its last rows only, letting go of what a row held as it
 * leaves, and follows the end while the reader is there. Older rows can be
 * put in (older_messages.ts): above the first of their conversation, among
 * the rest in the order the server stored them (row_order.ts), under a line
 * of its own at the top that says how loading them goes. It shows one view
 * at a time: the rows of one conversation, or All (row_places.ts); the
 * rest are hidden, not removed, and count towards the rows it keeps. Each
 * view is shown again where the reader left it. With the keyboard the log is
 * one Tab stop, however many buttons and links its rows hold: the arrow
 * keys, Home and End go from one to the next while it has the focus (a
 * roving focus, as WAI-ARIA's composite widgets do), and the focus stays in
 * it when what had it goes (an offer answered). Browser only (the DOM).
 *
 * @module
 */

import {
  clockPrefix,
  formatProgress,
  formatTransferDone,
  formatTransferStopped,
} from "../client/render.ts";
import { type Run, runsOf, safeMarked } from "./bidi_runs.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { olderRowPlaces } from "./row_order.ts";
import { ALL_VIEW, type Places, shownIn } from "./row_places.ts";

/**
 * The rows that say when they came with a time mark of their own, `[HH:MM]`
 * before them as before a message: what the page says (a notice, an error:
 * the connection lost, back again) and what files do (an offer, an offer
 * sent, its outcome). A message's rows carry theirs in their text
 * (text_output.ts); the lines of /help and a command's answer carry none,
 * as in the terminal.
 */
const STAMPED = [
  "notice",
  "error",
  "offer",
  "file_offering",
  "file_declined",
  "file_sent",
];
/** A row's text that starts with its time already (a message's). */
const CLOCK = /^\[(?:\d\d:\d\d|--:--)\] /;

/**
 * Rows the log keeps: a page left open all day must not grow without end
 * (/history brings older messages back). Scrolling back stops here too: a
 * row put above would push out the newest.
 */
export const MAX_ROWS = 5000;

/**
 * A line of /help that names a command and says what it does, padded
 * between the two as on a terminal (`  /msg <username> <message>   Send
 * ...`): the page's own text, never a line from the network.
 */
const HELP_COMMAND = /^( {2}\/\S.*? {2,})(\S.*)$/;

/** A span holding `text`. */
function span(text: string): HTMLSpanElement {
  const made = document.createElement("span");
  made.textContent = text;
  return made;
}

/**
 * `text` as nodes: the parts it marks (bidi_runs.ts) each in a `<bdi>`, the
 * rest text. Their text together is `text` without the marks.
 */
export function runNodes(text: string): (Node | string)[] {
  return runsOf(text).map(runNode);
}

/** A run of a row's text: an isolated one in a `<bdi>` (bidi_runs.ts). */
function runNode(run: Run): Node | string {
  if (!run.isolated) return run.text;
  const made = document.createElement("bdi");
  made.textContent = run.text;
  return made;
}

/** A transfer's row with its progress bar. */
export interface ProgressRow {
  /** Shows `done` of `total` bytes. */
  update(done: number, total: number): void;
  /**
   * Takes the row away: the transfer stopped short (cancelled, failed), and
   * a line of its own says so.
   */
  remove(): void;
  /**
   * The transfer stopped short (`why`: cancelled, failed): the row stays
   * where it stood, its bar where it got to, and says so in place, so that
   * the conversation does not end at "Accepted ..." with no word of it.
   */
  stop(why: string): void;
}

/**
 * Where the reader was in a view they left, to be there again on coming
 * back, as in Slack, Element or Discord.
 */
type ReadingSpot =
  /** At the newest row, following what comes. */
  | { kind: "end" }
  /**
   * Scrolled up: `row` was the first row in sight, its top `offset` pixels
   * below the top of the log's visible area (negative: partly above it).
   */
  | { kind: "row"; row: HTMLElement; offset: number };

export class LogView {
  /** What to do when a row leaves the log (see whenRemoved). */
  #onRemoved = new WeakMap<Element, () => void>();
  /** Rows made while `above` runs, to put above the first; null otherwise. */
  #above: HTMLElement[] | null = null;
  /** Called when rows were pushed out (see whenTrimmed). */
  #onTrimmed = () => {};
  /** The view shown (see `show`). */
  #view = ALL_VIEW;
  /** Where the reader was in each view they left, by view key. */
  #spots = new Map<string, ReadingSpot>();
  /**
   * The log's first child, never trimmed and not a row: what loading older
   * messages is doing ("Loading older messages…", the start of the
   * conversation), or empty.
   */
  readonly head: HTMLElement;
  /**
   * At the log's bottom edge while the reader is scrolled up and lines
   * came below: "N new lines ↓", a button that goes to them, as in Slack or
   * Element. Lines, not messages: a notice (someone joined, a key changed)
   * or a file offered counts too, as a line of a message does. Read out by
   * screen readers as it changes.
   */
  readonly newBelow: HTMLButtonElement;
  /** Lines that came below the reader, out of sight (see newBelow). */
  #unseen = 0;
  /**
   * Whether the reader was at the newest row when the log last scrolled:
   * so that it stays there when the log gets shorter (see the constructor).
   */
  #following = true;
  /**
   * The button or link of a row that has the focus, and that row: to keep
   * the focus in the log when it goes (see #keepFocus); null otherwise.
   */
  #focused: { item: HTMLElement; row: Element } | null = null;

  constructor(readonly element: HTMLElement, readonly maxRows = MAX_ROWS) {
    this.head = document.createElement("div");
    this.head.className = "log-head";
    element.prepend(this.head);
    const live = document.createElement("div");
    live.className = "new-below";
    live.setAttribute("aria-live", "polite");
    this.newBelow = document.createElement("button");
    this.newBelow.type = "button";
    this.newBelow.hidden = true;
    this.newBelow.addEventListener("click", () => {
      this.toEnd();
      // The button goes: the keyboard stays in the log, not the page's top.
      element.focus();
    });
    live.append(this.newBelow);
    element.after(live);
    element.addEventListener("scroll", () => {
      this.#following = this.#atEnd();
      if (this.#unseen > 0 && this.#following) this.#setUnseen(0);
    }, { passive: true });
    // The log gets shorter without scrolling (on a phone, the server key
    // unfolded above it, the status line wrapping under it, the screen
    // turned): a reader at the newest row would be left above it, the
    // newest out of sight and what comes next too. They stay at the end.
    new ResizeObserver(() => {
      if (this.#following && !this.#atEnd()) {
        element.scrollTop = element.scrollHeight;
      }
    }).observe(element);
    element.addEventListener("keydown", (event) => this.#key(event));
    document.addEventListener("focusin", (event) => {
      const item = event.target;
      const row = item instanceof HTMLElement && item !== element
        ? rowOf(element, item)
        : null;
      this.#focused = row === null ? null : { item: item as HTMLElement, row };
    });
    // An answered offer's buttons, a lapsed one's, a Save link let go: the
    // focus fell to the page's top (the next Tab started over there).
    new MutationObserver(() => this.#keepFocus()).observe(element, {
      childList: true,
      subtree: true,
    });
  }

  /** How many more rows the log keeps before pushing out its first ones. */
  get room(): number {
    return this.maxRows - (this.element.childElementCount - 1);
  }

  /** Whether a row of the log shows the message with this id. */
  shows(id: number): boolean {
    return this.element.querySelector(`:scope > [data-id="${id}"]`) !== null;
  }

  /**
   * The views of the rows that show a message (see `lines`): the keys of
   * the conversations the log has messages of, and of the views they were
   * typed in.
   */
  messageViews(): Set<string> {
    const views = new Set<string>();
    for (
      const row of this.element.querySelectorAll<HTMLElement>(
        ":scope > [data-id]",
      )
    ) {
      for (const view of placesOf(row)) views.add(view);
    }
    return views;
  }

  /**
   * Shows the rows of `view` alone (a conversation's key, or ALL_VIEW):
   * where the reader left it (still following the newest if they were at
   * it), or from the newest if never shown, as a web chat opens a
   * conversation.
   */
  show(view: string): void {
    this.#spots.set(this.#view, this.#spot());
    this.#view = view;
    for (const row of this.element.children) {
      if (row !== this.head) this.#fit(row as HTMLElement);
    }
    this.#goTo(this.#spots.get(view) ?? { kind: "end" });
    // What came below counted in the view left; this one is read anew.
    this.#setUnseen(0);
  }

  /**
   * Goes to the newest row, following what comes: the reader sent a line,
   * and its answer comes there (out of sight above, a line sent seemed
   * lost).
   */
  toEnd(): void {
    this.element.scrollTop = this.element.scrollHeight;
    this.#setUnseen(0);
  }

  /** Sets where `row` shows (row_places.ts; none: every view). */
  place(row: HTMLElement, places: Places): void {
    if (places.length === 0) delete row.dataset.in;
    // Keys are made of name characters (no spaces): a list in one attribute.
    else row.dataset.in = places.join(" ");
    this.#fit(row);
  }

  /** Calls `trimmed` whenever rows were pushed out at the top. */
  whenTrimmed(trimmed: () => void): void {
    this.#onTrimmed = trimmed;
  }

  /**
   * Calls `release` once `row` is trimmed from the log: what it alone held
   * (a received file's object URL) is let go with it.
   */
  whenRemoved(row: Element, release: () => void): void {
    this.#onRemoved.set(row, release);
  }

  /**
   * Appends `lines`, one row each (a `\n` in one: lines of that row), with
   * the CSS classes `line kind`; `id`: the message they show (see `shows`);
   * `places`: the views they show in; `own`: what the reader did or asked
   * for (not counted as new below).
   */
  lines(
    lines: readonly string[],
    kind: string,
    id?: number,
    places: Places = [],
    own = false,
  ): void {
    for (const text of lines) {
      const row = document.createElement("div");
      row.className = `line ${kind}`;
      const command = kind === "help" ? HELP_COMMAND.exec(text) : null;
      // The parts a user wrote, marked (bidi_runs.ts), each in a <bdi>: a
      // run of its own, its direction from its own first letters.
      if (command === null) row.append(...runsOf(text).map(runNode));
      else {
        // A command and what it does, in two columns (one under the other
        // on a narrow screen): wrapped, a description ran on under the
        // commands' column, and on a phone read as one with its command.
        row.classList.add("columns");
        const [, name, description] = command;
        row.append(span(name!), span(description!));
      }
      if (id !== undefined) row.dataset.id = String(id);
      this.place(row, places);
      this.#append(row, own ? 0 : text.split("\n").length);
    }
  }

  /**
   * Puts the rows `fill` makes (through this log's methods, in order) above
   * the first row shown in `view` (a conversation's key), among the rows of
   * other views by message id (row_order.ts), and keeps what the reader
   * sees where it was: they are older, loaded as the reader scrolled back
   * in that conversation. What does not fit in `room` is left out, the
   * oldest first; returns whether any was.
   */
  above(view: string, fill: () => void): boolean {
    const made: HTMLElement[] = [];
    this.#above = made;
    try {
      fill();
    } finally {
      this.#above = null;
    }
    const cut = Math.max(0, made.length - this.room);
    for (const row of made.slice(0, cut)) this.#release(row);
    const kept = made.slice(cut);
    const spot = this.#spot();
    const rows = this.#rows();
    const places = olderRowPlaces(
      rows.map((row) => ({
        id: idOf(row),
        inView: shownIn(placesOf(row), view),
      })),
      kept.map(idOf),
    );
    kept.forEach((row, i) => {
      this.element.insertBefore(row, rows[places[i]!] ?? null);
    });
    // The rows in view move by what was put above (or among) them: the
    // view moves with them (the page sets overflow-anchor: none, so the
    // browser does not do it as well, or not at the top).
    this.#goTo(spot);
    return cut > 0;
  }

  /**
   * A row of elements and text (strings become text nodes), in the views
   * `places`.
   */
  row(
    kind: string,
    places: Places,
    ...children: (Node | string)[]
  ): HTMLElement {
    return this.#row(kind, places, 1, children);
  }

  #row(
    kind: string,
    places: Places,
    count: number,
    children: (Node | string)[],
  ): HTMLElement {
    const row = document.createElement("div");
    row.className = `line ${kind}`;
    // A file's name in it, marked (bidi_runs.ts), a run of its own.
    row.append(
      ...children.flatMap((child) =>
        typeof child === "string" ? runNodes(child) : [child]
      ),
    );
    // One Tab stop for the whole log: its items take the arrow keys (#key).
    for (const item of row.querySelectorAll("button, a")) {
      (item as HTMLElement).tabIndex = -1;
    }
    this.place(row, places);
    this.#append(row, count);
    return row;
  }

  /**
   * A progress row for a transfer (`label`: a file's name in it marked, see
   * bidi_runs.ts), in the views `places`; through, it says
   * the file was `finished` (received or sent), without speed or time left.
   */
  progress(
    label: string,
    places: Places,
    finished: "received" | "sent",
  ): ProgressRow {
    const text = document.createElement("span");
    const bar = document.createElement("progress");
    // The reader's own: a file they send, or one they took.
    const row = this.#row("progress", places, 0, [bar, " ", text]);
    const started = Date.now();
    let got = { done: 0, total: 0 };
    // render.ts makes the label safe, marks and all: the label is put back
    // at the start with its marked parts as runs of their own.
    const plain = label.replace(/[\u2068\u2069]/g, "");
    const show = (formatted: string) => {
      const head = sanitizeForTerminal(plain);
      text.replaceChildren(
        ...(formatted.startsWith(head)
          ? [...runNodes(safeMarked(label)), formatted.slice(head.length)]
          : [formatted]),
      );
    };
    return {
      update: (done, total) => {
        got = { done, total };
        bar.max = Math.max(total, 1);
        bar.value = done;
        if (done >= total) {
          show(formatTransferDone(plain, total, finished));
          row.classList.add("done");
          return;
        }
        show(formatProgress(plain, done, total, Date.now() - started));
      },
      remove: () => row.remove(),
      stop: (why) => {
        show(formatTransferStopped(plain, got.done, got.total, why));
        row.classList.add("stopped");
      },
    };
  }

  /**
   * Appends `row`: `count` lines come below a reader scrolled up, out of
   * sight, if it shows in the view shown (see newBelow).
   */
  #append(row: HTMLElement, count: number): void {
    // Shown by the style sheet (`.line[data-time]::before`), not in the
    // row's text: what it says stays as it was, to read and to copy.
    if (
      STAMPED.some((kind) => row.classList.contains(kind)) &&
      !row.classList.contains("history") && !CLOCK.test(row.textContent ?? "")
    ) row.dataset.time = clockPrefix(Date.now()).trimEnd();
    if (this.#above !== null) {
      this.#above.push(row);
      return;
    }
    const log = this.element;
    const stick = this.#atEnd();
    if (!stick && !row.hidden && count > 0) {
      this.#setUnseen(this.#unseen + count);
    }
    log.append(row);
    let height: number | null = null;
    while (this.room < 0) {
      const first = this.head.nextElementSibling;
      if (first === null) break;
      height ??= log.scrollHeight;
      first.remove();
      this.#release(first);
    }
    if (height !== null) {
      // What was pushed out was above what a reader scrolled up sees: the
      // view moves up with it, so that what they read does not jump.
      if (!stick) log.scrollTop -= height - log.scrollHeight;
      this.#onTrimmed();
    }
    if (stick) log.scrollTop = log.scrollHeight;
  }

  /**
   * The buttons and links of the rows shown, top to bottom: out of the Tab
   * order (see #row), reached with the arrow keys, Home and End.
   */
  #items(): HTMLElement[] {
    return [
      ...this.element.querySelectorAll<HTMLElement>(
        ":scope > :not([hidden]) :is(button:not([disabled]), a[href])",
      ),
    ];
  }

  /**
   * The arrow keys, Home and End while the log or one of its items has the
   * focus: to the next, previous, first or last item; from the log itself,
   * to the first item in sight (down) or the last (up). Escape goes back to
   * the log; Space saves a file, as Enter does (a link takes Enter alone).
   * Without items they scroll the log, as PageUp and PageDown always do.
   */
  #key(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    const items = this.#items();
    if (items.length === 0) return;
    const at = items.indexOf(document.activeElement as HTMLElement);
    const last = items.length - 1;
    let to: number;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowRight":
        to = at >= 0 ? Math.min(at + 1, last) : this.#inSight(items, "first");
        break;
      case "ArrowUp":
      case "ArrowLeft":
        to = at >= 0 ? Math.max(at - 1, 0) : this.#inSight(items, "last");
        break;
      case "Home":
        to = 0;
        break;
      case "End":
        to = last;
        break;
      case "Escape":
        if (at < 0) return;
        event.preventDefault();
        this.element.focus({ preventScroll: true });
        return;
      case " ":
        if (at >= 0 && items[at] instanceof HTMLAnchorElement) {
          event.preventDefault();
          items[at].click();
        }
        return;
      default:
        return;
    }
    event.preventDefault();
    items[to]!.focus();
  }

  /**
   * The index of the first item in sight (or below it; none: the last), or
   * of the last in sight (or above it; none: the first).
   */
  #inSight(items: HTMLElement[], which: "first" | "last"): number {
    const top = this.#visibleTop();
    const bottom = top + this.element.clientHeight;
    if (which === "first") {
      const at = items.findIndex((item) =>
        item.getBoundingClientRect().bottom > top
      );
      return at < 0 ? items.length - 1 : at;
    }
    const at = items.findLastIndex((item) =>
      item.getBoundingClientRect().top < bottom
    );
    return at < 0 ? 0 : at;
  }

  /**
   * The item that had the focus went (its row answered, let go or pushed
   * out) and the focus fell to the page: to the item that came after it,
   * else the log itself.
   */
  #keepFocus(): void {
    const lost = this.#focused;
    if (lost === null || this.element.contains(lost.item)) return;
    this.#focused = null;
    const active = document.activeElement;
    if (active !== null && active !== document.body) return;
    const items = this.#items();
    const row = lost.row;
    const next = row.parentElement === this.element
      ? items.find((item) =>
        row.contains(item) ||
        (row.compareDocumentPosition(item) & Node.DOCUMENT_POSITION_FOLLOWING)
      )
      // Its row was pushed out at the top: the first that is left.
      : items[0];
    if (next !== undefined) next.focus();
    else this.element.focus({ preventScroll: true });
  }

  /** Shows how many lines came below the reader (none: no button). */
  #setUnseen(count: number): void {
    if (count === this.#unseen) return;
    this.#unseen = count;
    this.newBelow.hidden = count === 0;
    this.newBelow.textContent = count === 0
      ? ""
      : `${count} new line${count === 1 ? "" : "s"} \u2193`;
  }

  /** Whether the reader is at the newest row (within a few pixels). */
  #atEnd(): boolean {
    const log = this.element;
    return log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  }

  /** The log's rows, top to bottom (not its head). */
  #rows(): HTMLElement[] {
    return [...this.element.children].filter((row) =>
      row !== this.head
    ) as HTMLElement[];
  }

  /** Where the reader is in the view shown. */
  #spot(): ReadingSpot {
    if (this.#atEnd()) return { kind: "end" };
    const top = this.#visibleTop();
    for (const row of this.#rows()) {
      if (row.hidden) continue;
      const box = row.getBoundingClientRect();
      if (box.bottom > top) return { kind: "row", row, offset: box.top - top };
    }
    return { kind: "end" };
  }

  /**
   * Scrolls to `spot`; to the newest row when the row it names was pushed
   * out or is not shown.
   */
  #goTo(spot: ReadingSpot): void {
    const log = this.element;
    if (
      spot.kind === "row" && spot.row.parentElement === log && !spot.row.hidden
    ) {
      const top = spot.row.getBoundingClientRect().top - this.#visibleTop();
      log.scrollTop += top - spot.offset;
    } else {
      log.scrollTop = log.scrollHeight;
    }
  }

  /** Where the log's visible area starts on the screen (inside its border). */
  #visibleTop(): number {
    return this.element.getBoundingClientRect().top + this.element.clientTop;
  }

  /** Hides `row` unless it shows in the view shown. */
  #fit(row: HTMLElement): void {
    row.hidden = !shownIn(placesOf(row), this.#view);
  }

  #release(row: Element): void {
    this.#onRemoved.get(row)?.();
    this.#onRemoved.delete(row);
  }
}

/** The row of `log` that holds `element`, or null if none does. */
function rowOf(log: HTMLElement, element: Element): Element | null {
  let at: Element | null = element;
  while (at !== null && at.parentElement !== log) at = at.parentElement;
  return at;
}

/** The views `row` shows in (see `place`). */
function placesOf(row: HTMLElement): Places {
  return row.dataset.in?.split(" ") ?? [];
}

/** The id of the message `row` shows (see `lines`), if it shows one. */
function idOf(row: HTMLElement): number | undefined {
  const id = row.dataset.id;
  return id === undefined ? undefined : Number(id);
}

/** A small button, as the log and the lists use. */
export function smallButton(
  label: string,
  onClick: (event: MouseEvent) => void,
): HTMLButtonElement {
  const made = document.createElement("button");
  made.type = "button";
  made.className = "small";
  made.textContent = label;
  made.addEventListener("click", onClick);
  return made;
}
