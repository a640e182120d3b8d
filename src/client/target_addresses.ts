// This module is browser compatible.

/**
 * A host name that resolves to several addresses names several nodes of
 * one chat (issue 19): `chat connect chat.example` then knows each address,
 * and moves to another when its node goes away, as with addresses given
 * one by one. The lookup itself is passed in (Deno.resolveDns in main.ts),
 * so that this stays pure.
 */

/** The A or AAAA records of a name; throws when it has none or no answer. */
export type Resolve = (
  name: string,
  type: "A" | "AAAA",
) => Promise<string[]>;

/**
 * `urls` (from parseTargets) with each plain `ws://` host name that has
 * two or more addresses replaced by one URL per address, in the resolver's
 * order, IPv4 first. A name with one address, or none the resolver knows
 * (`localhost`, a name in /etc/hosts only), is left for the system to
 * look up when connecting; a `wss://` name too, since its certificate is
 * checked against the name.
 */
export async function expandNames(
  urls: readonly string[],
  resolve: Resolve,
): Promise<string[]> {
  const out: string[] = [];
  for (const url of urls) {
    for (const one of await expandName(url, resolve)) {
      if (!out.includes(one)) out.push(one);
    }
  }
  return out;
}

async function expandName(url: string, resolve: Resolve): Promise<string[]> {
  const parsed = new URL(url);
  const host = parsed.hostname;
  if (
    parsed.protocol !== "ws:" || host.startsWith("[") ||
    /^[0-9.]+$/.test(host) || host === "localhost"
  ) {
    return [url];
  }
  const [v4, v6] = await Promise.all([
    resolve(host, "A").catch(() => []),
    resolve(host, "AAAA").catch(() => []),
  ]);
  const addresses = [...new Set([...v4, ...v6])];
  if (addresses.length < 2) return [url];
  return addresses.map((address) => {
    const copy = new URL(url);
    copy.hostname = address.includes(":") ? `[${address}]` : address;
    return copy.href.replace(/\/$/, "");
  });
}
