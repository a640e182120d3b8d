/**
 * The status row in front of a terminal's prompt: transfers in progress,
 * and the connection while it is down. A program (--json) gets progress
 * events instead.
 *
 * @module
 */

import type { SessionEvent } from "./session_events.ts";
import type { Terminal } from "./terminal.ts";
import { statusOf } from "./text_output.ts";

/** Transfers smaller than this finish too fast to need a progress display. */
export const PROGRESS_MIN_BYTES = 1024 * 1024;
const PROGRESS_INTERVAL_MS = 250;

/** A transfer's progress, as shown. */
export type FileProgress = Extract<SessionEvent, { type: "file_progress" }>;

export class StatusRow {
  readonly #terminal: Terminal;
  readonly #json: boolean;
  readonly #emit: (event: SessionEvent) => void;
  readonly #progress = new Map<string, { line: string; at: number }>();
  #connection: string | null = null;

  constructor(
    terminal: Terminal,
    json: boolean,
    emit: (event: SessionEvent) => void,
  ) {
    this.#terminal = terminal;
    this.#json = json;
    this.#emit = emit;
  }

  /** Shows transfer `key`'s progress (a few times a second at most), or ends it (null). */
  showProgress(key: string, event: FileProgress | null): void {
    if (!this.#terminal.interactive && !this.#json) return;
    const now = Date.now();
    const last = this.#progress.get(key);
    if (event !== null && last && now - last.at < PROGRESS_INTERVAL_MS) return;
    if (event === null) this.#progress.delete(key);
    else this.#progress.set(key, { line: statusOf(event, now) ?? "", at: now });
    if (this.#json) {
      if (event !== null) this.#emit(event);
      return;
    }
    this.#update();
  }

  /** The connection's state while it is down; null once back. */
  showConnection(line: string | null): void {
    this.#connection = line;
    this.#update();
  }

  #update(): void {
    const rows = [...this.#progress.values()].map((p) => p.line);
    if (this.#connection !== null) rows.unshift(this.#connection);
    this.#terminal.setStatus(rows.length === 0 ? null : rows.join(" | "));
  }
}
