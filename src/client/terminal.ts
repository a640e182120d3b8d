/**
 * The only code that touches stdin and stdout on the client.
 *
 * On a terminal: node:readline edits the line (keys, history, completion)
 * and this file draws it. readline's own drawing clears only the row the
 * cursor is on, so text printed while the input took several rows was drawn
 * over (issue 15). Here readline writes into a sink, and an input block
 * (input_block.ts: status rows, prompt, the line, wrapped) is drawn by us:
 * incoming text goes where the block starts and the whole block is drawn again
 * below it, with the cursor where it was. Pastes come bracketed
 * (bracketed_paste.ts) and are taken out of stdin before readline sees its
 * keys. Otherwise (stdin not a terminal):
 * plain lines in, plain lines out, so scripts and tests can drive the client.
 */

import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import process from "node:process";
import readline from "node:readline";
import {
  DISABLE_BRACKETED_PASTE,
  ENABLE_BRACKETED_PASTE,
  PASTE_TOO_LONG,
  type PasteEvent,
  PasteParser,
  placePaste,
} from "./bracketed_paste.ts";
import {
  choiceRows,
  commitBlock,
  committedLine,
  drawBlock,
  eraseBlock,
  hangingRows,
  type InputBlock,
  printedText,
  updateBlock,
} from "./input_block.ts";
import { restoreTerminalModesNow, saveTerminalModes } from "./tty_modes.ts";
import {
  decideBurst,
  linesSent,
  oneKeyAnswer,
  PASTE_WINDOW_MS,
  pasteConfirmed,
  pasteDropped,
  pasteQuestion,
} from "./paste.ts";
import {
  eraseInSearch,
  type ReverseSearch,
  searchLine,
  searchOlder,
  searchPrompt,
  startSearch,
  typeInSearch,
} from "./reverse_search.ts";

export type Completer = (line: string) => [string[], string];

export interface Terminal {
  /** True when a person is typing (stdin is a terminal). */
  readonly interactive: boolean;
  /** True when output may carry ANSI colour. */
  readonly color: boolean;
  /** Prints a line without garbling what the user is typing. */
  print(line: string): void;
  /**
   * Prints an error: on stderr for a script (stdin not a terminal), as
   * `print` for a person, whose terminal shows both anyway.
   */
  printError(line: string): void;
  /** Shows `prompt` and resolves with the next line, or null at end of input. */
  question(prompt: string): Promise<string | null>;
  /**
   * Drops what was typed and not read yet: lines waiting (a paste held
   * too) and the line being edited. Returns how many went. Before a
   * security question, whose answer must not be typed blind.
   */
  discardTypedAhead(): number;
  /** The prompt shown while reading chat input. */
  setPrompt(prompt: string): void;
  /**
   * A status (transfer progress) shown on its own row above the prompt, or
   * null for none. It is part of the input block, redrawn with it, never over
   * incoming text, and never left in the scrollback.
   */
  setStatus(status: string | null): void;
  /**
   * A question waiting for an answer (a file offer, consent.ts waitingRow)
   * on its own row just above the prompt, or null for none: it stays in
   * sight while lines printed meanwhile scroll the question away.
   */
  setWaiting(row: string | null): void;
  /** The terminal's width now, in columns (80 when not known). */
  readonly columns: number;
  /** Resolves with the next input line, or null at end of input. */
  nextLine(): Promise<string | null>;
  setCompleter(completer: Completer): void;
  /** Calls `listener` at each key pressed (a person's terminal only); returns a remover. */
  onKeypress(listener: () => void): () => void;
  /**
   * Calls `listener` when the window is resized (a person's terminal only),
   * before it is drawn again: what was fitted to the old width can be
   * fitted anew. Returns a remover.
   */
  onResize(listener: () => void): () => void;
  /** Lines typed before (oldest first), for Up and Ctrl-R. */
  setHistory(lines: readonly string[]): void;
  /**
   * Calls `listener` with each line typed on a terminal, not pasted (a
   * burst of several lines is a paste): the lines worth keeping.
   */
  onTypedLine(listener: (line: string) => void): void;
  /**
   * Asked before a key leaves (Ctrl-D on an empty line, a second Ctrl-C):
   * true holds the session for a question; null, keys leave at once.
   */
  onLeaveKey(guard: (() => boolean) | null): void;
  close(): void;
}

/** The input block as drawn (null: none), at a width and screen height. */
interface Drawn {
  block: InputBlock | null;
  columns: number;
  height: number;
}

type Key = { name?: string; ctrl?: boolean; meta?: boolean; sequence?: string };
type KeyListener = (text: string | undefined, key: Key | undefined) => void;

/**
 * A key that only puts its text into the line: printable characters,
 * without Ctrl or Alt (Enter, Tab, Backspace and escape sequences are not).
 */
function isText(
  text: string | undefined,
  key: Key | undefined,
): text is string {
  if (text === undefined || text === "" || key?.ctrl || key?.meta) return false;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return false;
  }
  return true;
}

/** What readline's own line state looks like from here (it is not in its types). */
interface EditableLine {
  line: string;
  cursor: number;
  history: string[];
}

/**
 * Where the output goes, in order, never waited for (stdout_queue.ts): a
 * script's lines, and on a terminal all of what is drawn. A terminal that
 * stops taking output (an ssh connection whose window is full, a suspended
 * tmux) leaves it queued, and the client goes on: it still answers the
 * server's keepalive pings, and shows all of it, in order, once the
 * terminal takes output again.
 */
export interface OutputSink {
  /** Queues `line` and a newline; never waits. */
  write(line: string): void;
  /** Queues `text` as it is (the terminal's drawing); never waits. */
  writeText(text: string): void;
  /** Queues a redraw of the input block, which the next may replace. */
  writeRedraw(text: string): void;
  /**
   * Replaces the redraw queued last, if nothing came after it and it still
   * waits; false otherwise (stdout_queue.ts).
   */
  replaceRedraw(text: string): boolean;
  /** Nothing is queued or being written: a write now goes out first. */
  readonly idle: boolean;
  /** Resolves once all that is queued is written (or writing failed). */
  flushed(): Promise<void>;
  /**
   * Resolves once all queued so far is written, later writes aside (never,
   * if stdout cannot be written any more).
   */
  written(): Promise<void>;
}

