/**
 * A TCP proxy in front of a server that cuts its clients off and refuses
 * new ones while down (a dropped network that stays dropped), so what
 * happens meanwhile cannot reach them live.
 */

import { type LinkListener, listenForLinks, writeAll } from "./proxy_links.ts";

export class GateProxy {
  /** While true, a client that connects is closed at once. */
  down = false;
  readonly port: number;
  #listener: LinkListener;
  #conns = new Set<Deno.Conn>();

  constructor(targetPort: number) {
    this.#listener = listenForLinks(targetPort, (client, server) => {
      if (this.down) {
        client.close();
        server.close();
        return;
      }
      this.#conns.add(client).add(server);
      void Promise.all([pipe(client, server), pipe(server, client)]).finally(
        () => {
          for (const conn of [client, server]) {
            this.#conns.delete(conn);
            try {
              conn.close();
            } catch {
              // Already closed.
            }
          }
        },
      );
    });
    this.port = this.#listener.port;
  }

  /** Closes every link and refuses new ones until `down` is false again. */
  cut(): void {
    this.down = true;
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
    this.cut();
    await this.#listener.close();
  }
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
