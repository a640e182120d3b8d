/**
 * What the TCP proxies here (HoldingProxy, TamperingProxy) share: each
 * client that comes gets a connection of its own to the server, and bytes
 * go on whole.
 */

/** A loopback listener for a proxy's clients. */
export interface LinkListener {
  readonly port: number;
  /** Stops taking clients; resolves once the last one taken is linked. */
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port; connects each client that comes to
 * `targetPort` on loopback and hands the two to `link`. A client whose
 * server cannot be reached is closed.
 */
export function listenForLinks(
  targetPort: number,
  link: (client: Deno.Conn, server: Deno.Conn) => void,
): LinkListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        let server: Deno.Conn;
        try {
          server = await Deno.connect({
            hostname: "127.0.0.1",
            port: targetPort,
          });
        } catch {
          client.close();
          continue;
        }
        link(client, server);
      }
    } catch {
      // The listener was closed.
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => {
      listener.close();
      return accepting;
    },
  };
}

/** Writes all of `bytes` to `conn`, however many writes it takes. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}