/** Straight to stdout: a write waits while stdout takes nothing. */
const synchronousOutput: OutputSink = {
  write: (line) => process.stdout.write(`${line}\n`),
  writeText: (text) => process.stdout.write(text),
  writeRedraw: (text) => process.stdout.write(text),
  replaceRedraw: () => false,
  idle: true,
  flushed: () => Promise.resolve(),
  written: () => Promise.resolve(),
};

/**
 * `lines`: read plain lines even from a terminal (`--json`). `out`: where
 * the output goes: by default straight to stdout, where a write waits, the
 * whole client with it, while the pipe (or the terminal) takes nothing.
 * `outputGone`: called once stdout cannot be written any more (the program
 * reading it, `| tee log` say, went away); the input ends then.
 */
export function openTerminal(
  lines = false,
  out: OutputSink = synchronousOutput,
  outputGone: () => void = () => {},
): Terminal {
  const interactive = !lines && Deno.stdin.isTerminal();
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  const terminal = new ReadlineTerminal(interactive, color, out);
  // A write to a pipe nobody reads any more fails (EPIPE) as an 'error'
  // event, which unheard would end the client with a stack trace. Without
  // stdout there is no one to chat for: the input ends, and the session
  // with it, as at the end of input. Without stderr, errors go unsaid (the
  // exit status still tells a script).
  let gone = false;
  process.stdout.on("error", () => {
    if (gone) return;
    gone = true;
    outputGone();
    terminal.endInput();
  });
  process.stderr.on("error", () => {});
  return terminal;
}

/** DECAWM: the terminal wraps at the right edge (its default), or not. */
const AUTOWRAP = "\x1b[?7h";
const NO_AUTOWRAP = "\x1b[?7l";

