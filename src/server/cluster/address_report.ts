// This module is browser compatible.

/**
 * What a node of a cluster tells the others, every second, about the
 * addresses (address groups, address_group.ts) it serves (issue 19): how
 * many connections each holds there now, and how many handshake and
 * message tokens (an `ack` its weight) each took of its per-address limits
 * since the last report. The
 * other nodes count the connections with their own and charge the tokens to
 * their own buckets, so that an address's limits hold across the cluster,
 * a report's interval late at most (address_shares.ts).
 *
 * Bytes (subject `chat.limits.<node id>`): UTF-8 JSON
 * `{"v":1,"node":"<id>","a":[["<group>",connections,handshakes,messages],...]}`,
 * an entry with a fifth count, new names, when it took any (a node that
 * knows only four reads none of an entry with five: it refuses the report,
 * as it would any it cannot read, and the limits hold per node meanwhile).
 * What the accounts of an address took of their hourly budgets
 * (account_budgets.ts) goes in `"b"`, left out when none took any:
 * `[["<group>",created,joined,[["<owner name key>",prekeys],...]],...]`,
 * each group's also in `"a"`, at most 4096 owners in all (a node that
 * knows no `"b"` reads past it, and counts those budgets alone). The
 * sign-ins an address made go in `"s"`, left out when none did:
 * `[["<group>",signIns],...]`, each group's also in `"a"` (a node that
 * knows no `"s"` reads past it, and counts sign-ins alone).
 * Nodes trust one another, but a decoder still checks every field.
 */

import { isValidName, nameKey } from "../../protocol/limits.ts";
import {
  type AddressCounts,
  type AddressReport,
  type BudgetCounts,
  MAX_REPORTED_ADDRESSES,
  MAX_REPORTED_OWNERS,
} from "../address_shares.ts";
import { NODE_ID_PATTERN } from "./subjects.ts";

/** Longer than any address group (an IPv6 address with a zone). */
const MAX_GROUP_LENGTH = 128;

const MAX_COUNT = 1_000_000_000;

const VERSION = 1;

/**
 * The report's bytes. An address group that is not printable ASCII of at
 * most 128 characters (an edge's address that did not parse) is left out,
 * as a decoder would refuse the whole report for it.
 */
export function encodeAddressReport(report: AddressReport): Uint8Array {
  const addresses = report.addresses.filter(({ group }) => isReportable(group));
  const budgets = addresses.flatMap(({ group, budgets }) =>
    budgets === undefined
      ? []
      : [[group, budgets.created, budgets.joined, budgets.prekeys]]
  );
  const signIns = addresses.flatMap(({ group, signIns }) =>
    (signIns ?? 0) > 0 ? [[group, signIns]] : []
  );
  return new TextEncoder().encode(JSON.stringify({
    v: VERSION,
    node: report.node,
    a: addresses.map((
      { group, connections, handshakes, messages, newNames },
    ) =>
      (newNames ?? 0) > 0
        ? [group, connections, handshakes, messages, newNames]
        : [group, connections, handshakes, messages]
    ),
    ...(budgets.length > 0 ? { b: budgets } : {}),
    ...(signIns.length > 0 ? { s: signIns } : {}),
  }));
}

/** The report in `bytes`; throws a TypeError saying what is wrong. */
export function decodeAddressReport(bytes: Uint8Array): AddressReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes),
    );
  } catch {
    throw new TypeError("Address report is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new TypeError("Address report is not an object");
  }
  const { v, node, a, b, s } = parsed as Record<string, unknown>;
  if (v !== VERSION) {
    // Quoted in the log: only a number of ours, never a node's megabyte.
    throw new TypeError(
      typeof v === "number" && Number.isSafeInteger(v)
        ? `Address report version ${v}`
        : "Address report has no version number",
    );
  }
  if (typeof node !== "string" || !NODE_ID_PATTERN.test(node)) {
    throw new TypeError("Address report has a bad node id");
  }
  if (!Array.isArray(a) || a.length > MAX_REPORTED_ADDRESSES) {
    throw new TypeError("Address report has a bad address list");
  }
  const addresses = a.map((entry): AddressCounts => {
    if (!Array.isArray(entry) || (entry.length !== 4 && entry.length !== 5)) {
      throw new TypeError("Address report has a bad entry");
    }
    const [group, connections, handshakes, messages, newNames = 0] =
      entry as unknown[];
    if (typeof group !== "string" || !isReportable(group)) {
      throw new TypeError("Address report has a bad address");
    }
    for (const count of [connections, handshakes, messages, newNames]) {
      checkCount(count);
    }
    return {
      group,
      connections: connections as number,
      handshakes: handshakes as number,
      messages: messages as number,
      ...(entry.length === 5 ? { newNames: newNames as number } : {}),
    };
  });
  const signIns = s === undefined ? null : decodeSignIns(s);
  if (b === undefined) {
    return { node, addresses: withSignIns(addresses, signIns) };
  }
  const budgets = decodeBudgets(b);
  return {
    node,
    addresses: withSignIns(
      addresses.map((one) => {
        const took = budgets.get(one.group);
        budgets.delete(one.group);
        return took === undefined ? one : { ...one, budgets: took };
      }).concat([...budgets].map(([group, took]) => ({
        group,
        connections: 0,
        handshakes: 0,
        messages: 0,
        budgets: took,
      }))),
      signIns,
    ),
  };
}

