// This module is browser compatible.

/**
 * What to tell the user when the server at an address answered the
 * WebSocket upgrade with an HTTP status other than 101: told apart by the
 * status, so that each says what to do (docs/PROTOCOL.md 1.1 lists the ones
 * a chat server answers). The caller sanitises the text for a terminal: it
 * quotes what the server said.
 *
 * @module
 */

import type { WebSocketUpgradeError } from "../transport/websocket_upgrade.ts";

/** An upgrade the server answered with a status (not a broken answer). */
export type RefusedUpgrade = WebSocketUpgradeError & { status: number };

export function upgradeRefusal(error: RefusedUpgrade, url: string): string {
  switch (error.status) {
    case 503:
      return unavailable(error, url);
    case 429:
      return `The server at ${url} is busy (status 429${
        saidPart(error)
      }): try again in ${
        error.retryAfter === null ? "a few seconds" : `${error.retryAfter} s`
      }`;
    case 403:
      return forbidden(error, url);
    case 400:
    case 404:
      // A chat server's own refusal says why, as `Refused: <reason>`.
      if (error.reason !== null) {
        return `The server at ${url} refused the connection (status ${error.status}): ${error.reason}`;
      }
      return `Cannot connect to ${url}: that address answers HTTP but is not a chat server (status ${error.status}${
        saidPart(error)
      })${plainToTls(error.status, url)}`;
    default:
      return `Cannot connect to ${url}: the server answered the WebSocket upgrade with status ${error.status}${
        saidPart(error)
      }, not 101: is it a chat server, and is that its port?`;
  }
}

/** The server's first line after a status, quoted, or "". */
function saidPart(error: RefusedUpgrade): string {
  return error.said === "" ? "" : `: '${error.said}'`;
}

/**
 * A 400 to a ws:// address: an HTTPS server answers a plain request so
 * (nginx: "The plain HTTP request was sent to HTTPS port"), and wss://
 * would reach it. A wss:// address that speaks no TLS fails earlier, in
 * the TLS handshake (tcp_websocket.ts says so).
 */
function plainToTls(status: number, url: string): string {
  if (status !== 400 || !url.startsWith("ws://")) return "";
  return `. If that port expects TLS, connect to wss://${
    url.slice("ws://".length)
  } instead`;
}

/**
 * A 403. A chat server refuses so only a browser's request (docs/
 * PROTOCOL.md 1.1): its page's origin (`Refused: <reason>`), or, for a
 * request with an Origin, a host name it does not answer to ("Blocked
 * request: ..."). This client sends no Origin, so a 403 means something
 * in the way: a proxy that added an Origin (the first), or one that lets
 * only some names or addresses through (anything else).
 */
function forbidden(error: RefusedUpgrade, url: string): string {
  if (error.reason !== null) {
    return `The server at ${url} refused the connection as a page of another site (status 403): ${error.reason}. This client sends no Origin: a proxy between you and the server added one; connect to the server's own address, or ask whoever runs the proxy`;
  }
  return `The server at ${url} refused the host name '${
    new URL(url).host
  }' or your address (status 403${
    saidPart(error)
  }): a chat server refuses neither to chat connect, so a proxy or another program answered; connect to the address 'chat serve' printed, or ask whoever runs it`;
}

/**
 * A 503 (docs/PROTOCOL.md 1.1): the server's own reason when it gave one,
 * and how long it asked to wait; the reconnecting client waits that long
 * anyway (1 to 10 s).
 */
function unavailable(error: RefusedUpgrade, url: string): string {
  if (error.reason === null) return serverFull(url);
  const wait = error.retryAfter === null
    ? ""
    : ` (the server asks to wait ${error.retryAfter} s)`;
  const advice = /try again/i.test(error.reason)
    ? ""
    : /your address/i.test(error.reason)
    ? ": close some of your other chat connections, or ask whoever runs the server to raise --max-per-address"
    : /full/i.test(error.reason)
    ? ": try again later"
    : "";
  return `The server at ${url} refused the connection: ${error.reason}${advice}${wait}`;
}

function serverFull(url: string): string {
  return `The server at ${url} refused the connection: it is full, or too many connections came from your address (at once or in the last seconds). Try again in a few seconds`;
}
