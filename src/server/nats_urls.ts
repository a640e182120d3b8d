// This module is browser compatible.

/**
 * `--cluster` URLs and the NATS credentials in them, apart from the NATS
 * client (nats.ts) so that the command line can check them without loading
 * it.
 */

/** What `connect` is given to sign in to NATS: nothing, a user, or a token. */
export type NatsAuth =
  | Record<never, never>
  | { readonly user: string; readonly pass: string }
  | { readonly token: string };

/**
 * `url` with whatever stands before its last `@` (after the scheme) shown as
 * `***`: what an error may print of a URL that may carry a password, even one
 * too malformed to parse. A host never holds an `@`, so the last one ends the
 * credentials.
 */
export function hideNatsCredentials(url: string): string {
  return url.replace(/^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?).*@/is, "$1***@");
}

/** The text of `part` (a URL's user or password) decoded, or null if it has a `%` that is not percent-encoding. */
function decoded(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/**
 * `urls` (nats://[USER:PASS@ or TOKEN@]HOST:PORT) as the servers to dial,
 * without credentials (so that no error or log line shows them), and the
 * credentials they carry: NATS signs a connection in with one set, so every
 * URL that carries any must carry the same. The NATS client itself takes
 * only host and port from a URL: credentials left in it were dropped, and a
 * node could not join a NATS server that asks for them. Throws, printing no
 * credential, for a `%` that is not percent-encoding and for `USER:@` or
 * `:PASS@` (one half of a user and password missing: a token is `TOKEN@`).
 */
export function natsServers(
  urls: readonly string[],
): { servers: string[]; auth: NatsAuth } {
  const servers: string[] = [];
  let auth: NatsAuth = {};
  let given: string | null = null;
  for (const one of urls) {
    const url = new URL(one.includes("://") ? one : `nats://${one}`);
    const shown = hideNatsCredentials(one);
    const user = decoded(url.username);
    const pass = decoded(url.password);
    if (user === null || pass === null) {
      throw new Error(
        `The credentials in the NATS URL ${shown} have a % that is not percent-encoding: write % as %25 (and @ : / as %40 %3A %2F)`,
      );
    }
    // The URL parser reads USER:@HOST as USER@HOST (a token): only the text
    // tells them apart.
    const colon = userInfo(one).includes(":");
    if (colon && (user === "" || pass === "")) {
      throw new Error(
        `The NATS URL ${shown} has a user and password with one of them empty: give USER:PASS@, or TOKEN@ alone for a token`,
      );
    }
    url.username = "";
    url.password = "";
    servers.push(url.href.replace(/\/$/, ""));
    if (user === "" && pass === "") continue;
    const these = JSON.stringify([user, pass]);
    if (given !== null && given !== these) {
      throw new Error(
        "The NATS URLs carry different credentials: a node signs in to NATS with one, give the same in each (or in one)",
      );
    }
    given = these;
    auth = pass === "" ? { token: user } : { user, pass };
  }
  return { servers, auth };
}

/** What stands between `url`'s scheme and its last `@` ("" without one). */
function userInfo(url: string): string {
  const rest = url.replace(/^\s*[a-z][a-z0-9+.-]*:\/\//i, "");
  const at = rest.lastIndexOf("@");
  return at < 0 ? "" : rest.slice(0, at);
}
