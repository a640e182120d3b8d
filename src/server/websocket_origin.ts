// This module is browser compatible.

/**
 * Which WebSocket upgrades a browser may make (RFC 6455 10.2): a browser
 * sends the Origin of the page that opens a WebSocket, and lets any page open
 * one to any address. Without this check, a page from another site (or from
 * another port of the same host) that someone opens could connect, from their
 * browser and their address, to a chat server that only they can reach (one
 * on `localhost`, say, or behind their network), sign in under a name of its
 * choosing, and read the public room. A site that makes its own name point
 * at the server (DNS rebinding) has a page of the very origin this lets in:
 * the edge refuses that one by its `Host` first (allowed_host.ts). Pure: the
 * edge (ws_edge.ts) asks it.
 *
 * @module
 */

/**
 * Whether an upgrade with this `Origin` header may go on: without one (a
 * client that is not a browser: the terminal, a script) or from this
 * server's own page, the origin the request itself names (its `Host`, over
 * https:// when it came over TLS). Anything else is another site's page:
 * `null` (a sandboxed or `file:` page), another host, port or scheme.
 */
export function allowedOrigin(
  origin: string | undefined,
  host: string | undefined,
  secure: boolean,
): boolean {
  if (origin === undefined) return true;
  if (host === undefined) return false;
  const own = originOf(`${secure ? "https" : "http"}://${host}`);
  return own !== null && own === originOf(origin);
}

/** The serialised origin of `url` (lower case, default port left out), or null. */
function originOf(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  // A Host with a path, a user or a query in it names no origin of ours.
  if (
    parsed.username !== "" || parsed.password !== "" ||
    (parsed.pathname !== "/" && parsed.pathname !== "") ||
    parsed.search !== "" || parsed.hash !== ""
  ) return null;
  return parsed.origin;
}
