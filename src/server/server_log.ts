/**
 * Where the server's operational log lines go: stdout with a timestamp by
 * default, always made safe to show first.
 */

import { sanitizeForTerminal } from "../text/sanitize.ts";

/**
 * `write`, given each line made safe to show. Log lines quote what clients
 * sent (names, reasons, errors about their frames): no control character of
 * theirs reaches the operator's terminal or splits a line in the log file.
 */
export function sanitizedLog(
  write: (line: string) => void,
): (line: string) => void {
  return (line) => write(sanitizeForTerminal(line));
}

/** A log line on stdout with a timestamp: the server's, and its cluster node's. */
export function defaultLog(line: string): void {
  const time = new Date().toISOString().replace("T", " ").slice(0, 19);
  console.log(`${time} ${line}`);
}
