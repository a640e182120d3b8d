/**
 * This machine's network addresses, for the start-up hint (connect_hint.ts):
 * the I/O edge, needing `--allow-sys=networkInterfaces` (and `--allow-read`
 * for the interface states on Linux).
 */

import type { InterfaceAddress } from "./connect_hint.ts";

/**
 * Addresses of the interfaces that are up; none when they cannot be read (no
 * permission): the hint then names no address rather than failing the start.
 */
export function upInterfaceAddresses(): InterfaceAddress[] {
  let all: Deno.NetworkInterfaceInfo[];
  try {
    // Never a permission prompt at start-up: without the grant, no addresses.
    const sys = { name: "sys", kind: "networkInterfaces" } as const;
    if (Deno.permissions.querySync(sys).state !== "granted") return [];
    all = Deno.networkInterfaces();
  } catch {
    return [];
  }
  return all
    .filter((info) => isUp(info.name))
    .map(({ family, address }) => ({ family, address }));
}

/**
 * Linux lists addresses of interfaces that are down too (a bridge with no
 * cable, a disabled adapter); their state is in sysfs. Elsewhere, and when
 * sysfs says nothing (an alias such as eth0:1), the address counts.
 */
function isUp(name: string): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    const state = Deno.readTextFileSync(`/sys/class/net/${name}/operstate`)
      .trim();
    return !["down", "lowerlayerdown", "notpresent"].includes(state);
  } catch {
    return true;
  }
}
