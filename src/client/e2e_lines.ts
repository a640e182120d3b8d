// This module is browser compatible.

/**
 * A line the end-to-end sessions (E2eSessions, GroupSessions) give the user
 * unasked, with its kind: an error, a warning or a notice. Typed where it
 * is made, so that the terminal and the page show each as what it is, not
 * as what its first word looks like.
 *
 * @module
 */

export interface E2eLine {
  readonly kind: "error" | "warning" | "notice";
  readonly text: string;
}

export function errorLine(text: string): E2eLine {
  return { kind: "error", text };
}

export function warningLine(text: string): E2eLine {
  return { kind: "warning", text };
}

export function noticeLine(text: string): E2eLine {
  return { kind: "notice", text };
}
