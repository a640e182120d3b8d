/**
 * Where a session's events go: a JSON line each (`--json`, queued for the
 * program reading stdout), or lines on the terminal (a script's queued for
 * the program reading stdout too); and what the session learns of that
 * program.
 *
 * @module
 */

import { DEFAULT_MAX_INBOX_BYTES } from "../transport/connection.ts";
import type { Style } from "./render.ts";
import { isFailure, type SessionEvent } from "./session_events.ts";
import type { Terminal } from "./terminal.ts";
import { textOf } from "./text_output.ts";
import { jsonLine, jsonOf } from "./json_output.ts";

/**
 * The program reading our stdout, where lines are queued for it, never
 * waited for (StdoutQueue, stdout_queue.ts): what the session learns of it.
 */
export interface StdoutReader {
  /** Resolves once every line queued so far is written (see StdoutQueue). */
  written(): Promise<void>;
  /** Bytes waiting unread past which the reader counts as behind. */
  readonly highBytes: number;
  /** Lines waiting unread past which the reader counts as behind too. */
  readonly highLines: number;
  /** Null while the reader keeps up; else resolves once it has caught up. */
  caughtUp(): Promise<void> | null;
  /** Called with true when the reader falls behind, false when it caught up. */
  onBehind(listener: (behind: boolean) => void): void;
  /** Resolves once the lines cannot be written any more (the reader is gone). */
  readonly gone: Promise<unknown>;
}

/** Where `--json` lines go, and what the session learns of their reader. */
export interface JsonLines extends StdoutReader {
  /** Queues one line (without its newline). */
  write(line: string): void;
}

/** How the session shows what happens, and what it knows of the reader. */
export interface Output {
  emit: (event: SessionEvent) => void;
  /** Whether something failed (a script's exit status says so). */
  failed: boolean;
  /**
   * Null while the reader (a program, or a person's terminal) keeps up;
   * see StdoutReader.
   */
  readerBehind(): Promise<void> | null;
  /**
   * Resolves once what was emitted so far has reached the reader (once
   * written to stdout; at once when nothing queues it).
   */
  written(): Promise<void>;
  /**
   * Lines wait for a program reading stdout (`--json`, a script): a chat
   * message is acknowledged to the server only once its line is written
   * (`written`), so a program killed with lines unread gets them again.
   */
  readonly ackOnceWritten: boolean;
  /**
   * Resolves once the program reading stdout (`--json`, a script's), or
   * the terminal, is gone (stdout cannot be written any more).
   */
  readerGone: Promise<unknown>;
}

/**
 * Said on stderr when a program leaves our output unread: `--json` lines
 * (`json`), or a script's.
 */
export function readerBehindText(
  highBytes: number,
  highLines: number,
  json: boolean,
): string {
  return `chat: more than ${Math.round(highBytes / 1024 / 1024)} MiB or ${
    highLines.toLocaleString("en-US")
  } ${
    json ? "JSON lines" : "lines"
  } wait unread on stdout: holding off the server's messages until the program reading stdout catches up (read it continuously: past ${
    DEFAULT_MAX_INBOX_BYTES / 1024 / 1024
  } MiB more from the server the connection is dropped)`;
}

export const READER_CAUGHT_UP =
  "chat: the program reading stdout caught up: taking the server's messages again";

/**
 * Where events go: a JSON line each, or lines on the terminal. `reader`:
 * who reads stdout, for whom the lines are queued (`json`'s, the terminal's
 * for a script, or a person's terminal). `ackOnceWritten`: a chat message
 * is acknowledged once its line is written (a program's; see Output).
 */
export function outputFor(
  terminal: Terminal,
  style: Style,
  json: JsonLines | undefined,
  reader: StdoutReader | undefined = json,
  ackOnceWritten = reader !== undefined,
): Output {
  const output: Output = {
    failed: false,
    readerBehind: () => reader?.caughtUp() ?? null,
    written: () => reader?.written() ?? Promise.resolve(),
    ackOnceWritten,
    // Nothing the session does can reach anyone any more: it ends.
    readerGone: reader?.gone ?? new Promise(() => {}),
    emit: (event: SessionEvent) => {
      if (isFailure(event)) output.failed = true;
      if (json !== undefined) {
        const object = jsonOf(event);
        if (object !== null) json.write(jsonLine(object));
        return;
      }
      const { lines, error } = textOf(event, style, terminal.columns);
      for (const line of lines) {
        if (error) terminal.printError(line);
        else terminal.print(line);
      }
    },
  };
  return output;
}
