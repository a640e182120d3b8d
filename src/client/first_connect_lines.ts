// This module is browser compatible.
/**
 * What the first connection says while a busy server does not let it in
 * yet: why it tries again, and the countdown of each wait. The terminal
 * (server_connect.ts) and the web page (web/main.ts connectFirst) say them
 * in the same words.
 *
 * @module
 */

/**
 * Why a first connection cut in its handshake is tried again; `url`: the
 * address as the user knows it (the terminal's ws://..., the page's host).
 */
export function cutInHandshakeText(url: string): string {
  return `The server at ${url} did not let you in yet (it closed the connection during the handshake); it may be busy, as when a whole class joins at once`;
}

/**
 * Why a first connection whose handshake was not answered in time is
 * tried again; `message`: the deadline's own words ("the handshake did
 * not finish within 10 s").
 */
export function notAnsweredInTimeText(url: string, message: string): string {
  const within = message.replace(/^the handshake did not finish /, "");
  return `The server at ${url} did not finish the handshake ${within}; it may be busy, as when a whole class joins at once`;
}

/**
 * The line that counts a wait of the first connection down, one a try, on
 * a terminal (`giveUp`: the key that leaves, for a person), on the page or
 * for a script's reader.
 */
export function tryingAgainLine(seconds: number, giveUp: boolean): string {
  return `Trying again in ${seconds} s...${
    giveUp ? " (Ctrl-D to give up)" : ""
  }`;
}
