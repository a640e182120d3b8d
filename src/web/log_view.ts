/// <reference lib="dom" />
/**
 * The page's log: rows of text (set as text, never as HTML), and rows that
 * hold elements (a question with buttons, a link to save a file, a progress
 * bar). It keeps its last rows only, letting go of what a row held as it
 * leaves, and follows the end while the reader is there. Browser only (the
 * DOM).
 *
 * @module
 */

import { formatProgress } from "../client/render.ts";

/**
 * Rows the log keeps: a page left open all day must not grow without end
 * (/history brings older messages back).
 */
export const MAX_ROWS = 5000;

/** A transfer's row with its progress bar. */
export interface ProgressRow {
  /** Shows `done` of `total` bytes. */
  update(done: number, total: number): void;
  /**
   * Takes the row away: the transfer stopped short (cancelled, failed), and
   * a line of its own says so.
   */
  remove(): void;
}

export class LogView {
  /** What to do when a row leaves the log (see whenRemoved). */
  #onRemoved = new WeakMap<Element, () => void>();

  constructor(readonly element: HTMLElement, readonly maxRows = MAX_ROWS) {}

  /**
   * Calls `release` once `row` is trimmed from the log: what it alone held
   * (a received file's object URL) is let go with it.
   */
  whenRemoved(row: Element, release: () => void): void {
    this.#onRemoved.set(row, release);
  }

  /** Appends `lines`, one row each, with the CSS classes `line kind`. */
  lines(lines: readonly string[], kind: string): void {
    for (const text of lines) {
      const row = document.createElement("div");
      row.className = `line ${kind}`;
      row.textContent = text;
      this.#append(row);
    }
  }

  /** A row of elements and text (strings become text nodes). */
  row(kind: string, ...children: (Node | string)[]): HTMLElement {
    const row = document.createElement("div");
    row.className = `line ${kind}`;
    row.append(...children);
    this.#append(row);
    return row;
  }

  /** A progress row for a transfer. */
  progress(label: string): ProgressRow {
    const text = document.createElement("span");
    const bar = document.createElement("progress");
    const row = this.row("progress", bar, " ", text);
    const started = Date.now();
    return {
      update: (done, total) => {
        bar.max = Math.max(total, 1);
        bar.value = done;
        text.textContent = formatProgress(
          label,
          done,
          total,
          Date.now() - started,
        );
        if (done >= total) row.classList.add("done");
      },
      remove: () => row.remove(),
    };
  }

  #append(row: HTMLElement): void {
    const log = this.element;
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(row);
    while (log.childElementCount > this.maxRows) {
      const first = log.firstElementChild;
      if (first === null) break;
      first.remove();
      this.#onRemoved.get(first)?.();
      this.#onRemoved.delete(first);
    }
    if (stick) log.scrollTop = log.scrollHeight;
  }
}

/** A small button, as the log and the lists use. */
export function smallButton(
  label: string,
  onClick: () => void,
): HTMLButtonElement {
  const made = document.createElement("button");
  made.type = "button";
  made.className = "small";
  made.textContent = label;
  made.addEventListener("click", onClick);
  return made;
}
