// This module is browser compatible.

/**
 * Bracketed paste (xterm's mode 2004, as readline 8.1, zsh, fish and vim
 * use it): while the client reads, the terminal wraps pasted text in
 * `ESC[200~` ... `ESC[201~`. A paste is then known exactly: its line breaks
 * never send a line by themselves, and keys typed quickly are never taken
 * for one (paste.ts guesses from timing, for terminals without the mode).
 *
 * Pure: {@linkcode PasteParser} splits the input stream, read by read, into
 * keys and pastes; the terminal (terminal.ts) turns the mode on and off,
 * keeps the time, and puts a paste into the editor ({@linkcode placePaste}).
 *
 * @module
 */

/** Turns the mode on: written when the client starts reading a terminal. */
export const ENABLE_BRACKETED_PASTE = "\x1b[?2004h";
/** Turns it off: written on every way out, or the user's shell gets the brackets. */
export const DISABLE_BRACKETED_PASTE = "\x1b[?2004l";
export const PASTE_START = "\x1b[200~";
export const PASTE_END = "\x1b[201~";

/**
 * A paste longer than this is not taken (a terminal that never sends the
 * end marker must not make us hold its input without bound): 64 messages
 * of the longest kind (MAX_TEXT_CHARS).
 */
export const MAX_PASTE_CHARS = 256 * 1024;
/**
 * What is said of a paste longer than MAX_PASTE_CHARS, not taken: by the
 * terminal, and by the web page for one pasted in its message field.
 */
export const PASTE_TOO_LONG =
  `Not pasted: the paste is longer than ${MAX_PASTE_CHARS} characters`;
/**
 * A paste that gets no more input for this long ends as if its end marker
 * had come: a terminal writes a paste at once, so a pause this long means the
 * marker was lost (or never meant to come), and what follows are keys.
 */
export const PASTE_IDLE_MS = 1000;
/**
 * What may be the start of a marker at the end of a read waits this long
 * for the rest, then goes on as keys (an Escape pressed alone).
 */
export const MARKER_WAIT_MS = 50;

/** A tab in a paste becomes this: the editor has no tab stops. */
const TAB = "    ";

/** What the input held, in order. */
export type PasteEvent =
  /** Keys typed (or pasted by a terminal without the mode): for the editor. */
  | { kind: "keys"; text: string }
  /** A paste's text, cleaned (pastedText). */
  | { kind: "paste"; text: string }
  /** A paste longer than MAX_PASTE_CHARS: dropped whole. */
  | { kind: "too-long" };

/** The longest end of `text` that begins `marker` (not all of it), or "". */
function partialMarkerAtEnd(text: string, marker: string): string {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (marker.startsWith(text.slice(text.length - n))) {
      return text.slice(text.length - n);
    }
  }
  return "";
}

/**
 * Splits the input into keys and pastes across reads: a marker may be cut
 * between two reads, a paste may span many. A start marker inside a paste
 * (nested) is part of it (and dropped from its text as any escape
 * sequence); an end marker outside one (stray) is dropped.
 */
export class PasteParser {
  /** Outside a paste: what may be the start of a marker, held. */
  #held = "";
  /** Inside a paste: its raw text so far, or null outside one. */
  #paste: string | null = null;
  /** The paste went over MAX_PASTE_CHARS: the rest is dropped up to its end. */
  #tooLong = false;

  /** Whether a paste has begun and not ended. */
  get pasting(): boolean {
    return this.#paste !== null;
  }

