/**
 * The terminal of `chat connect --json`: stdout carries only JSON lines, so
 * whatever the session shows as text (questions, notes, warnings) goes to
 * stderr, and input is read as plain lines even from a terminal.
 */

import type { Terminal } from "./terminal.ts";

export function diagnosticsOnStderr(terminal: Terminal): Terminal {
  const say = (line: string) => console.error(line);
  return {
    interactive: terminal.interactive,
    color: false,
    print: say,
    printError: say,
    question: (prompt) => {
      say(prompt);
      return terminal.nextLine();
    },
    discardTypedAhead: () => terminal.discardTypedAhead(),
    setPrompt: () => {},
    setStatus: () => {},
    setWaiting: () => {},
    columns: 80,
    nextLine: () => terminal.nextLine(),
    setCompleter: () => {},
    onKeypress: () => () => {},
    onResize: () => () => {},
    // A bot's lines are not kept for Up and Ctrl-R.
    setHistory: () => {},
    onTypedLine: () => {},
    onLeaveKey: () => {},
    close: () => terminal.close(),
  };
}
