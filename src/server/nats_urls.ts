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

/**
 * Whether `one` (trimmed) reads as a NATS URL: nats://HOST[:PORT], the
 * scheme optional, with or without credentials.
 */
export function readsAsNatsUrl(one: string): boolean {
  const trimmed = one.trim();
  try {
    const url = new URL(
      trimmed.includes("://") ? trimmed : `nats://${trimmed}`,
    );
    return url.protocol === "nats:" && url.hostname !== "";
  } catch {
    return false;
  }
}

/**
 * A `--cluster` value as its URLs (trimmed, none empty). URLs are
 * separated by commas, but a password (or user, or token) may hold one as
 * an operator types it: `nats://chat:pa,ss@h:4222`. A comma belongs to the
 * credentials when the text up to it has no `@` yet, no later part up to
 * the next `@` begins with `nats://` (a further URL), and the text cut
 * there is not URLs on its own (`nats://chat:pa` has no port). When it is
 * both (`nats://chat:12,34@h` is also host `chat` port 12, then the token
 * `34` at `h`), the URLs are read as one (so that what hides credentials
 * hides the most) and `ambiguous` is set: the command line then asks for
 * `%2C`, as it cannot tell. Read as one, the credentials must hold at
 * most one `:` (USER:PASS; a `:` in either is written %3A): so
 * `h1:4222,h2:4222,chat:pw@h3:4222` is three URLs, not the user `h1` with
 * the password `4222,h2:4222,chat:pw`.
 */
export function splitNatsUrls(
  value: string,
): { urls: string[]; ambiguous: boolean } {
  const parts = value.split(",");
  const urls: string[] = [];
  let ambiguous = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const at = part.includes("@")
      ? -1
      : parts.findIndex((later, j) => j > i && later.includes("@"));
    const through = at < 0 ? [] : parts.slice(i + 1, at + 1);
    if (at >= 0 && !through.some(beginsNatsUrl)) {
      const apart = parts.slice(i, at).every((one) =>
        one.trim() === "" || readsAsNatsUrl(one)
      );
      const joined = parts.slice(i, at + 1).join(",").trim();
      const together = readsAsNatsUrl(joined) &&
        !/:.*:/s.test(userInfo(joined));
      if (!apart || together) {
        if (apart) ambiguous = true;
        urls.push(joined);
        i = at;
        continue;
      }
    }
    if (part.trim() !== "") urls.push(part.trim());
  }
  return { urls, ambiguous };
}

/**
 * Whether `part` (of a `--cluster` value cut at its commas) begins a
 * further URL: `nats://` is the only scheme taken, so a part like
 * `ss://x@h` is the rest of a password (`nats://chat:pa,ss://x@h`).
 */
function beginsNatsUrl(part: string): boolean {
  return /^\s*nats:\/\//i.test(part);
}

/**
 * What an error may print of `urls[i]` (splitNatsUrls' URLs): its
 * credentials hidden (hideNatsCredentials), and with them what looks like
 * a scheme but is not `nats://` (`Q7://@h`: the rest of a password cut at
 * a comma); and `***` alone for one without an `@` that is not a NATS URL
 * (or has a `/` `?` or `#` after its port) and comes before one with an
 * `@`: it may be the start of a password cut
 * at a comma (`nats://chat:pa,nats://x@h` is two URLs only as read).
 */
export function shownNatsUrl(urls: readonly string[], i: number): string {
  const url = urls[i] ?? "";
  if (url.includes("@")) {
    return beginsNatsUrl(url) || !url.includes("://")
      ? hideNatsCredentials(url)
      : `***${url.slice(url.lastIndexOf("@"))}`;
  }
  const before = urls.slice(i + 1).some((later) => later.includes("@"));
  return before && !(readsAsNatsUrl(url) && endsAtPort(url)) ? "***" : url;
}

/**
 * Whether `url` (one that reads as a NATS URL) has nothing after its host
 * and port: a `/` `?` or `#` there is a piece of a password cut at a comma
 * (`nats://chat:/pw,nats://@h`), which natsServers refuses.
 */
function endsAtPort(url: string): boolean {
  const parsed = new URL(url.includes("://") ? url : `nats://${url}`);
  return parsed.search === "" && parsed.hash === "" &&
    /^\/?$/.test(parsed.pathname);
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
 * credential, for a `%` that is not percent-encoding, for a `?` `#` or `/`
 * after the host (a password or token holding one, typed as is), and for
 * `USER:@` or `:PASS@` (one half of a user and password missing: a token
 * is `TOKEN@`).
 */
export function natsServers(
  urls: readonly string[],
): { servers: string[]; auth: NatsAuth } {
  const servers: string[] = [];
  let auth: NatsAuth = {};
  let given: string | null = null;
  for (const [i, one] of urls.entries()) {
    const url = new URL(one.includes("://") ? one : `nats://${one}`);
    const shown = shownNatsUrl(urls, i);
    const user = decoded(url.username);
    const pass = decoded(url.password);
    if (user === null || pass === null) {
      throw new Error(
        `The credentials in the NATS URL ${shown} have a % that is not percent-encoding: write % as %25 (and @ : / as %40 %3A %2F)`,
      );
    }
    // A NATS URL has nothing after its port: a ? # or / there is in a
    // password or token typed as is (nats://tok#en@h reads as host tok,
    // the rest a fragment), and the URL dialed would carry it into errors.
    if (url.search !== "" || url.hash !== "" || !/^\/?$/.test(url.pathname)) {
      throw new Error(
        `The NATS URL ${shown} has a ? # or / after its host: write ? # / in a user, password or token as %3F %23 %2F`,
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
