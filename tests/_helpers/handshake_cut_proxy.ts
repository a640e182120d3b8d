/**
 * A TCP proxy in front of a real server that cuts its first `cuts`
 * connections right after their WebSocket upgrade (the server's 101 passed
 * on, nothing after it): no Close frame, as the server cuts the oldest
 * connection still in its handshake of the address holding the most when
 * another address needs the room (ws_edge.ts, cutOff). The connections
 * after those go through untouched. With `how: "stall"` those first
 * connections are not cut but stalled: nothing the server sends after its
 * 101 is passed on, as a server too busy to answer a handshake within the
 * client's deadline, until the client gives up and closes. Only WebSocket
 * upgrades count (a 101 from the server): a page's files loaded through
 * the proxy pass untouched, whichever connection they take.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";
import { WAIT_MS } from "./patience.ts";

const HEAD_END = new TextEncoder().encode("\r\n\r\n");

export class HandshakeCutProxy implements AsyncDisposable {
  readonly port: number;
  /** Connections taken so far, cut or not. */
  links = 0;
  /** Connections cut after their upgrade so far. */
  cutCount = 0;
  /** WebSocket upgrades seen so far, cut or not. */
  #upgrades = 0;
  #cuts: number;
  readonly #stall: boolean;
  #listener: LinkListener;
  #conns = new Set<Deno.Conn>();
  #pipes = new Set<Promise<void>>();

  constructor(
    targetPort: number,
    cuts: number,
    how: "cut" | "stall" = "cut",
  ) {
    this.#cuts = cuts;
    this.#stall = how === "stall";
    this.#listener = listenForLinks(targetPort, (client, server) => {
      this.links++;
      this.#conns.add(client).add(server);
      const done = this.#cutFirstUpgrades(client, server).finally(() => {
        for (const conn of [client, server]) {
          this.#conns.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
      });
      this.#pipes.add(done);
      void done.finally(() => this.#pipes.delete(done));
    });
    this.port = this.#listener.port;
  }

  /** Cuts the next `n` connections too, after those taken so far. */
  cutNext(n: number): void {
    this.#cuts = this.links + n;
  }

  /** Resolves once `n` connections were cut; rejects after WAIT_MS. */
  async cut(n: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (this.cutCount < n) {
      if (Date.now() > deadline) {
        throw new Error(`${this.cutCount} of ${n} connections cut`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Passes the request and the server's response head on; one of the first
   * `cuts` upgrades is then cut (or stalled), anything else goes on
   * untouched.
   */
  async #cutFirstUpgrades(client: Deno.Conn, server: Deno.Conn): Promise<void> {
    const up = pipe(client, server);
    const buffer = new Uint8Array(64 * 1024);
    let head = new Uint8Array(0);
    try {
      for (;;) {
        const read = await server.read(buffer);
        if (read === null) return;
        const joined = new Uint8Array(head.length + read);
        joined.set(head);
        joined.set(buffer.subarray(0, read), head.length);
        head = joined;
        const end = indexOf(head, HEAD_END);
        if (end === -1) continue;
        const upgrade = new TextDecoder().decode(head.subarray(0, 12)) ===
          "HTTP/1.1 101";
        if (!upgrade || this.#upgrades++ >= this.#cuts) {
          await writeAll(client, head);
          await pipe(server, client);
          await up;
          return;
        }
        await writeAll(client, head.subarray(0, end + HEAD_END.length));
        this.cutCount++;
        // Stalled: held until the client closes its side.
        if (this.#stall) await up;
        return;
      }
    } catch {
      // A side closed first.
    } finally {
      // Closed already when the proxy was disposed of first.
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await up;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await Promise.all(this.#pipes);
  }
}

function indexOf(bytes: Uint8Array, part: Uint8Array): number {
  outer: for (let i = 0; i + part.length <= bytes.length; i++) {
    for (let j = 0; j < part.length; j++) {
      if (bytes[i + j] !== part[j]) continue outer;
    }
    return i;
  }
  return -1;
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
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