/** The sign-ins of `"s"`, by address group; throws as decodeAddressReport. */
function decodeSignIns(s: unknown): Map<string, number> {
  if (!Array.isArray(s) || s.length > MAX_REPORTED_ADDRESSES) {
    throw new TypeError("Address report has a bad sign-in list");
  }
  const signIns = new Map<string, number>();
  for (const entry of s as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new TypeError("Address report has a bad sign-in entry");
    }
    const [group, count] = entry as unknown[];
    if (
      typeof group !== "string" || !isReportable(group) || signIns.has(group)
    ) {
      throw new TypeError("Address report has a bad sign-in address");
    }
    checkCount(count);
    signIns.set(group, count as number);
  }
  return signIns;
}

/**
 * `addresses` with the sign-ins of `"s"` (null: none) on their groups'
 * entries; a group only in `"s"` gets an entry of its own.
 */
function withSignIns(
  addresses: AddressCounts[],
  signIns: Map<string, number> | null,
): AddressCounts[] {
  if (signIns === null) return addresses;
  const left = new Map(signIns);
  const merged = addresses.map((one) => {
    const count = left.get(one.group);
    left.delete(one.group);
    return count === undefined ? one : { ...one, signIns: count };
  });
  return merged.concat([...left].map(([group, count]) => ({
    group,
    connections: 0,
    handshakes: 0,
    messages: 0,
    signIns: count,
  })));
}

/** The budgets of `"b"`, by address group; throws as decodeAddressReport. */
function decodeBudgets(b: unknown): Map<string, BudgetCounts> {
  if (!Array.isArray(b) || b.length > MAX_REPORTED_ADDRESSES) {
    throw new TypeError("Address report has a bad budget list");
  }
  const budgets = new Map<string, BudgetCounts>();
  let owners = 0;
  for (const entry of b as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 4) {
      throw new TypeError("Address report has a bad budget entry");
    }
    const [group, created, joined, prekeys] = entry as unknown[];
    if (
      typeof group !== "string" || !isReportable(group) || budgets.has(group)
    ) {
      throw new TypeError("Address report has a bad budget address");
    }
    checkCount(created);
    checkCount(joined);
    if (
      !Array.isArray(prekeys) ||
      (owners += prekeys.length) > MAX_REPORTED_OWNERS
    ) {
      throw new TypeError("Address report has a bad prekey list");
    }
    budgets.set(group, {
      created: created as number,
      joined: joined as number,
      prekeys: (prekeys as unknown[]).map((one) => {
        if (!Array.isArray(one) || one.length !== 2) {
          throw new TypeError("Address report has a bad prekey count");
        }
        const [owner, taken] = one as unknown[];
        if (
          typeof owner !== "string" || !isValidName(owner) ||
          nameKey(owner) !== owner
        ) {
          throw new TypeError("Address report has a bad prekey owner");
        }
        checkCount(taken);
        return [owner, taken as number] as const;
      }),
    });
  }
  return budgets;
}

function checkCount(count: unknown): void {
  if (
    typeof count !== "number" || !Number.isSafeInteger(count) ||
    count < 0 || count > MAX_COUNT
  ) {
    throw new TypeError("Address report has a bad count");
  }
}

function isReportable(group: string): boolean {
  return group.length > 0 && group.length <= MAX_GROUP_LENGTH &&
    /^[!-~]+$/.test(group);
}
