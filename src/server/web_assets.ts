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

export interface WebAnswer {
  status: 200 | 304 | 404;
  headers: Record<string, string>;
  /** Empty for HEAD and 304. */
  body: string;
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
  "cache-control": "no-cache",
  // Each file on its own short connection: an idle keep-alive socket would
  // count against the address's connections that are still starting.
  "connection": "close",
};

/** Paths that name the page itself. */
const ALIASES: Readonly<Record<string, string>> = { "/index.html": "/" };

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
  const asset = assetAt(url ?? "");
  if (asset === null) return null;
  const headers = {
    ...WEB_HEADERS,
    "content-type": asset.type,
    etag: asset.etag,
  };
  if (ifNoneMatch !== undefined && matches(ifNoneMatch, asset.etag)) {
    return { status: 304, headers, body: "" };
  }
  return {
    status: 200,
    headers: {
      ...headers,
      "content-length": String(new TextEncoder().encode(asset.body).length),
    },
    body: method === "HEAD" ? "" : asset.body,
  };
}

/** What a server that serves no page (`chat serve --no-web`) says instead. */
export const NO_WEB_PAGE =
  "This chat server serves no web page (it was started with --no-web). Join it with the terminal client: chat connect HOST\n";

/**
 * The answer of a server started with `--no-web` to a request for one of
 * the page's files: 404, saying so; null for any other request, answered as
 * before there was a page.
 */
export function noWebAnswer(
  method: string | undefined,
  url: string | undefined,
): WebAnswer | null {
  if (method !== "GET" && method !== "HEAD") return null;
  if (assetAt(url ?? "") === null) return null;
  const body = method === "HEAD" ? "" : NO_WEB_PAGE;
  return {
    status: 404,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(new TextEncoder().encode(NO_WEB_PAGE).length),
      "x-content-type-options": "nosniff",
      "connection": "close",
    },
    body,
  };
}

function assetAt(
  url: string,
): { type: string; etag: string; body: string } | null {
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  const key = Object.hasOwn(ALIASES, path) ? ALIASES[path]! : path;
  return Object.hasOwn(WEB_ASSETS, key) ? WEB_ASSETS[key]! : null;
}

/** If-None-Match: `*` or a list of entity tags, weak ones included. */
function matches(header: string, etag: string): boolean {
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
  });
}
