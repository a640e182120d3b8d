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
}

export type OpenResult = { ok: true } | { ok: false; warning: string };

/** The command that opens a file with its default program on `os`. */
export function platformOpener(
  os: typeof Deno.build.os = Deno.build.os,
): string[] {
  switch (os) {
    case "darwin":
      return ["open"];
    case "windows":
      // `start` is built into cmd.exe; "" is the window title, which start
      // would otherwise take from a quoted path.
      return ["cmd", "/c", "start", ""];
    default:
      return ["xdg-open"];
  }
}

/**
 * Starts `opts.command` (default: {@linkcode platformOpener}) with the
 * absolute form of `path` as its last argument, detached from the terminal.
 * Failing to start is reported as a one-line warning, never thrown.
 *
 * @example
 * ```ts
 * const result = openFile("/home/me/Downloads/chat-downloads/photo.jpg", {});
 * if (!result.ok) console.error(result.warning);
 * ```
 */
export function openFile(path: string, opts: OpenOptions = {}): OpenResult {
  const command = opts.command !== undefined && opts.command.length > 0
    ? opts.command
    : platformOpener();
  const [program = "", ...leading] = command;
  // Absolute, so the argument can never be mistaken for an option.
  let args = [...leading, resolve(path)];
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
    }).spawn();
    // A viewer may run for hours; chat must still be able to exit.
    child.unref();
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
