/**
 * The status row in front of a terminal's prompt: transfers in progress,
 * and the connection while it is down. A program (--json) gets progress
 * events instead.
 *
 * @module
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";
import { textColumns } from "./input_block.ts";
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
  readonly #progress = new Map<
    string,
    { line: string; short: ShortProgress; at: number }
  >();
  /**
   * The latest progress of a transfer that came too soon after the one
   * shown, drawn when its interval is over: dropped, a burst's last figure
   * stayed on the row for as long as the transfer then stalled.
   */
  readonly #held = new Map<
    string,
    { event: FileProgress; timer: ReturnType<typeof setTimeout> }
  >();
  #connection: string | null = null;

  constructor(
    terminal: Terminal,
    json: boolean,
    emit: (event: SessionEvent) => void,
  ) {
    this.#terminal = terminal;
    this.#json = json;
    this.#emit = emit;
    // Rows are fitted to the width: a resize fits them anew.
    if (!json) terminal.onResize(() => this.#update());
  }

  /**
   * Shows transfer `key`'s progress (a few times a second at most, the
   * latest always within PROGRESS_INTERVAL_MS), or ends it (null).
   */
  showProgress(key: string, event: FileProgress | null): void {
    if (!this.#terminal.interactive && !this.#json) return;
    const held = this.#held.get(key);
    if (held !== undefined) {
      if (event !== null) {
        held.event = event;
        return;
      }
      clearTimeout(held.timer);
      this.#held.delete(key);
    }
    const now = Date.now();
    const last = this.#progress.get(key);
    if (event !== null && last && now - last.at < PROGRESS_INTERVAL_MS) {
      const timer = setTimeout(() => {
        const latest = this.#held.get(key);
        this.#held.delete(key);
        if (latest !== undefined) this.showProgress(key, latest.event);
      }, last.at + PROGRESS_INTERVAL_MS - now);
      this.#held.set(key, { event, timer });
      return;
    }
    if (event === null) this.#progress.delete(key);
    else {
      this.#progress.set(key, {
        line: statusOf(event, now) ?? "",
        short: shortProgress(event),
        at: now,
      });
    }
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
    const progress = [...this.#progress.values()];
    const before = this.#connection === null ? [] : [this.#connection];
    let rows = [...before, ...progress.map((p) => p.line)];
    // The terminal cuts a row too wide at its end, which is where the
    // percentage and the time left are: narrower, the bytes and the rate go
    // first, then the end of the file's name ("holiday-in-sp… 14% 10s left").
    const columns = this.#terminal.columns;
    if (progress.length > 0 && textColumns(rows.join(" | ")) >= columns) {
      const separators = (progress.length - 1) * " | ".length;
      const room = Math.floor(
        (columns - 1 - textColumns([...before, ""].join(" | ")) - separators) /
          progress.length,
      );
      rows = [...before, ...progress.map((p) => fitShort(p.short, room))];
    }
    this.#terminal.setStatus(rows.length === 0 ? null : rows.join(" | "));
  }
}

/** A transfer's progress for a narrow row: what it is, and how far along. */
interface ShortProgress {
  /** `big.bin from jojo`, safe to print. */
  readonly label: string;
  /** ` 14% 10s left`. */
  readonly tail: string;
}

function shortProgress(event: FileProgress): ShortProgress {
  const { bytes, size, elapsedMs, fromBytes } = event;
  const percent = size === 0 ? 100 : Math.floor((bytes / size) * 100);
  const rate = elapsedMs > 0 ? (bytes - fromBytes) / (elapsedMs / 1000) : 0;
  const left = rate > 0 ? ` ${Math.ceil((size - bytes) / rate)}s left` : "";
  return {
    label: sanitizeForTerminal(
      `${event.name} ${event.direction === "in" ? "from" : "to"} ${event.peer}`,
    ),
    tail: ` ${percent}%${left}`,
  };
}

const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * `short` in at most `room` columns, the label's end cut first: between
 * graphemes, never inside an emoji joined with ZWJ (or a flag's pair, a
 * letter and its accents), which would show a piece of it.
 */
function fitShort(short: ShortProgress, room: number): string {
  const labelRoom = room - textColumns(short.tail);
  if (textColumns(short.label) <= labelRoom) return short.label + short.tail;
  let label = "";
  let used = 0;
  for (const { segment } of GRAPHEMES.segment(short.label)) {
    const width = textColumns(segment);
    if (used + width > labelRoom - 1) break;
    label += segment;
    used += width;
  }
  return `${label}\u2026${short.tail}`;
}
