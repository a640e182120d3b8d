/**
 * A TCP proxy in front of a server that can hold the server-to-client
 * direction at a byte count (so a transfer stops at a known point without
 * timing anything), cut every connection (a dropped network), and count
 * what it forwarded to clients.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";

export class HoldingProxy {
  readonly port: number;
  /** Bytes forwarded from the server to clients, all connections. */
  downBytes = 0;
  /** Bytes from the server waiting, held, for {@link release}. */
  heldBytes = 0;
  /** Bytes forwarded from clients to the server, all connections. */
  upBytes = 0;
  #holdAfterUp: number | null = null;
  #holding = Promise.withResolvers<void>();
  #listener: LinkListener;
  #conns = new Set<Deno.Conn>();
  #holdAt: number | null = null;
  #released = Promise.withResolvers<void>();

  constructor(targetPort: number) {
    this.#listener = listenForLinks(
      targetPort,
      (client, server) => this.#link(client, server),
    );
    this.port = this.#listener.port;
  }

  /** Stops forwarding to clients once `downBytes` reaches `bytes`. */
  holdAt(bytes: number): void {
    this.#holdAt = bytes;
  }

  /**
   * Stops forwarding to clients (everything from then on) once `upBytes`
   * reaches `bytes`, before those bytes go to the server: what the server
   * answers to them is held. Once.
   */
  holdAfterUp(bytes: number): void {
    this.#holdAfterUp = bytes;
  }

  /** Resolves once something from the server is held. */
  holding(): Promise<void> {
    return this.heldBytes > 0 ? Promise.resolve() : this.#holding.promise;
  }

  /** Forwards again whatever was held. */
  release(): void {
    this.#holding = Promise.withResolvers<void>();
    this.#holdAt = null;
    this.#released.resolve();
    this.#released = Promise.withResolvers<void>();
  }

  /** Closes every connection, both sides, and stops holding. */
  cutAll(): void {
    this.release();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
  }

  async close(): Promise<void> {
    await this.#listener.close();
    this.cutAll();
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
    Promise.all([
      this.#pipe(client, server, false),
      this.#pipe(server, client, true),
    ]).finally(done);
  }

  async #pipe(from: Deno.Conn, to: Deno.Conn, down: boolean): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        let chunk = buffer.subarray(0, read);
        if (!down) {
          this.upBytes += read;
          if (
            this.#holdAfterUp !== null && this.upBytes >= this.#holdAfterUp
          ) {
            this.#holdAfterUp = null;
            this.#holdAt = this.downBytes;
          }
        }
        while (chunk.length > 0) {
          let allowed = chunk.length;
          if (down && this.#holdAt !== null) {
            allowed = Math.min(allowed, this.#holdAt - this.downBytes);
            if (allowed <= 0) {
              this.heldBytes += chunk.length;
              this.#holding.resolve();
              await this.#released.promise;
              this.heldBytes -= chunk.length;
              if (!this.#conns.has(to)) return;
              continue;
            }
          }
          const part = chunk.subarray(0, allowed);
          await writeAll(to, part);
          if (down) this.downBytes += part.length;
          chunk = chunk.subarray(allowed);
        }
      }
    } catch {
      // A side closed: the other is closed by the caller.
    } finally {
      // Already closed, maybe.
      await to.closeWrite().catch(() => {});
    }
  }
}