  /**
   * How long the terminal should wait for more input before calling
   * {@linkcode timedOut}, or null when nothing waits.
   */
  get waitMs(): number | null {
    if (this.#paste !== null) return PASTE_IDLE_MS;
    return this.#held === "" ? null : MARKER_WAIT_MS;
  }

  /** The events one read's text brings. */
  feed(chunk: string): PasteEvent[] {
    const events: PasteEvent[] = [];
    let text = chunk;
    while (text !== "") {
      text = this.#paste === null
        ? this.#keys(text, events)
        : this.#pasted(text, events);
    }
    return events;
  }

  /**
   * No input came for {@linkcode waitMs}: a held marker's start is keys
   * after all; a paste ends as it is.
   */
  timedOut(): PasteEvent[] {
    const events: PasteEvent[] = [];
    if (this.#paste !== null) {
      this.#endPaste(this.#paste, events);
    } else if (this.#held !== "") {
      events.push({ kind: "keys", text: this.#held });
      this.#held = "";
    }
    return events;
  }

  /** Outside a paste: returns the text left after the first marker, if any. */
  #keys(chunk: string, events: PasteEvent[]): string {
    const text = this.#held + chunk;
    this.#held = "";
    const start = text.indexOf(PASTE_START);
    const end = text.indexOf(PASTE_END);
    const at = start === -1 ? end : end === -1 ? start : Math.min(start, end);
    if (at === -1) {
      const held = partialMarkerAtEnd(text, PASTE_START) ||
        partialMarkerAtEnd(text, PASTE_END);
      const keys = text.slice(0, text.length - held.length);
      if (keys !== "") events.push({ kind: "keys", text: keys });
      this.#held = held;
      return "";
    }
    if (at > 0) events.push({ kind: "keys", text: text.slice(0, at) });
    // A stray end marker is dropped; a start marker begins a paste.
    if (at === start) {
      this.#paste = "";
      this.#tooLong = false;
    }
    return text.slice(at + PASTE_START.length);
  }

  /** Inside a paste: returns the text after its end marker, if it came. */
  #pasted(chunk: string, events: PasteEvent[]): string {
    const before = this.#paste!;
    // Looked for from where a marker cut by the last read may begin.
    const from = Math.max(0, before.length - (PASTE_END.length - 1));
    const text = before + chunk;
    const end = text.indexOf(PASTE_END, from);
    if (end === -1) {
      if (this.#tooLong || text.length > MAX_PASTE_CHARS) {
        // Only what may be a cut end marker is kept from now on.
        this.#tooLong = true;
        this.#paste = partialMarkerAtEnd(text, PASTE_END);
      } else {
        this.#paste = text;
      }
      return "";
    }
    this.#endPaste(text.slice(0, end), events);
    return text.slice(end + PASTE_END.length);
  }

  #endPaste(raw: string, events: PasteEvent[]): void {
    events.push(
      this.#tooLong || raw.length > MAX_PASTE_CHARS
        ? { kind: "too-long" }
        : { kind: "paste", text: pastedText(raw) },
    );
    this.#paste = null;
    this.#tooLong = false;
  }
}

/**
 * Escape sequences: CSI (ESC [ ... final), OSC, DCS, SOS, PM and APC
 * strings (up to BEL or ST, or the end of the line), and ESC with one
 * character (Alt-key, charset selection).
 */
const ESCAPES =
  // deno-lint-ignore no-control-regex -- escape sequences begin with ESC
  /\x1b\[[0-?]*[ -/]*[@-~]?|\x1b[\]PX^_][^\x07\x1b\r\n]*(?:\x07|\x1b\\)?|\x1b[ -~]?/g;
/** C0 controls but the line break, DEL and C1 controls. */
// deno-lint-ignore no-control-regex -- these are the characters removed
const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

/**
 * A paste's raw text as it goes into the editor: line breaks (CR LF, CR, LF:
 * terminals send CR) as `\n`; a tab as four spaces; escape sequences and
 * every other control character dropped, so that nothing pasted acts as a
 * key (Ctrl-C, Ctrl-D, Enter, arrows) or reaches the screen as a control.
 */
export function pastedText(raw: string): string {
  return raw
    .replace(ESCAPES, "")
    .replace(/\r\n?/g, "\n")
    .replaceAll("\t", TAB)
    .replace(CONTROLS, "");
}

/** What a paste does to the line being edited. */
export type PastePlacement =
  /** No line break: the line becomes `line`, the cursor after the paste. */
  | { kind: "edit"; line: string; cursor: number }
  /**
   * Line breaks: `lines` (each ended by one) are sent once the question is
   * answered yes; `rest` (after the last break) stays in the editor.
   */
  | { kind: "ask"; lines: string[]; rest: string };

/**
 * Puts `pasted` (pastedText) into `line` at `cursor`, as typing it would:
 * the first pasted line joins what is before the cursor, what is after it
 * joins the last. One line stays in the editor, to be sent with Enter (a
 * line break that ends it is dropped: no pasted line break sends anything
 * by itself); more are asked about.
 */
export function placePaste(
  line: string,
  cursor: number,
  pasted: string,
): PastePlacement {
  const body = pasted.endsWith("\n") ? pasted.slice(0, -1) : pasted;
  const before = line.slice(0, cursor);
  const after = line.slice(cursor);
  if (!body.includes("\n")) {
    return {
      kind: "edit",
      line: before + body + after,
      cursor: before.length + body.length,
    };
  }
  const lines = (before + pasted + after).split("\n");
  const rest = lines.pop()!;
  return { kind: "ask", lines, rest };
}
