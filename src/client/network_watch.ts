/**
 * Notices a change of network (a laptop joining another Wi-Fi, a cable
 * plugged in) while the client waits to reconnect, so it retries at once
 * instead of at the end of its back-off (issue 15). Deno has no event for it:
 * the addresses of the machine's interfaces are compared once a second.
 *
 * @module
 */

/** The part of `Deno.NetworkInterfaceInfo` that says where the machine is. */
export interface InterfaceAddress {
  name: string;
  address: string;
}

/** How often the addresses are compared while waiting. */
export const NETWORK_POLL_MS = 1000;

/**
 * What identifies the machine's place on the network: its non-loopback
 * addresses, by interface, in a stable order. Two equal signatures mean
 * nothing worth a retry changed.
 */
export function networkSignature(
  interfaces: readonly InterfaceAddress[],
): string {
  return interfaces
    .filter((i) => !isLoopback(i.address))
    .map((i) => `${i.name}=${i.address}`)
    .sort()
    .join(" ");
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.");
}

/**
 * Calls `onChange` each time the signature of `read()` differs from the one
 * before; returns a function that stops watching. `read` returning null (no
 * permission to look) means there is nothing to watch.
 */
export function watchNetwork(
  onChange: () => void,
  read: () => readonly InterfaceAddress[] | null = readInterfaces,
  intervalMs = NETWORK_POLL_MS,
): () => void {
  const first = read();
  if (first === null) return () => {};
  let last = networkSignature(first);
  const timer = setInterval(() => {
    const now = read();
    if (now === null) return;
    const signature = networkSignature(now);
    if (signature === last) return;
    last = signature;
    onChange();
  }, intervalMs);
  return () => clearInterval(timer);
}

/**
 * The machine's interfaces, or null when the process may not list them
 * (it is then not asked: a permission prompt in the middle of a reconnection
 * would be worse than a retry at the end of the back-off).
 */
function readInterfaces(): readonly InterfaceAddress[] | null {
  const permission = Deno.permissions.querySync({
    name: "sys",
    kind: "networkInterfaces",
  });
  if (permission.state !== "granted") return null;
  try {
    return Deno.networkInterfaces();
  } catch {
    return null;
  }
}
