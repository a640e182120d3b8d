/**
 * A person at a terminal, for runSession: what it prints and shows on the
 * status row is kept, and the test types the person's next lines and
 * presses keys when it likes.
 */

import type { Terminal } from "../../src/client/terminal.ts";

/** A person's terminal whose next lines the test types when it likes. */
export function typist(): Terminal & {
  printed: string[];
  statuses: string[];
  type(line: string): void;
  /** A key pressed (any: the session's listeners are told of a press). */
  press(): void;
  /** The window is now `columns` wide. */
  resize(columns: number): void;
} {
  const printed: string[] = [];
  const statuses: string[] = [];
  const typed: string[] = [];
  const keys = new Set<() => void>();
  const resizes = new Set<() => void>();
  let columns = 80;
  let wake = () => {};
  return {
    printed,
    statuses,
    type(line) {
      typed.push(line);
      wake();
    },
    press() {
      for (const key of keys) key();
    },
    resize(width) {
      columns = width;
      for (const listener of resizes) listener();
    },
    interactive: true,
    color: false,
    print: (line) => printed.push(line),
    printError: (line) => printed.push(line),
    question: () => Promise.resolve(null),
    discardTypedAhead: () => typed.splice(0).length,
    setPrompt: () => {},
    setStatus: (line) => {
      if (line !== null) statuses.push(line);
    },
    setWaiting: () => {},
    get columns() {
      return columns;
    },
    nextLine: async () => {
      while (typed.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      return typed.shift()!;
    },
    setCompleter: () => {},
    onKeypress: (listener) => {
      keys.add(listener);
      return () => keys.delete(listener);
    },
    onResize: (listener) => {
      resizes.add(listener);
      return () => resizes.delete(listener);
    },
    setHistory: () => {},
    onTypedLine: () => {},
    onLeaveKey: () => {},
    close: () => {},
  };
}
