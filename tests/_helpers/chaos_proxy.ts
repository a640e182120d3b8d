/**
 * A TCP proxy in front of a server for the chaos tests: it can cut every
 * connection through it (a dropped network), or stall them (nothing passes
 * either way for a while, then everything held passes in order: a network
 * that hangs and comes back). The server's port may go away and come back
 * (a restarted server): a client that comes meanwhile is closed.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";

export class ChaosProxy {
  readonly port: number;
  readonly #listener: LinkListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #links = new Set<Promise<unknown>>();
  /** Resolved when a stall ends; null while none. */
  #stall: PromiseWithResolvers<void> | null = null;

  constructor(targetPort: number) {
    this.#listener = listenForLinks(
      targetPort,
      (client, server) => this.#link(client, server),
    );
    this.port = this.#listener.port;
  }

  /** Closes every connection through it, both sides. */
  cut(): void {
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
  }

  /** Holds every byte in both directions until `resume`. */
  stall(): void {
    this.#stall ??= Promise.withResolvers<void>();
  }

  resume(): void {
    this.#stall?.resolve();
    this.#stall = null;
  }

  async close(): Promise<void> {
    this.resume();
    await this.#listener.close();
    this.cut();
    await Promise.allSettled([...this.#links]);
  }

  #link(client: Deno.Conn, server: Deno.Conn): void {
    this.#conns.add(client).add(server);
    // Either side gone ends the link: a server killed takes its clients'
    // connections with it.
    const end = () => {
      for (const conn of [client, server]) {
        if (!this.#conns.delete(conn)) continue;
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    };
    const linked = Promise.all([
      this.#pipe(client, server).finally(end),
      this.#pipe(server, client).finally(end),
    ]);
    this.#links.add(linked);
    void linked.finally(() => this.#links.delete(linked));
  }

  async #pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        // Held while stalled: read but not passed on (the sender's writes
        // go on until the kernel's buffers fill, as on a hung network).
        if (this.#stall !== null) await this.#stall.promise;
        await writeAll(to, buffer.subarray(0, read));
      }
    } catch {
      // A side closed: both are closed by the link.
    }
  }
}
