/**
 * This machine's host name, for the names browsers may reach the server by
 * (allowed_host.ts machineNames): the I/O edge, needing
 * `--allow-sys=hostname`.
 */

/**
 * The host name (`Deno.hostname()`), or null when it cannot be read (no
 * permission): the server then answers browsers by address, `localhost` and
 * `--allowed-host` names only, rather than failing the start.
 */
export function machineHostName(): string | null {
  try {
    // Never a permission prompt at start-up: without the grant, no name.
    const sys = { name: "sys", kind: "hostname" } as const;
    if (Deno.permissions.querySync(sys).state !== "granted") return null;
    return Deno.hostname();
  } catch {
    return null;
  }
}
