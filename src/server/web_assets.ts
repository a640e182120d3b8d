// This module is browser compatible.

/**
 * The web client's files as HTTP answers (issue 18): `chat serve` answers a
 * GET for `/`, `/app.js` or `/style.css` with the page built into
 * src/web/assets.gen.ts, and every other request without `Upgrade` as before
 * (426). Pure: the edge (ws_edge.ts) writes what this returns.
 *
 * @module
 */

import { WEB_ASSETS } from "../web/assets.gen.ts";
import { connectCommand, type Launcher } from "./connect_hint.ts";

export interface WebAnswer {
  status: 200 | 304 | 307 | 404;
  headers: Readonly<Record<string, string>>;
  /**
   * Empty for HEAD and 304. A file of the page is the same bytes for every
   * request (shared: never to be written to).
   */
  body: string | Uint8Array;
}

/**
 * Sent with every file of the page. The policy allows scripts and styles
 * from this server only (no inline script: text that slipped into the page
 * as HTML could not run), and connections back to it (the WebSocket).
 * `no-cache`: the browser asks again each time (a 304 when unchanged), so an
 * updated server is never shown with an old page.
 */
export const WEB_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  // A page of another site that opened this one (a link "to the class
  // chat") keeps no handle on it, with which it could later send the tab to
  // a look-alike page of its own; and it cannot load these files into its
  // own pages.
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-cache",
  // Each file on its own short connection: an idle keep-alive socket would
  // count against the address's connections that are still starting.
  "connection": "close",
};

/** Paths that name the page itself. */
const ALIASES: Readonly<Record<string, string>> = { "/index.html": "/" };

/** One of the page's files, ready to be sent. */
interface Served {
  readonly etag: string;
  readonly bytes: Uint8Array;
  /** The headers of a 200 (with its length) and of a 304. */
  readonly whole: Readonly<Record<string, string>>;
  readonly unchanged: Readonly<Record<string, string>>;
}

/**
 * Encoded and measured once, as the server starts: the page's script is
 * some hundreds of KB, which each request encoded again only to give its
 * length (and once more as it was written out as a string).
 */
const SERVED: ReadonlyMap<string, Served> = new Map(
  Object.entries(WEB_ASSETS).map(([path, asset]) => {
    const bytes = new TextEncoder().encode(asset.body);
    const unchanged = Object.freeze({
      ...WEB_HEADERS,
      "content-type": asset.type,
      etag: asset.etag,
    });
    const whole = Object.freeze({
      ...unchanged,
      "content-length": String(bytes.length),
    });
    return [path, { etag: asset.etag, bytes, whole, unchanged }];
  }),
);

const NO_BYTES = new Uint8Array(0);

/**
 * The answer to a request for one of the page's files, or null when the
 * request is not one (another method or path): the caller answers as it did
 * before there was a page.
 */
export function webAnswer(
  method: string | undefined,
  url: string | undefined,
  ifNoneMatch: string | undefined,
): WebAnswer | null {
  if (method !== "GET" && method !== "HEAD") return null;
  const served = assetAt(url ?? "");
  if (served === null) return null;
  if (ifNoneMatch !== undefined && matches(ifNoneMatch, served.etag)) {
    return { status: 304, headers: served.unchanged, body: NO_BYTES };
  }
  return {
    status: 200,
    headers: served.whole,
    body: method === "HEAD" ? NO_BYTES : served.bytes,
  };
}

/**
 * What a server that serves no page (`chat serve --no-web`) says instead,
 * with the client's command as it runs here (`deno task connect` from the
 * sources, where there is no `chat` to run).
 */
export function noWebPage(launcher: Launcher = "executable"): string {
  return `This chat server serves no web page (it was started with --no-web). Join it with the terminal client: ${
    connectCommand(launcher)
  } HOST\n`;
}

/**
 * The answer of a server started with `--no-web` to a request for one of
 * the page's files: 404, saying so; null for any other request, answered as
 * before there was a page.
 */
export function noWebAnswer(
  method: string | undefined,
  url: string | undefined,
  launcher: Launcher = "executable",
): WebAnswer | null {
  if (method !== "GET" && method !== "HEAD") return null;
  if (assetAt(url ?? "") === null) return null;
  const page = noWebPage(launcher);
  const body = method === "HEAD" ? "" : page;
  return {
    status: 404,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(new TextEncoder().encode(page).length),
      "x-content-type-options": "nosniff",
      "connection": "close",
    },
    body,
  };
}

/** Names a browser on the server's own machine uses: a secure context already. */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?$/i;

/** A `Host` header that is a plain name or address with an optional port. */
const PLAIN_HOST = /^([a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(:\d{1,5})?$/i;

/**
 * The answer to a request for the page that came over plain HTTP from
 * another machine, when the server also speaks TLS on this port: 307 to the
 * same address over https:// (the browser would give the page no WebCrypto
 * over plain http there, README "In a browser"). Null for anything else:
 * another path or method, a browser on this machine (`localhost`), or a
 * `Host` that is not a plain host name (it is the peer's to write).
 */
export function secureRedirect(
  method: string | undefined,
  url: string | undefined,
  host: string | undefined,
): WebAnswer | null {
  if (method !== "GET" && method !== "HEAD") return null;
  if (host === undefined || !PLAIN_HOST.test(host)) return null;
  if (LOOPBACK_HOST.test(host)) return null;
  if (assetAt(url ?? "") === null) return null;
  // Without the query: the page keeps nothing there, and what the peer wrote
  // is not echoed into a header.
  const path = bare(url ?? "");
  return {
    status: 307,
    headers: {
      location: `https://${host}${path}`,
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "connection": "close",
    },
    body: method === "HEAD" ? "" : `Go to https://${host}${path}\n`,
  };
}

/** `url` without its query or fragment. */
function bare(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function assetAt(url: string): Served | null {
  const path = bare(url);
  return SERVED.get(Object.hasOwn(ALIASES, path) ? ALIASES[path]! : path) ??
    null;
}

/** If-None-Match: `*` or a list of entity tags, weak ones included. */
function matches(header: string, etag: string): boolean {
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
  });
}