/** The terminal's width now (it changes when the window is resized). */
function columnsNow(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/** The terminal's height now: an input block taller is cut to fit (input_block.ts). */
function rowsNow(): number {
  try {
    return Deno.consoleSize().rows || Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * Where readline writes on a terminal. Its writes are not shown: each one
 * only says the line may have changed, and the block is drawn again.
 */
class ReadlineSink extends EventEmitter {
  readonly isTTY = true;
  constructor(readonly changed: () => void) {
    super();
  }
  get columns(): number {
    return columnsNow();
  }
  write(_data: unknown, callback?: unknown): boolean {
    this.changed();
    if (typeof callback === "function") queueMicrotask(() => callback());
    return true;
  }
}

/**
 * Whether this process turned bracketed paste on and has not turned it off:
 * a terminal left in the mode wraps every paste into the user's shell in
 * `ESC[200~` ... `ESC[201~` after we are gone.
 */
let bracketedPaste = false;

/**
 * Turns bracketed paste off, at once (not queued behind other output: the
 * process may be about to end). Safe to call on any way out, more than once.
 */
function leaveBracketedPaste(): void {
  if (!bracketedPaste) return;
  bracketedPaste = false;
  writeNow(DISABLE_BRACKETED_PASTE);
}

/**
 * close() queued bracketed paste's end behind the output still waiting for
 * the terminal, which may never be written (leaveBracketedPasteLater).
 */
let pasteOffQueued = false;

/**
 * The way out when the output queued was given up (the terminal took none
 * of it for the last flush's deadline): bracketed paste's end, queued
 * behind it, was never written, and the terminal kept the mode after we
 * were gone: every paste into the shell's next program came wrapped in
 * `ESC[200~` ... `ESC[201~`. Raw mode can be put back without writing
 * (tty_modes.ts), the mode cannot: it is the terminal's own, ended only by
 * bytes that reach it after ours. Those a write of ours puts in the
 * kernel's buffer now would wait behind our write still under way (it holds
 * the terminal's write lock), and the process with them, for ever on a
 * stalled ssh connection; discarding what waits (tcflush) would lose lines
 * already acknowledged. So a process of its own writes it, and ends once
 * the terminal took it (or hung up): after what we did write, before or
 * after the shell's prompt (a shell that uses the mode turns it on at each
 * prompt). Off Windows only; nothing is done if it cannot be started.
 */
export function leaveBracketedPasteLater(): void {
  if (!pasteOffQueued && !bracketedPaste) return;
  pasteOffQueued = false;
  bracketedPaste = false;
  if (Deno.build.os === "windows") return;
  try {
    new Deno.Command("sh", {
      args: ["-c", `printf '\\033[?2004l'`],
      stdin: "null",
      stdout: "inherit",
      stderr: "null",
    }).spawn().unref();
  } catch {
    // No sh, or no --allow-run: the mode stays as it was.
  }
}

/**
 * Writes `text` to stdout at once, waiting while the terminal takes
 * nothing: only on the way out, when no output is queued.
 */
function writeNow(text: string): void {
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(text));
  } catch {
    // The terminal is gone (SIGHUP): nobody is left to restore.
  }
}

/**
 * What readline reads on a terminal: the keys of stdin, pastes taken out
 * (bracketed_paste.ts). Raw mode, pausing and resuming act on stdin itself.
 */
class KeyInput extends EventEmitter {
  readonly isTTY = true;
  /**
   * `untilWritten`: null while no output waits for the terminal, else
   * resolves once it is written.
   */
  constructor(readonly untilWritten: () => Promise<void> | null) {
    super();
  }
  get isRaw(): boolean {
    return process.stdin.isRaw;
  }
  /**
   * Raw mode's end (readline's close: /quit, Ctrl-D) waits for the output
   * queued for the terminal to be written: it is a tcsetattr with TCSADRAIN
   * (TCSETSW), which waits in the kernel until the terminal has taken all
   * that is being written to it, holding the whole client. To a terminal
   * that takes nothing (a stalled ssh connection) it waited for ever, and
   * the process never ended. If the output is never written, the process
   * ends (the last flush gives up, main.ts) leaving raw mode on, as it does
   * at a signal then.
   */
  setRawMode(mode: boolean): this {
    const written = mode ? null : this.untilWritten();
    if (written === null) {
      process.stdin.setRawMode(mode);
      return this;
    }
    void written.then(() => {
      try {
        process.stdin.setRawMode(false);
      } catch {
        // No terminal any more.
      }
    });
    return this;
  }
  pause(): this {
    process.stdin.pause();
    return this;
  }
  resume(): this {
    process.stdin.resume();
    return this;
  }
  isPaused(): boolean {
    return process.stdin.isPaused();
  }
  /** Keys for readline, at once: in order with the pastes around them. */
  keys(text: string): void {
    this.emit("data", Buffer.from(text));
  }
}

class ReadlineTerminal implements Terminal {
  readonly interactive: boolean;
  readonly color: boolean;
  /** Where the output goes: a script's lines, or all that is drawn. */
  readonly #out: OutputSink;
  #rl: readline.Interface;
  #lines: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #ended = false;
  #prompting = false;
  #completer: Completer = (line) => [[], line];
  #prompt = "";
  /** Shown instead of the prompt while a paste waits for its answer. */
  #questionPrompt: string | null = null;
  #status: string | null = null;
  /** The question waiting for an answer, shown above the prompt. */
  #waitingRow: string | null = null;
  /** The block as last drawn, or null when none is on screen. */
  #drawn: InputBlock | null = null;
  /** The width it was drawn at. */
  #drawnColumns = 0;
  /** The screen's height then. */
  #drawnHeight = Infinity;
  /**
   * What was drawn before the redraw queued last (writeRedraw), while that
   * is the last thing drawn: a later redraw may take its place.
   */
  #beforeRedraw: Drawn | null = null;
  #renderQueued = false;
  #closed = false;
  /** Ctrl-Z: the process stops once the output queued before it is written. */
  #suspending = false;
  /** Keys pressed so far; a second Tab in a row lists the completions. */
  #keys = 0;
  /** The key count at the last completion. */
  #lastTab = -1;
  #keyListeners = new Set<() => void>();
  /** The key count at the last Ctrl-C on an empty line. */
  #lastInterrupt = -2;
  /** Lines of the burst being received (paste.ts), on a terminal. */
  #burst: string[] = [];
  #burstTimer: ReturnType<typeof setTimeout> | undefined;
  #typedListener: (line: string) => void = () => {};
  /** A paste waiting for its `Send N lines? [y/N]` answer. */
  #heldPaste: string[] | null = null;
  /**
   * The unfinished line a paste left in the editor (its text had no newline
   * at the end) while its question is asked: out of the way of the answer,
   * and put back after it, so that it is neither the answer's start nor lost.
   */
  #unfinishedPasteLine = "";
  /** The Ctrl-R search going on, and the line typed before it began. */
  #search: { state: ReverseSearch; typed: string } | null = null;
  /** readline's own keypress listeners, called through #dispatchKey. */
  #readlineKeys: KeyListener[] = [];
  #onKey = (_text: unknown, key: { name?: string; ctrl?: boolean }) => {
    this.#keys++;
    // A key on an empty line (the pasted text cleared: Ctrl-C, Ctrl-U,
    // erased) begins a line with nothing pasted in it.
    if ((this.#rl.line ?? "") === "") this.#pastedInLine = false;
    for (const listener of this.#keyListeners) listener();
    if (key?.ctrl && key.name === "l") this.#clearScreen();
  };
  /**
   * Text keys not yet given to readline. A paste arrives as thousands of
   * keys in one read, and readline measures the whole line at each key it
   * inserts (getCursorPos; anywhere but at the end it lays the whole line
   * out again): quadratic, 8 s for a line of 4,000 characters, with the
   * client stuck meanwhile. Held until the keys of the read are all in (a
   * microtask later) or a key that is not text comes, they are inserted as
   * one string, measured once.
   */
  #heldText = "";
  #dispatchKey: KeyListener = (text, key) => {
    if (this.#search === null && isText(text, key)) {
      if (this.#heldText === "") queueMicrotask(() => this.#insertHeldText());
      this.#heldText += text;
      return;
    }
    this.#insertHeldText();
    if (this.#searchKey(text, key)) return;
    if (
      key?.ctrl && key.name === "d" && this.#heldPaste !== null &&
      (this.#rl.line ?? "") === ""
    ) {
      // Ctrl-D on the empty answer is no, as Ctrl-C is: readline would
      // close the input, and the session with it.
      this.#answerPaste("n");
      return;
    }
    if (
      key?.ctrl && key.name === "d" && (this.#rl.line ?? "") === "" &&
      this.#leaveKey?.() === true
    ) {
      // Held for a question (files under way): readline would close the
      // input, and a second Ctrl-D could not answer it.
      return;
    }
    for (const listener of this.#readlineKeys) listener(text, key);
  };
  /** Asked before Ctrl-D or a second Ctrl-C leaves (onLeaveKey). */
  #leaveKey: (() => boolean) | null = null;
  #onResize = () => {
    for (const listener of this.#resizeListeners) listener();
    this.#queueRender();
  };
  #resizeListeners = new Set<() => void>();
  /** On a terminal: what readline reads (stdin's keys, without the pastes). */
  #input: KeyInput | null = null;
  #decoder = new TextDecoder();
  #pastes = new PasteParser();
  #pasteTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The terminal has sent a bracketed paste. Lines that come in a burst are
   * still held and asked about: the same terminal may paste without brackets
   * too (tmux's paste-buffer without -p, a paste tool typing keys), and no
   * one types four lines within milliseconds.
   */
  #bracketsSeen = false;
  /** The burst being received has a line holding pasted text. */
  #burstPasted = false;
  /** The line being edited holds pasted text: not one to keep in the history. */
  #pastedInLine = false;
  #onStdin = (data: Uint8Array | string) => {
    const text = typeof data === "string"
      ? data
      : this.#decoder.decode(data, { stream: true });
    this.#takeInput(this.#pastes.feed(text));
  };
  #onStdinEnd = () => this.#input?.emit("end");
  /**
   * SIGTERM, SIGHUP and SIGINT (sent by kill: in raw mode Ctrl-C is a key,
   * not this signal): the terminal is put back as it was (no bracketed
   * paste, no raw mode), and the signal ends the process as it would have.
   */
  #onSignal = (signal: "SIGTERM" | "SIGHUP" | "SIGINT") => () => {
    this.#removeExitListeners();
    // The prompt goes, as at /quit: the shell's next line ("Terminated",
    // its prompt) would otherwise follow it on its row. (After SIGHUP there
    // is no terminal left to draw on.) Only while no output waits for the
    // terminal: one that takes none (a stalled ssh connection) holds our
    // write to it, and then a synchronous write, and raw mode's end too
    // (tcsetattr waits for the writes under way: the kernel's
    // tty_write_lock), would wait as long, forever maybe, and the signal
    // would not end the process. The shell restores the terminal's modes
    // after a job a signal ended (bash, zsh); a paste into an older one
    // may come wrapped in ESC[200~ ... ESC[201~.
    if (this.#out.idle) {
      if (signal !== "SIGHUP" && this.interactive && !this.#closed) {
        writeNow(this.#erase());
      }
      leaveBracketedPaste();
      try {
        process.stdin.setRawMode(false);
      } catch {
        // No terminal any more.
      }
    } else if (signal !== "SIGHUP") {
      // Raw mode ends all the same, without waiting for the output: the
      // shell after us would otherwise get a raw terminal (tty_modes.ts);
      // bracketed paste ends behind the output (leaveBracketedPasteLater).
      restoreTerminalModesNow();
      leaveBracketedPasteLater();
    }
    Deno.kill(Deno.pid, signal);
  };
  /**
   * Ctrl-Z: the terminal is put back as the shell expects it (no block, no
   * raw mode, no bracketed paste) and the process stops; `fg` (SIGCONT)
   * takes the keys again and draws the block anew below the shell's lines.
   */
  #suspend(): void {
    if (
      this.#closed || Deno.build.os === "windows" || this.#suspending
    ) return;
    const paste = bracketedPaste;
    // In order, behind what is still queued for the terminal: the erase is
    // computed for the block queued last. Written synchronously, it went
    // out before older output, and erased in the middle of it; on a
    // terminal that took nothing (a stalled ssh connection) the write also
    // waited, the whole client with it, its answers to the server's pings
    // too, and the server dropped it. No block is drawn until the process
    // has stopped and is back.
    this.#suspending = true;
    this.#out.writeText(
      this.#erase() + (paste ? DISABLE_BRACKETED_PASTE : ""),
    );
    void this.#out.written().then(() => this.#stop(paste));
  }

  /** The output before Ctrl-Z written, the process stops (#suspend). */
  #stop(paste: boolean): void {
    this.#suspending = false;
    if (this.#closed) return;
    try {
      process.stdin.setRawMode(false);
    } catch {
      // No terminal any more: nothing to give back.
      this.#queueRender();
      return;
    }
    let back = false;
    const resumed = () => {
      if (back) return;
      back = true;
      Deno.removeSignalListener("SIGCONT", resumed);
      if (this.#closed) return;
      try {
        process.stdin.setRawMode(true);
      } catch {
        return;
      }
      // Queued too: after the lines that came while it was stopped.
      if (paste) this.#out.writeText(ENABLE_BRACKETED_PASTE);
      // The block went with the suspension: drawn afresh where the cursor is.
      this.#drawn = null;
      this.#beforeRedraw = null;
      this.#queueRender();
    };
    Deno.addSignalListener("SIGCONT", resumed);
    Deno.kill(Deno.pid, "SIGTSTP");
    // A stop signal sent to itself stops the process before kill returns:
    // here it runs again, continued (`fg`), or never stopped, the signal
    // discarded where no shell could take it back (chat connect run as
    // tmux's pane command, or ssh's: an orphaned process group), and no
    // SIGCONT will come. The terminal is taken back either way.
    resumed();
  }

  #onTerm = this.#onSignal("SIGTERM");
  #onHangup = this.#onSignal("SIGHUP");
  #onInterrupt = this.#onSignal("SIGINT");

  #insertHeldText(): void {
    const text = this.#heldText;
    if (text === "") return;
    this.#heldText = "";
    if (this.#closed) return;
    // readline inserts a key's text whole (its default case, as for any
    // printable key); the key has no name, as none of its characters alone.
    for (const listener of this.#readlineKeys) {
      listener(text, { sequence: text });
    }
  }

  constructor(interactive: boolean, color: boolean, out: OutputSink) {
    this.interactive = interactive;
    this.color = color;
    this.#out = out;
    if (interactive) {
      // Before readline turns raw mode on: the modes a signal's way out
      // puts back when the usual way would wait (#onSignal).
      saveTerminalModes();
      this.#input = new KeyInput(() =>
        this.#out.idle ? null : this.#out.flushed()
      );
      process.stdin.on("data", this.#onStdin);
      process.stdin.on("end", this.#onStdinEnd);
    }
    this.#rl = readline.createInterface({
      input: this.#input === null
        ? process.stdin
        : this.#input as unknown as NodeJS.ReadableStream,
      output: interactive
        ? new ReadlineSink(() =>
          this.#queueRender()
        ) as unknown as NodeJS.WritableStream
        : undefined,
      terminal: interactive,
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: (line: string) => this.#complete(line),
    });
    // Lines are queued from the start: a script's whole input may arrive while
    // the client is still connecting.
    this.#rl.on("line", (line) => {
      if (!this.interactive) {
        this.#push(line);
        return;
      }
      const pasted = this.#pastedInLine;
      this.#pastedInLine = false;
      if (this.#heldPaste !== null) {
        this.#commit(line);
        this.#answerPaste(line);
        return;
      }
      // Not committed yet: a line that turns out to begin a paste is not
      // sent before its question is answered, and must not look sent.
      this.#receive(line, pasted);
    });
    this.#rl.on("close", () => this.#end());
    this.#rl.on("SIGINT", () => this.#interrupt());
    // Without a listener, readline suspends by itself but never takes the
    // keys again after `fg`: the client sat blank and deaf.
    this.#rl.on("SIGTSTP", () => this.#suspend());
    if (interactive) {
      // readline has no Ctrl-R: its key listeners are called through ours,
      // which keeps the keys of a search from it (reverse_search.ts).
      const input = this.#input!;
      this.#readlineKeys = input.listeners("keypress") as KeyListener[];
      for (const listener of this.#readlineKeys) {
        input.removeListener("keypress", listener);
      }
      input.on("keypress", this.#dispatchKey);
      // Before readline's own listener: the count is the key being handled.
      input.prependListener("keypress", this.#onKey);
      // The width is read again at every drawing; the signal only makes a
      // resize redraw at once rather than at the next key. (Output computed
      // for the old width that reaches the terminal after it rewrapped, but
      // before the new width could be read, still erases from the wrong row:
      // a race of milliseconds every terminal program has.)
      if (Deno.build.os !== "windows") {
        Deno.addSignalListener("SIGWINCH", this.#onResize);
      }
      if (Deno.stdout.isTerminal()) this.#enterBracketedPaste();
    }
  }

  /**
   * Pastes come bracketed from now on. The mode is turned off on every way
   * out: close(), the process exiting (unload: Deno.exit after an error
   * main.ts caught), an uncaught error, SIGTERM, SIGHUP and SIGINT.
   */
  #enterBracketedPaste(): void {
    // Queued, as the rest of the terminal's output: written synchronously
    // it went ahead of what was queued, and held the whole client while the
    // terminal took nothing (a stalled ssh connection). Counted as on from
    // now: a way out turns it off even if it never reached the terminal.
    this.#out.writeText(ENABLE_BRACKETED_PASTE);
    bracketedPaste = true;
    globalThis.addEventListener("unload", leaveBracketedPaste);
    globalThis.addEventListener("error", leaveBracketedPaste);
    globalThis.addEventListener("unhandledrejection", leaveBracketedPaste);
    if (Deno.build.os !== "windows") {
      Deno.addSignalListener("SIGTERM", this.#onTerm);
      Deno.addSignalListener("SIGHUP", this.#onHangup);
      Deno.addSignalListener("SIGINT", this.#onInterrupt);
    }
  }

  #removeExitListeners(): void {
    globalThis.removeEventListener("unload", leaveBracketedPaste);
    globalThis.removeEventListener("error", leaveBracketedPaste);
    globalThis.removeEventListener("unhandledrejection", leaveBracketedPaste);
    if (Deno.build.os !== "windows" && bracketedPaste) {
      Deno.removeSignalListener("SIGTERM", this.#onTerm);
      Deno.removeSignalListener("SIGHUP", this.#onHangup);
      Deno.removeSignalListener("SIGINT", this.#onInterrupt);
    }
  }

  /** What stdin brought: keys for readline, pastes for the editor. */
  #takeInput(events: readonly PasteEvent[]): void {
    for (const event of events) {
      switch (event.kind) {
        case "keys":
          if (this.#enterAfterAnswer) {
            this.#enterAfterAnswer = false;
            if (/^[\r\n]$/.test(event.text)) break;
          }
          if (this.#answersAtOnce(event.text)) break;
          this.#input?.keys(event.text);
          break;
        case "paste":
          this.#paste(event.text);
          break;
        case "too-long":
          this.print(PASTE_TOO_LONG);
          break;
        default: {
          const unreachable: never = event;
          return unreachable;
        }
      }
    }
    // A marker cut between reads, or a paste not ended yet, waits for more
    // input, but not forever.
    clearTimeout(this.#pasteTimer);
    const wait = this.#pastes.waitMs;
    if (wait !== null && !this.#closed) {
      this.#pasteTimer = setTimeout(
        () => this.#takeInput(this.#pastes.timedOut()),
        wait,
      );
    }
  }

  /**
   * A lone `y` just brought the paste's unfinished line back: an Enter as
   * the very next key is the one the question used to need, typed out of
   * habit, not a wish to send that line unseen. Any other key ends this.
   */
  #enterAfterAnswer = false;

  /**
   * While a paste's question waits, one key answers it (oneKeyAnswer), no
   * Enter after it; more text in one read (a paste without brackets) is
   * not the answer, nor typed into it. True when `keys` were taken here.
   * Any other control key (Ctrl-C and Ctrl-D say no) goes on to readline
   * as ever.
   */
  #answersAtOnce(keys: string): boolean {
    if (this.#heldPaste === null || (this.#rl.line ?? "") !== "") return false;
    // Keys typed before these are in the line first.
    this.#insertHeldText();
    if (this.#heldPaste === null || (this.#rl.line ?? "") !== "") return false;
    const answer = oneKeyAnswer(keys);
    if (answer !== null) {
      this.#enterAfterAnswer = answer === "yes" && keys.length === 1 &&
        this.#unfinishedPasteLine !== "";
      this.#answerPaste(answer === "yes" ? "y" : "n");
      return true;
    }
    // An escape sequence (an arrow: history) or Tab (completion) would put
    // text in the answer's line, and so in the line after it: ignored.
    if (keys.startsWith("\x1b") || keys === "\t") return true;
    if ([...keys].filter((c) => c >= " " && c !== "\x7f").length > 1) {
      this.print("Not pasted: answer the question about the paste first");
      return true;
    }
    return false;
  }

  /**
   * A bracketed paste: one line goes into the editor as one string (Enter
   * sends it); more are sent only once `Send N lines? [y/N]` is answered
   * yes, and the unfinished last line then stays in the editor.
   */
  #paste(text: string): void {
    this.#bracketsSeen = true;
    // Keys typed before the paste are in the line first.
    this.#insertHeldText();
    if (this.#closed) return;
    if (this.#search !== null) {
      const search = this.#search;
      const history = [...this.#editable.history].reverse();
      this.#endSearch(searchLine(history, search.state, search.typed));
    }
    const line = this.#rl.line ?? "";
    const placed = placePaste(line, this.#rl.cursor ?? line.length, text);
    switch (placed.kind) {
      case "edit":
        this.#pastedInLine = true;
        this.#editable.line = placed.line;
        this.#editable.cursor = placed.cursor;
        this.#queueRender();
        return;
      case "ask":
        if (this.#heldPaste !== null) {
          // The line being edited is the answer to the question asked.
          this.print("Not pasted: answer the question about the paste first");
          return;
        }
        if (linesSent(placed.lines) === 0) {
          // Only blank lines before the last: nothing to send or ask about.
          this.#pastedInLine = true;
          this.#setLine(placed.rest);
          return;
        }
        this.#heldPaste = placed.lines;
        this.#questionPrompt = pasteQuestion(linesSent(placed.lines));
        this.#unfinishedPasteLine = placed.rest;
        this.#setLine("");
        return;
      default: {
        const unreachable: never = placed;
        return unreachable;
      }
    }
  }

  print(line: string): void {
    if (!this.interactive) {
      this.#out.write(line);
      return;
    }
    // Laid out here, and printed with the terminal's own wrapping off: a
    // character this client thinks narrower than the terminal draws it
    // cannot push a row's end to the left edge (hangingRows).
    const text = `${NO_AUTOWRAP}${
      printedText(hangingRows(line, columnsNow()))
    }${AUTOWRAP}`;
    if (this.#closed) {
      this.#out.writeText(text);
      return;
    }
    if (!this.#out.idle) {
      // Output waits for the terminal: the line goes without the block
      // after it, which is drawn once all is written (#drawWhenWritten).
      // Each block queued between lines was laid out for the width when
      // queued, and the erase after it too: the terminal resized before
      // they were written (a stalled ssh connection, a burst of lines), the
      // erase went up too few rows and left a copy of the prompt among the
      // lines, one a line.
      this.#out.writeText(this.#erase() + text);
      this.#drawWhenWritten();
      return;
    }
    this.#out.writeText(this.#erase() + text + this.#draw());
  }

  /** The block is not drawn until the output queued is written. */
  #hiddenUntilWritten = false;

  #drawWhenWritten(): void {
    if (this.#hiddenUntilWritten) return;
    this.#hiddenUntilWritten = true;
    void this.#out.flushed().then(() => {
      this.#hiddenUntilWritten = false;
      this.#queueRender();
    });
  }

  printError(line: string): void {
    if (this.interactive) this.print(line);
    else process.stderr.write(`${line}\n`);
  }

  onKeypress(listener: () => void): () => void {
    this.#keyListeners.add(listener);
    return () => this.#keyListeners.delete(listener);
  }

  onResize(listener: () => void): () => void {
    this.#resizeListeners.add(listener);
    return () => this.#resizeListeners.delete(listener);
  }

  question(prompt: string): Promise<string | null> {
    if (this.interactive) {
      this.#prompt = prompt;
      this.#queueRender();
    } else {
      this.#out.write(prompt);
    }
    return this.nextLine();
  }

  discardTypedAhead(): number {
    let dropped = this.#lines.length + this.#burst.length;
    this.#lines = [];
    clearTimeout(this.#burstTimer);
    this.#burst = [];
    this.#burstPasted = false;
    if (this.#heldPaste !== null) {
      dropped += this.#heldPaste.length;
      this.#heldPaste = null;
      this.#questionPrompt = null;
      this.#unfinishedPasteLine = "";
    }
    if (this.interactive && !this.#closed && (this.#rl.line ?? "") !== "") {
      dropped++;
      this.#setLine("");
    }
    return dropped;
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#queueRender();
  }

  setStatus(status: string | null): void {
    if (!this.interactive || status === this.#status) return;
    this.#status = status;
    this.#queueRender();
  }

  setWaiting(row: string | null): void {
    if (!this.interactive || row === this.#waitingRow) return;
    this.#waitingRow = row;
    this.#queueRender();
  }

  get columns(): number {
    return columnsNow();
  }

  nextLine(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(null);
    if (this.interactive) {
      this.#prompting = true;
      // Resumes input that readline paused; its drawing goes to the sink.
      this.#rl.prompt(true);
    }
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  setCompleter(completer: Completer): void {
    this.#completer = completer;
  }

  /**
   * `guard` is asked when a key would leave (Ctrl-D on an empty line, a
   * second Ctrl-C): true holds the session (it asked a question, answered
   * by the same key again or /quit), false lets the input end. Null: keys
   * leave at once.
   */
  onLeaveKey(guard: (() => boolean) | null): void {
    this.#leaveKey = guard;
  }

  onTypedLine(listener: (line: string) => void): void {
    this.#typedListener = listener;
  }

  setHistory(lines: readonly string[]): void {
    // readline keeps the newest first.
    this.#editable.history = [...lines].reverse();
  }

  get #editable(): EditableLine {
    return this.#rl as unknown as EditableLine;
  }

  /**
   * Ctrl-C: clears a line being typed; on an empty line, says how to leave,
   * and a second Ctrl-C in a row leaves (as /quit and Ctrl-D do).
   */
  #interrupt(): void {
    if (this.#search !== null) {
      this.#endSearch(this.#search.typed);
      return;
    }
    if (this.#heldPaste !== null) {
      this.#answerPaste("n");
      return;
    }
    if ((this.#rl.line ?? "") !== "") {
      this.#setLine("");
      return;
    }
    // Only a Ctrl-C on an empty line right after one leaves: a line being
    // cleared with Ctrl-C, Ctrl-C pressed twice, never ends the session.
    const again = this.#lastInterrupt === this.#keys - 1;
    this.#lastInterrupt = this.#keys;
    if (again) {
      if (this.#leaveKey?.() === true) return;
      this.#rl.close();
      return;
    }
    this.print("(Ctrl-C again, /quit or Ctrl-D to leave)");
  }

  #setLine(line: string): void {
    this.#editable.line = line;
    this.#editable.cursor = line.length;
    this.#queueRender();
  }

  /**
   * A key while Ctrl-R searches (or Ctrl-R itself); returns false for keys
   * readline should have.
   */
  #searchKey(text: string | undefined, key: Key | undefined): boolean {
    const history = [...this.#editable.history].reverse();
    const search = this.#search;
    if (search === null) {
      if (!(key?.ctrl && key.name === "r") || !this.#prompting) return false;
      this.#search = { state: startSearch(), typed: this.#rl.line ?? "" };
      this.#showSearch(history);
      return true;
    }
    if (key?.ctrl && key.name === "r") {
      search.state = searchOlder(history, search.state);
    } else if (key?.name === "backspace") {
      search.state = eraseInSearch(history, search.state);
    } else if (key?.name === "escape" || (key?.ctrl && key.name === "g")) {
      this.#endSearch(search.typed);
      return true;
    } else if (key?.ctrl && key.name === "c") {
      // readline turns it into SIGINT: #interrupt ends the search.
      return false;
    } else if (
      text !== undefined && !key?.ctrl && !key?.meta &&
      key?.name !== "return" &&
      key?.name !== "enter" && key?.name !== "tab" &&
      !text.startsWith("\x1b") &&
      [...text].every((c) => c >= " ")
    ) {
      search.state = typeInSearch(history, search.state, text);
    } else {
      // Any other key takes the line found and is then handled as usual:
      // Enter sends it, an arrow starts editing it.
      this.#endSearch(searchLine(history, search.state, search.typed));
      return false;
    }
    this.#showSearch(history);
    return true;
  }

  #showSearch(history: readonly string[]): void {
    const search = this.#search!;
    this.#editable.line = searchLine(history, search.state, search.typed);
    this.#editable.cursor = this.#editable.line.length;
    this.#queueRender();
  }

  #endSearch(line: string): void {
    this.#search = null;
    this.#setLine(line);
  }

  /**
   * A line typed on a terminal: held while more may come in the same burst.
   * `pasted`: it holds text of a bracketed paste (kept out of the history).
   */
  #receive(line: string, pasted = false): void {
    this.#burst.push(line);
    if (pasted) this.#burstPasted = true;
    clearTimeout(this.#burstTimer);
    this.#burstTimer = setTimeout(() => this.#endBurst(), PASTE_WINDOW_MS);
    this.#queueRender();
  }

  #endBurst(): void {
    const lines = this.#burst;
    const pasted = this.#burstPasted;
    this.#burst = [];
    this.#burstPasted = false;
    if (this.#closed) return;
    if (lines.length === 1 && !pasted) this.#typedListener(lines[0]!);
    const decision = decideBurst(lines);
    switch (decision.kind) {
      case "send":
        this.#commitSent(lines);
        for (const line of lines) this.#push(line);
        return;
      case "ask":
        // The lines were never shown as sent: the question stands in for
        // them, and they are shown once yes sends them.
        this.#heldPaste = lines;
        this.#questionPrompt = decision.question;
        this.#unfinishedPasteLine = this.#rl.line ?? "";
        if (this.#unfinishedPasteLine !== "") this.#setLine("");
        this.#queueRender();
        return;
      default: {
        const unreachable: never = decision;
        return unreachable;
      }
    }
  }

  #answerPaste(answer: string): void {
    const lines = this.#heldPaste ?? [];
    this.#heldPaste = null;
    this.#questionPrompt = null;
    const confirmed = pasteConfirmed(answer);
    if (confirmed) {
      this.#commitSent(lines);
      for (const line of lines) this.#push(line);
    } else {
      this.print(pasteDropped(linesSent(lines)));
      this.#queueRender();
    }
    const unfinished = this.#unfinishedPasteLine;
    this.#unfinishedPasteLine = "";
    // Refused, the paste goes whole: its last line brought back, unseen
    // while the question waited, took the next line typed (`/quit`) as its
    // end and went to everyone as chat.
    if (confirmed && unfinished !== "") {
      this.#setLine(unfinished);
      this.#pastedInLine = this.#bracketsSeen;
    }
  }

  close(): void {
    if (this.#closed) return;
    if (this.interactive) {
      // Leave no dangling prompt behind the last line printed.
      this.#out.writeText(this.#erase());
      this.#input?.removeListener("keypress", this.#onKey);
      this.#input?.removeListener("keypress", this.#dispatchKey);
      process.stdin.removeListener("data", this.#onStdin);
      process.stdin.removeListener("end", this.#onStdinEnd);
      clearTimeout(this.#burstTimer);
      clearTimeout(this.#pasteTimer);
      this.#removeExitListeners();
      // After the output still queued (main.ts flushes it before the exit).
      if (bracketedPaste) {
        bracketedPaste = false;
        pasteOffQueued = true;
        this.#out.writeText(DISABLE_BRACKETED_PASTE);
      }
      if (Deno.build.os !== "windows") {
        Deno.removeSignalListener("SIGWINCH", this.#onResize);
      }
    }
    this.#closed = true;
    this.#prompting = false;
    this.#rl.close();
    // readline leaves stdin referenced; unref it so the process can end.
    process.stdin.pause();
  }

  /** The block as it should look now, or null when none is to be shown. */
  #block(): InputBlock | null {
    const line = this.#rl.line ?? "";
    const status = [this.#status, this.#waitingRow].filter((row) =>
      row !== null
    );
    const pending = this.#burst[0];
    if (
      !this.#closed && !this.#suspending && pending !== undefined &&
      line === ""
    ) {
      // A line entered, held while more may come in its burst (a paste):
      // it stays in the editor, not sent yet, and is committed once it is.
      return {
        status,
        prompt: this.#prompt,
        line: pending,
        cursor: pending.length,
      };
    }
    if (
      this.#closed || this.#suspending ||
      (!this.#prompting && line === "" && this.#questionPrompt === null)
    ) return null;
    const search = this.#search;
    return {
      status,
      prompt: search !== null
        ? searchPrompt(search.state)
        : this.#questionPrompt ?? this.#prompt,
      line,
      cursor: this.#rl.cursor ?? line.length,
    };
  }

  /** Erases the drawn block; the cursor is left where it began. */
  #erase(): string {
    const drawn = this.#drawn;
    this.#drawn = null;
    this.#beforeRedraw = null;
    return drawn === null
      ? ""
      : eraseBlock(drawn, columnsNow(), this.#drawnColumns, this.#drawnHeight);
  }

  /** Draws the block from the cursor (where it begins). */
  #draw(): string {
    const block = this.#block();
    this.#drawn = block;
    this.#beforeRedraw = null;
    this.#drawnColumns = columnsNow();
    this.#drawnHeight = rowsNow();
    return block === null
      ? ""
      : drawBlock(block, this.#drawnColumns, this.#drawnHeight);
  }

  #queueRender(): void {
    if (this.#renderQueued || !this.interactive) return;
    this.#renderQueued = true;
    queueMicrotask(() => {
      this.#renderQueued = false;
      // Drawn once the lines before it are written (print).
      if (this.#closed || this.#hiddenUntilWritten) return;
      const next = this.#block();
      const columns = columnsNow();
      const height = rowsNow();
      const drawn = { block: next, columns, height };
      // The redraw queued last still waits (the terminal takes no output):
      // this one, drawn from what the terminal showed before it, takes its
      // place. A stalled terminal keeps one redraw waiting, not one per key
      // or per transfer's progress, each counting toward the queue's bound.
      const before = this.#beforeRedraw;
      if (
        before !== null &&
        this.#out.replaceRedraw(
          updateBlock(
            before.block,
            before.columns,
            next,
            columns,
            height,
            before.height,
          ),
        )
      ) {
        this.#setDrawn(drawn);
        return;
      }
      const out = updateBlock(
        this.#drawn,
        this.#drawnColumns,
        next,
        columns,
        height,
        this.#drawnHeight,
      );
      this.#beforeRedraw = out === "" ? null : {
        block: this.#drawn,
        columns: this.#drawnColumns,
        height: this.#drawnHeight,
      };
      this.#setDrawn(drawn);
      if (out !== "") this.#out.writeRedraw(out);
    });
  }

  #setDrawn(drawn: Drawn): void {
    this.#drawn = drawn.block;
    this.#drawnColumns = drawn.columns;
    this.#drawnHeight = drawn.height;
  }

  /** Enter: the line stays on screen as it was typed, and a new block begins. */
  #commit(line: string): void {
    const columns = columnsNow();
    const prompt = this.#questionPrompt ?? this.#prompt;
    this.#out.writeText(
      commitBlock(
        this.#drawn,
        this.#drawnColumns,
        prompt,
        line,
        columns,
        this.#drawnHeight,
      ),
    );
    this.#drawn = null;
    this.#beforeRedraw = null;
    this.#queueRender();
  }

  /**
   * Lines about to be sent stay on screen as typed, after the prompt:
   * only now, once it is known they are sent (a burst asked about shows
   * only its question until then).
   */
  #commitSent(lines: readonly string[]): void {
    const [first, ...rest] = lines;
    if (first === undefined) return;
    const columns = columnsNow();
    let text = commitBlock(
      this.#drawn,
      this.#drawnColumns,
      this.#prompt,
      first,
      columns,
      this.#drawnHeight,
    );
    for (const line of rest) text += committedLine(this.#prompt, line);
    this.#out.writeText(text);
    this.#drawn = null;
    this.#queueRender();
  }

  #clearScreen(): void {
    // The visible screen only: the scrollback keeps what was said (tmux
    // and others scroll the cleared screen into it), not the block.
    this.#out.writeText(`${this.#erase()}\x1b[H\x1b[J`);
    this.#queueRender();
  }

  #complete(line: string): [string[], string] {
    const result = this.#completer(line);
    const [hits, word] = result;
    // readline lists the choices on a second Tab in a row, into the sink:
    // list them above the block instead. (Keys pasted in one go complete
    // only at the last one: a pasted tab is text.)
    const again = this.#lastTab === this.#keys - 1;
    this.#lastTab = this.#keys;
    if (again && hits.length > 1 && this.interactive) {
      const common = hits.reduce((a, b) => {
        let i = 0;
        while (i < a.length && a[i] === b[i]) i++;
        return a.slice(0, i);
      });
      if (common.length <= word.length) {
        this.print(choiceRows(hits, columnsNow()).join("\n"));
      }
    }
    return result;
  }

  #push(line: string): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      this.#prompting = false;
      waiting(line);
    } else {
      this.#lines.push(line);
    }
  }

  /**
   * Input ends as if stdin had (Ctrl-D): lines already read are still
   * handed out, nothing more is.
   */
  endInput(): void {
    if (!this.#ended) this.#end();
  }

  #end(): void {
    // Lines entered just before the end are not lost in the paste window;
    // a paste that needs an answer gets none.
    clearTimeout(this.#burstTimer);
    const burst = this.#burst;
    this.#burst = [];
    this.#burstPasted = false;
    if (burst.length > 0 && decideBurst(burst).kind === "send") {
      if (this.interactive && !this.#closed) this.#commitSent(burst);
      for (const line of burst) this.#push(line);
    } else if (burst.length > 0 || this.#heldPaste !== null) {
      this.#questionPrompt = null;
      this.print(
        pasteDropped(linesSent(burst.length > 0 ? burst : this.#heldPaste!)),
      );
      this.#heldPaste = null;
    }
    this.#ended = true;
    this.#prompting = false;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(null);
  }
}
