// This module is browser compatible.

/**
 * Whose connection it is when a reverse proxy (nginx, caddy) stands in
 * front of the server (`chat serve --trusted-proxy`): every client then
 * arrives from the proxy's address, and the proxy names the client in the
 * `X-Forwarded-For` header of the request it passes on. Only a proxy the
 * operator named is believed: anyone else could name any address there, and
 * pick which address its limits are counted against. The same proxy says in
 * `X-Forwarded-Proto` whether the client reached it over TLS: behind one
 * that ends TLS and passes requests on over plain HTTP, the page's origin
 * is `https://` though the hop to the server is not. Pure: the edge
 * (ws_edge.ts) asks it.
 *
 * @module
 */

import { ipLiteral } from "./address_group.ts";

/** The addresses of the proxies whose `X-Forwarded-For` is believed. */
export class TrustedProxies {
  readonly #addresses: ReadonlySet<string>;

  /** `addresses`: IP literals (address_group.ts ipLiteral), else a TypeError. */
  constructor(addresses: readonly string[]) {
    const set = new Set<string>();
    for (const address of addresses) {
      const ip = ipLiteral(address);
      if (ip === null) {
        throw new TypeError(`'${address}' is not an IP address`);
      }
      set.add(ip);
    }
    this.#addresses = set;
  }

  get size(): number {
    return this.#addresses.size;
  }

  /**
   * Whether `address` (as a socket gives it: "::ffff:127.0.0.1" is
   * 127.0.0.1) is one of them.
   */
  has(address: string): boolean {
    const ip = ipLiteral(address);
    return ip !== null && this.#addresses.has(ip);
  }
}

/** Who a trusted proxy's request is from. */
export type ForwardedClient =
  /** No `X-Forwarded-For`: the proxy's machine itself. */
  | { kind: "none" }
  /** The client, an IP literal as the header wrote it. */
  | { kind: "client"; address: string }
  /** A header no client address can be read from: refused with a 400. */
  | { kind: "invalid"; why: string };

/** Longest part of a bad entry quoted back (the log, the 400's text). */
const QUOTED_CHARS = 64;

/**
 * The client that a trusted proxy's request with this `X-Forwarded-For`
 * (all its headers, joined by commas as node:http joins them, or each
 * apart) comes from:
 * the right-most entry that is not itself a trusted proxy, as nginx's
 * `real_ip_recursive on` reads it. Every proxy on the way appends the
 * address it was reached from, so entries to the right of that one were
 * written by trusted proxies, and those to its left by the client, who may
 * write anything there: they are never read. If every entry is a trusted
 * proxy, the left-most is the client (nginx does the same). An entry read
 * that is not an IP literal (a port, brackets, a name, "unknown") makes the
 * header invalid.
 */
export function forwardedClient(
  header: string | readonly string[] | undefined,
  trusted: TrustedProxies,
): ForwardedClient {
  if (header === undefined) return { kind: "none" };
  const text = typeof header === "string" ? header : header.join(",");
  const entries = text.split(",").map((entry) => entry.trim());
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    if (ipLiteral(entry) === null) {
      return {
        kind: "invalid",
        why: entry === ""
          ? "X-Forwarded-For has an empty entry where the client's address should be"
          : `X-Forwarded-For names '${
            quoted(entry)
          }' where the client's address should be, which is not an IP address`,
      };
    }
    if (!trusted.has(entry) || i === 0) {
      return { kind: "client", address: entry };
    }
  }
  // Not reached: the loop returns at i = 0 at the latest.
  return { kind: "none" };
}

/** What a trusted proxy's request says of the client's hop to the proxy. */
export type ForwardedProto =
  /** No `X-Forwarded-Proto`: the hop to the server is the client's. */
  | { kind: "none" }
  /** The client came over https (`secure`) or plain http. */
  | { kind: "proto"; secure: boolean }
  /** A header that is not one `https` or `http`: refused with a 400. */
  | { kind: "invalid"; why: string };

/**
 * The scheme a trusted proxy's `X-Forwarded-Proto` names (all its headers
 * joined by commas, as node:http joins them, or each apart): exactly one
 * value, `https` or `http`, in any case. Anything else (a list, as a chain
 * of proxies that append would write, an empty value, another scheme) is
 * invalid rather than guessed at: read as the hop's own scheme, it would
 * turn a browser's upgrade away as another site's and send a page request
 * back to the very https:// address it came from, neither saying why.
 */
export function forwardedProto(
  header: string | readonly string[] | undefined,
): ForwardedProto {
  if (header === undefined) return { kind: "none" };
  const text = (typeof header === "string" ? header : header.join(","))
    .trim();
  const scheme = text.toLowerCase();
  if (scheme === "https" || scheme === "http") {
    return { kind: "proto", secure: scheme === "https" };
  }
  return {
    kind: "invalid",
    why: text === ""
      ? "X-Forwarded-Proto is empty where https or http should be"
      : `X-Forwarded-Proto names '${
        quoted(text)
      }' where https or http should be`,
  };
}

/** `text` safe to log and echo: printable ASCII, at most QUOTED_CHARS. */
function quoted(text: string): string {
  const safe = text.replace(/[^\x20-\x7e]/g, "?");
  return safe.length > QUOTED_CHARS
    ? `${safe.slice(0, QUOTED_CHARS)}...`
    : safe;
}
