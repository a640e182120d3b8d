// This module is browser compatible.

/**
 * The key per-address limits count by. One person holds one IPv4 address,
 * but a whole IPv6 /64: grouping by the /64 stops one machine from passing
 * as millions of addresses. On a LAN, though, a /64 is everyone: link-local
 * peers (fe80::/10) and peers in one of the server's own /64s are told apart
 * by their full address (an on-link attacker can then pose as many; the
 * server-wide caps still hold, and what is kept or used up for good is
 * counted by the /64 even then: lastingGroup).
 */

/**
 * "1.2.3.4" -> "1.2.3.4"; "2001:db8:1:2:3:4:5:6" -> "2001:db8:1:2::/64";
 * "::ffff:1.2.3.4" (IPv4-mapped) -> "1.2.3.4"; "fe80::1%eth0" ->
 * "fe80:0:0:0:0:0:0:1%eth0" (link-local: the whole address and its zone).
 * With `local`, the server's address the peer connected to, a peer in the
 * same /64 also gets its whole address. Brackets are ignored. Anything that
 * is not an address is returned unchanged, so it still gets a group of its
 * own.
 */
export function addressGroup(address: string, local?: string): string {
  const parsed = parse(address);
  if (parsed === null) return address;
  if (typeof parsed === "string") return parsed;
  const { words, zone } = parsed;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const [hi, lo] = [words[6]!, words[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const hex = (from: number, to: number) =>
    words.slice(from, to).map((w) => w.toString(16)).join(":");
  if ((words[0]! & 0xffc0) === 0xfe80) return `${hex(0, 8)}${zone}`;
  const server = local === undefined ? null : parse(local);
  if (
    server !== null && typeof server !== "string" &&
    server.words.slice(0, 4).every((w, i) => w === words[i])
  ) {
    return hex(0, 8);
  }
  return `${hex(0, 4)}::/64`;
}

/**
 * The key what is kept or used up for good is counted by, for address
 * group `group` (what {@link addressGroup} gave): the group itself, except
 * that a peer told apart by its whole IPv6 address (link-local, or in the
 * server's own /64) is counted with its /64 (and zone). A student on the
 * LAN's /64 may take as many addresses there as they like (`ip -6 addr
 * add`): counted by whole address, each brought 30 new names, 10 groups
 * created, 60 joins and 4 of anyone's one-time keys at once. A class on
 * one IPv6 LAN then spends these as a class behind one IPv4 address does
 * (a burst, then a few a minute or an hour).
 *
 * Every per-address limit and the key it counts by:
 * - lastingGroup (what lasts, is gone for others, or is shown to
 *   everyone): new names and sign-ins (sign_in.ts: each sign-in is a line
 *   on every screen, and 20 addresses of one /64 signed in 800 times in 53
 *   s, 1599 lines), groups created and joined, one-time keys of one user
 *   and of everyone (account_budgets.ts applies it to all four).
 * - addressGroup (what only paces, and a class on one LAN needs each its
 *   own of): connections open and in their handshake, the handshake rate
 *   (ws_edge.ts, admission.ts), messages and `history` requests
 *   (message_rate.ts), comebacks (sign_in.ts: a known name back after a
 *   drop, bounded by its sessions), bytes queued for an address
 *   (group_backlog.ts). The server-wide caps bound what a peer
 *   posing as many addresses takes of these.
 *
 * "2001:db8:1:2:0:0:0:9" -> "2001:db8:1:2::/64"; "fe80:0:0:0:0:0:0:1%eth0"
 * -> "fe80:0:0:0::/64%eth0"; anything else unchanged (a key it gave too).
 */
export function lastingGroup(group: string): string {
  if (group.includes("/")) return group;
  const parsed = parse(group);
  if (parsed === null || typeof parsed === "string") return group;
  const prefix = parsed.words.slice(0, 4).map((w) => w.toString(16)).join(":");
  return `${prefix}::/64${parsed.zone}`;
}

/**
 * An IPv4 address as it is, an IPv6 address as words and zone ("" or
 * "%eth0"), or null if it is neither.
 */
function parse(
  address: string,
): string | { words: number[]; zone: string } | null {
  let host = address.startsWith("[") && address.endsWith("]")
    ? address.slice(1, -1)
    : address;
  const at = host.indexOf("%");
  const zone = at >= 0 ? host.slice(at) : "";
  if (at >= 0) host = host.slice(0, at);
  if (!host.includes(":")) return host;
  const words = ipv6Words(host);
  return words === null ? null : { words, zone };
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The eight 16-bit words of an IPv6 address, or null if it is not one. */
function ipv6Words(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string, last: boolean): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      const v4 = last && i === pieces.length - 1 ? IPV4.exec(piece) : null;
      if (v4 !== null) {
        const bytes = v4.slice(1).map(Number);
        if (bytes.some((b) => b > 255)) return null;
        out.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
      } else if (HEXTET.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = parse(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * Whether an address is the machine's own loopback: 127.0.0.0/8, ::1, or
 * an IPv4-mapped 127.x (brackets ignored).
 */
export function isLoopback(address: string): boolean {
  const parsed = parse(address);
  if (parsed === null) return false;
  if (typeof parsed === "string") return IPV4.exec(parsed)?.[1] === "127";
  const { words } = parsed;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return words[6]! >> 8 === 127;
  }
  return words.slice(0, 7).every((w) => w === 0) && words[7] === 1;
}

/**
 * An IP address as written alone, with no port, brackets or zone: IPv4 in
 * dotted decimal (no leading zeros, which some parsers read as octal), or
 * IPv6. Returned in one form per address, so that two spellings of it
 * compare equal: IPv4 as it is, an IPv4-mapped IPv6 address as its IPv4
 * address, IPv6 as its eight words in lower-case hex. Null for anything
 * else (a host name, "1.2.3.4:80", "[::1]").
 */
export function ipLiteral(text: string): string | null {
  const v4 = IPV4.exec(text);
  if (v4 !== null) {
    const bytes = v4.slice(1);
    const valid = bytes.every((b) =>
      Number(b) <= 255 && (b === "0" || !b.startsWith("0"))
    );
    return valid ? text : null;
  }
  if (!text.includes(":")) return null;
  const words = ipv6Words(text);
  if (words === null) return null;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const [hi, lo] = [words[6]!, words[7]!];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return words.map((w) => w.toString(16)).join(":");
}
