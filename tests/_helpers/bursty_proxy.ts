/**
 * A TCP proxy in front of a server whose server-to-client direction is a
 * link that delivers in bursts: what the server sent during `everyMs` is
 * written to the client at once, in one write (a congested or distant
 * link, where what was sent a moment apart arrives together). The
 * client-to-server direction goes straight through.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";

export class BurstyProxy {
  readonly port: number;
  readonly #everyMs: number;
  readonly #listener: LinkListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #links = new Set<Promise<unknown>>();

  constructor(targetPort: number, everyMs: number) {
    this.#everyMs = everyMs;
    this.#listener = listenForLinks(
      targetPort,
      (client, server) => this.#link(client, server),
    );
    this.port = this.#listener.port;
  }

  /** Stops taking clients and closes every connection, both sides. */
  async close(): Promise<void> {
    await this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
    await Promise.allSettled([...this.#links]);
  }

  #link(client: Deno.Conn, server: Deno.Conn): void {
    this.#conns.add(client);
    this.#conns.add(server);
    const done = () => {
      for (const conn of [client, server]) {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    };
    const linked = Promise.all([
      this.#straight(client, server),
      this.#bursts(server, client),
    ]).finally(done);
    this.#links.add(linked);
    linked.finally(() => this.#links.delete(linked));
  }

  async #straight(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        await writeAll(to, buffer.subarray(0, read));
      }
    } catch {
      // A side closed: the other is closed by the caller.
    } finally {
      await to.closeWrite().catch(() => {});
    }
  }

  /** Reads all the time; writes what came every `everyMs`, together. */
  async #bursts(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    let pending: Uint8Array[] = [];
    let ended = false;
    const reading = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const read = await from.read(buffer);
          if (read === null) break;
          pending.push(buffer.slice(0, read));
        }
      } catch {
        // A side closed.
      } finally {
        ended = true;
      }
    })();
    try {
      while (!ended || pending.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.#everyMs));
        if (pending.length === 0) continue;
        const burst = new Uint8Array(
          pending.reduce((sum, part) => sum + part.length, 0),
        );
        let at = 0;
        for (const part of pending) {
          burst.set(part, at);
          at += part.length;
        }
        pending = [];
        await writeAll(to, burst);
      }
    } catch {
      // A side closed.
    } finally {
      await reading;
      await to.closeWrite().catch(() => {});
    }
  }
}
