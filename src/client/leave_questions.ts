// This module is browser compatible.

/**
 * What leaving asks first (an interactive /quit, Ctrl-D, the web page's
 * /quit) while lines sent have no answer yet, lines typed wait their turn,
 * or files are being sent: the terminal's session and the web page say the
 * same.
 *
 * @module
 */

/**
 * How the person at the terminal asked to leave: `/quit`, or a key (Ctrl-D,
 * a second Ctrl-C). The question says to do the same again.
 */
export type LeaveBy = "/quit" | "key";

function again(how: LeaveBy): string {
  return how === "/quit" ? "Type /quit again" : "Press Ctrl-D or type /quit";
}

/** What an interactive `/quit` (or Ctrl-D) says while files are being sent. */
export function filesAtQuit(
  files: readonly string[],
  how: LeaveBy = "/quit",
): string {
  const shown = files.slice(0, 3).join(", ") +
    (files.length > 3 ? ` and ${files.length - 3} more` : "");
  const one = files.length === 1;
  return `${one ? "A file is" : `${files.length} files are`} still being ` +
    `sent or waiting for an answer (${shown}). ${again(how)} to stop ` +
    `${one ? "it" : "them"} and leave`;
}

/**
 * What a non-interactive `/quit` says of the files it stopped while they
 * waited to be offered again (`files`: "NAME to bob"): the script asked to
 * leave, so they are not, and nothing delivers them.
 */
export function undeliveredAtQuit(files: readonly string[]): string {
  const one = files.length === 1;
  return `Not delivered: ${files.join(", ")} (${
    one ? "it was" : "they were"
  } waiting to be offered again); send ${one ? "it" : "them"} again later ` +
    `and ${one ? "it resumes" : "they resume"} where ${
      one ? "it" : "they"
    } stopped`;
}

/** What an interactive `/quit` (or Ctrl-D) says while lines sent are still pending. */
export function unconfirmedAtQuit(
  count: number,
  how: LeaveBy = "/quit",
): string {
  return `${count} line${count === 1 ? "" : "s"} you sent ha${
    count === 1 ? "s" : "ve"
  } no answer from the server yet: if you leave now, ${
    count === 1 ? "it" : "they"
  } may or may not be delivered, and ${
    count === 1 ? "is" : "are"
  } not sent again. ${again(how)} to leave anyway`;
}

/**
 * What leaving says of lines sent that no question before leaving named and
 * the server did not answer before the connection closed: a line on its way
 * when /quit asked nothing (not yet said pending), or one gone out since.
 */
export function unansweredAtLeaving(count: number): string {
  const one = count === 1;
  return `${count} line${one ? "" : "s"} you sent had no answer from the ` +
    `server when you left: ${one ? "it" : "they"} may or may not be ` +
    `delivered, and ${one ? "is" : "are"} not sent again`;
}

/**
 * The answer to one line sent whose connection ended before the server
 * answered, when it is not sent again (no connection came back, or the user
 * left): a script's (`--json`'s `unanswered` error) for each such line.
 */
export function unansweredLine(to: string): string {
  return `ERROR: No answer from the server to your message to ${to} before ` +
    `the connection ended: it may or may not be delivered, and is not ` +
    `sent again`;
}

/** What an interactive `/quit` (or Ctrl-D) says while typed lines wait their turn. */
export function unsentAtQuit(count: number, how: LeaveBy = "/quit"): string {
  const one = count === 1;
  return `${count} line${one ? "" : "s"} you typed ha${
    one ? "s" : "ve"
  } not gone out yet, waiting for the line before ${
    one ? "it" : "them"
  } to be answered: if you leave now, ${one ? "it is" : "they are"} not sent. ${
    again(how)
  } to leave anyway`;
}

/**
 * What the web page's `/quit` says while lines typed with no connection
 * wait for the next one (they go out once it is back): leaving drops them.
 */
export function queuedAtQuit(count: number, how: LeaveBy = "/quit"): string {
  const one = count === 1;
  return `${count} line${one ? "" : "s"} you typed while disconnected ha${
    one ? "s" : "ve"
  } not gone out yet, waiting for the connection: if you leave now, ${
    one ? "it is" : "they are"
  } not sent. ${again(how)} to leave anyway`;
}
