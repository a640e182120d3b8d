/**
 * Opening a saved file with the desktop's default program, or with the
 * command given by `--open-with`: the subprocess edge of file transfer.
 *
 * The path is always one argument of its own, never part of a shell command
 * line, so a received file name cannot inject commands. The opener is not
 * waited for and cannot hold the chat open.
 *
 * @module
 */

import { resolve } from "node:path";

export interface OpenOptions {
  /** Program and leading arguments (from `--open-with`); the path is appended. */
  command?: string[];
  /** Replaces the platform's opener (tests run the Windows mechanism with sh). */
  opener?: Opener;
  /**
   * Called when the opener started but ended with a failure status within
   * {@linkcode OPENER_FAILS_WITHIN_MS}: `xdg-open` without a desktop (a
   * machine reached over ssh) or with no program for the file's kind
   * exits 3 or 4 and opens nothing, which was said nowhere. Later ends are
   * a viewer's own (`--open-with` may run one), not the opening's.
   */
  onFailed?: (program: string, status: number) => void;
}

/** How soon after its start an opener's failure status counts (see onFailed). */
export const OPENER_FAILS_WITHIN_MS = 10_000;

export type OpenResult = { ok: true } | { ok: false; warning: string };

/**
 * How a desktop opens a file with its default program: the command, and
 * whether the path goes as its last argument or in the environment variable
 * {@linkcode OPEN_PATH_VARIABLE}.
 */
export interface Opener {
  command: string[];
  pathIn: "argument" | "environment";
}

/** Where the Windows opener finds the path (see platformOpener). */
export const OPEN_PATH_VARIABLE = "CHAT_OPEN_PATH";

/** The opener for `os`. */
export function platformOpener(
  os: typeof Deno.build.os = Deno.build.os,
): Opener {
  switch (os) {
    case "darwin":
      return { command: ["open"], pathIn: "argument" };
    case "windows":
      // Not `cmd /c start`: it searches PATHEXT, so a name without an
      // extension (or one cmd parses as something else) can run a program,
      // and cmd re-parses its command line (& | ^ %). Not `explorer.exe`:
      // it parses commas and slashes in its argument as switches and reports
      // no failure. PowerShell's Start-Process -LiteralPath hands the exact
      // path to ShellExecute, which opens it by its own extension; the path
      // travels in the environment, so no command line ever contains it.
      return {
        command: [
          "powershell.exe",
          "-NoProfile",
          "-NonInteractive",
          "-Command",
          `Start-Process -LiteralPath $env:${OPEN_PATH_VARIABLE}`,
        ],
        pathIn: "environment",
      };
    default:
      return { command: ["xdg-open"], pathIn: "argument" };
  }
}

/**
 * Starts `opts.command` (default: {@linkcode platformOpener}) with the
 * absolute form of `path` as its last argument (or in the environment, for
 * the Windows opener), detached from the terminal. Failing to start is
 * reported as a one-line warning, never thrown.
 *
 * @example
 * ```ts
 * const result = openFile("/home/me/Downloads/chat-downloads/photo.jpg", {});
 * if (!result.ok) console.error(result.warning);
 * ```
 */
export function openFile(path: string, opts: OpenOptions = {}): OpenResult {
  const opener: Opener = opts.command !== undefined && opts.command.length > 0
    ? { command: opts.command, pathIn: "argument" }
    : opts.opener ?? platformOpener();
  const [program = "", ...leading] = opener.command;
  // Absolute, so the argument can never be mistaken for an option.
  const absolute = resolve(path);
  let args = opener.pathIn === "argument" ? [...leading, absolute] : leading;
  let windowsRawArguments = false;
  if (Deno.build.os === "windows" && isCmd(program)) {
    const quoted = cmdArguments(args);
    if (quoted === undefined) {
      return {
        ok: false,
        warning:
          'Could not open the file: its path contains % or ", which cmd.exe would misread; open it from the downloads folder',
      };
    }
    args = quoted;
    windowsRawArguments = true;
  }
  try {
    const child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      windowsRawArguments,
      ...(opener.pathIn === "environment"
        ? { env: { [OPEN_PATH_VARIABLE]: absolute } }
        : {}),
    }).spawn();
    // A viewer may run for hours; chat must still be able to exit.
    child.unref();
    const started = Date.now();
    const onFailed = opts.onFailed;
    if (onFailed !== undefined) {
      child.status.then((status) => {
        if (
          !status.success && Date.now() - started < OPENER_FAILS_WITHIN_MS
        ) onFailed(program, status.code);
      }, () => {});
    }
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      warning: `Could not open the file: ${why(error, program)}`,
    };
  }
}

/**
 * Splits an `--open-with` command into words on whitespace. Single or double
 * quotes group words (`'my viewer' --new`); there are no escapes, so Windows
 * paths keep their backslashes.
 *
 * @throws {SyntaxError} if a quote is not closed
 */
export function parseOpenWith(cmd: string): string[] {
  const words: string[] = [];
  let word = "";
  // Separate from `word !== ""` so that '' yields an empty argument.
  let inWord = false;
  let quote: string | undefined;
  for (const char of cmd) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote !== undefined) {
    throw new SyntaxError(
      `Unclosed ${quote} quote in the --open-with command: add the closing quote`,
    );
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * Arguments for cmd.exe, quoted by hand, or `undefined` if one cannot be
 * passed safely.
 *
 * cmd.exe parses its command line itself: the usual Windows quoting only
 * quotes arguments with spaces, so `C:\dl\a&calc.txt` would run `calc`.
 * Inside double quotes `&|<>^()` are plain characters; `%` is still expanded
 * and `"` cannot be escaped, so those are refused (Windows forbids `"` in
 * file names anyway).
 */
export function cmdArguments(args: readonly string[]): string[] | undefined {
  const quoted: string[] = [];
  for (const arg of args) {
    if (/^[\w/:.\\-]+$/.test(arg)) quoted.push(arg);
    else if (/[%"]/.test(arg)) return undefined;
    else quoted.push(`"${arg}"`);
  }
  return quoted;
}

function isCmd(program: string): boolean {
  return /(?:^|[\\/])cmd(?:\.exe)?$/i.test(program);
}

function why(error: unknown, program: string): string {
  if (error instanceof Deno.errors.NotFound) {
    return `${program} is not installed`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "chat was started without permission to run programs (--allow-run)";
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `permission denied running ${program}`;
  }
  return error instanceof Error ? error.message : String(error);
}
