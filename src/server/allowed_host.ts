// This module is browser compatible.

/**
 * Which `Host` names the server answers a browser under: the defence against
 * DNS rebinding, as Vite's `server.allowedHosts` and webpack-dev-server's
 * `allowedHosts` are. A site `evil.example` whose DNS answer later turns to
 * the chat server's LAN address gets its own page, loaded from
 * `http://evil.example:8767/`, talking to the chat server from its visitor's
 * browser inside the network: to that browser it is the same origin, so the
 * `Origin` check (websocket_origin.ts) lets it in. What the attacker cannot
 * change is the name the browser asks for, which it sends as `Host`: an IP
 * literal or `localhost` involves no DNS the attacker answers, and other
 * names are the operator's to list. Pure: the edge (ws_edge.ts) asks it.
 *
 * @module
 */

import { chatCommand, type Launcher } from "./connect_hint.ts";

/**
 * A `Host` header's host: a name, or an IPv6 address in brackets, and an
 * optional port; no scheme, user, path or query (nothing the URL parser
 * below would read as more than a host).
 */
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[^\s/\\?#@[\]:]+)(?::(\d{1,5}))?$/;

/** An IPv4 address as the URL parser writes it (`0x7f.1` -> `127.0.0.1`). */
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The host a `Host` header (or a name the operator gave) names, as a
 * browser resolves it: lower case, an international name in punycode
 * (`xn--`), an IPv4 address in dotted decimal, IPv6 in brackets, without
 * the port and without the trailing dot of a fully qualified name (the same
 * DNS name). Null when it names no host: empty, malformed, a port past
 * 65535.
 */
export function hostName(text: string): string | null {
  const match = HOST_HEADER.exec(text);
  if (match === null) return null;
  const port = match[2];
  if (port !== undefined && Number(port) > 65535) return null;
  // The WHATWG URL parser is the browser's: what it makes of a name is what
  // the browser looked up (or did not, for an address).
  const url = `http://${match[1]}/`;
  if (!URL.canParse(url)) return null;
  const name = new URL(url).hostname.replace(/\.$/, "");
  return name === "" ? null : name;
}

/** Whether `name` (from hostName) is an address: nothing DNS answered. */
function isIpLiteral(name: string): boolean {
  return name.startsWith("[") || IPV4.test(name);
}

/**
 * Whether a request with this `Host` header may be answered: an IP address
 * (v4 or v6, with or without a port), `localhost`, or one of `allowed`
 * (names in any case, Unicode or punycode, with or without a trailing dot).
 * A missing, empty or malformed Host is refused: every browser sends one.
 */
export function hostAllowed(
  hostHeader: string | undefined,
  allowed: readonly string[],
): boolean {
  if (hostHeader === undefined) return false;
  const name = hostName(hostHeader);
  if (name === null) return false;
  if (isIpLiteral(name) || name === "localhost") return true;
  return allowed.some((one) => hostName(one) === name);
}

/**
 * The names this machine goes by, from its host name (`Deno.hostname()`):
 * that name, its first label (a short name the local DNS search domain
 * completes) and that label under `.local` (mDNS, as macOS and Avahi
 * announce it).
 */
export function machineNames(hostname: string): string[] {
  const name = hostName(hostname);
  if (name === null || isIpLiteral(name)) return [];
  const label = name.split(".")[0]!;
  return [...new Set([name, label, `${label}.local`])];
}

/** A name safe to repeat in the refusal: what a DNS name is made of. */
const PLAIN_NAME = /^[a-z0-9._-]{1,253}$/;

/**
 * The body of the 403 for a request whose Host is not allowed: what was
 * refused and how the operator allows it, in the command that restarts the
 * server as it was started (`launcher`). The name is repeated only when it is
 * a plain DNS name once parsed, never the raw header.
 */
export function hostRefusal(
  hostHeader: string | undefined,
  launcher: Launcher,
): string {
  const name = hostHeader === undefined ? null : hostName(hostHeader);
  if (name === null || !PLAIN_NAME.test(name)) {
    return "Blocked request: it names no host this chat server answers to (its Host header is missing or not a plain host name). Open the server by its IP address (the one chat serve printed)\n";
  }
  return `Blocked request: this chat server does not answer to the name '${name}', as a page of another site could be behind a name that is not the server's (DNS rebinding). Open it by its address instead, or, if ${name} is a name of this server, restart it with: ${
    chatCommand(launcher, "serve")
  } --allowed-host ${name}\n`;
}
