/**
 * A person at a terminal, for runSession: what it prints and shows on the
 * status row is kept, and the test types the person's next lines and
 * presses keys when it likes.
 */

import { join } from "node:path";
import { runSession } from "../../src/client/session.ts";
import type { Terminal } from "../../src/client/terminal.ts";
import { TrustedSenders } from "../../src/client/trusted_senders.ts";
import { testIdentity } from "./chat.ts";
import { until } from "./bystanders.ts";

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

/**
 * `name`'s session (runSession, reconnecting, with a new identity) at a
 * typist terminal, a person's (`interactive`) or a script's, through
 * `url` to the server whose key is `spki`; it takes no file (saved under
 * `dir`/`name`). Resolves once it prints its welcome, within `waitMs`;
 * fails with what it printed otherwise.
 */
async function signedInSession(options: {
  url: string;
  spki: Uint8Array;
  dir: string;
  name: string;
  interactive: boolean;
  waitMs?: number;
}): Promise<
  {
    name: string;
    terminal: ReturnType<typeof typist>;
    session: Promise<number>;
  }
> {
  const { name } = options;
  const terminal = { ...typist(), interactive: options.interactive };
  const session = runSession({
    urls: [options.url],
    trust: { kind: "pinned", spki: options.spki, path: "server.pub" },
    identity: await testIdentity(),
    user: name,
    terminal,
    files: {
      downloadsDir: join(options.dir, name),
      ownDownloadsDir: false,
      maxFileBytes: 1024,
      accept: "none",
      trusted: TrustedSenders.inMemory(),
      open: false,
      openWith: null,
    },
    reconnect: true,
  });
  await until(
    () => terminal.printed.includes("SUCCESS: Username registered."),
    `${name}'s welcome`,
    options.waitMs,
  ).catch((error) => {
    throw new Error(`${name}:\n${terminal.printed.join("\n")}`, {
      cause: error,
    });
  });
  return { name, terminal, session };
}

/**
 * A class of `count` sessions (see signedInSession), student0 to
 * student<count - 1>, signed in one after another: the even ones people
 * at a terminal, the odd ones scripts.
 */
export async function signedInClass(
  count: number,
  options: Omit<Parameters<typeof signedInSession>[0], "name" | "interactive">,
): Promise<Awaited<ReturnType<typeof signedInSession>>[]> {
  const students = [];
  for (let i = 0; i < count; i++) {
    students.push(
      await signedInSession({
        ...options,
        name: `student${i}`,
        interactive: i % 2 === 0,
      }),
    );
  }
  return students;
}
