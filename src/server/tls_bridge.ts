/**
 * TLS on the port that also speaks plain HTTP (issue 18): the edge
 * (ws_edge.ts) tells a TLS connection by its first byte and hands it here.
 *
 * @module
 */

import { type AddressInfo, connect as connectTcp, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** The first byte of a TLS record carrying a handshake (a ClientHello). */
export const TLS_HANDSHAKE = 0x16;

/**
 * What the front socket of one TLS connection has handed to the kernel: the
 * bytes its peer has taken. The bytes between the TLS layer and the front
 * (the loopback pair's kernel buffers, megabytes for a peer that reads
 * nothing, and what node holds in between) are seen nowhere else: the TLS
 * layer calls a write done once it is in the loopback socket, so that is no
 * sign that the reader took anything (queue_stall.ts).
 */
export class FrontWrites {
  #listener: ((bytes: number) => void) | null = null;

  /** `listener` is told the bytes of each write the front does from now on. */
  listen(listener: (bytes: number) => void): void {
    this.#listener = listener;
  }

  /** `bytes` of TLS records left through the front socket. */
  written(bytes: number): void {
    this.#listener?.(bytes);
  }
}

export interface TlsBridge {
  /** Carries `front`'s bytes (a TLS client's) to the TLS listener. */
  bridge(front: Socket): void;
  close(): Promise<void>;
}

/**
 * TLS on the port that also speaks plain HTTP. Deno's `node:tls` cannot
 * take a server-side TLS socket over a socket already accepted (its
 * `TLSSocket` wraps client sockets only; its server is `Deno.listenTls`), so
 * a connection that starts with a TLS record is piped, bytes unchanged, to a
 * TLS listener on a loopback port of its own; what that listener decrypts
 * is handed to `secure` with the TCP socket in front, whose address is the
 * peer's. The two loopback sockets live and die with the front one, which
 * outlives them by `lingerMs` at most.
 */
export async function startTlsBridge(
  credentials: { cert: string; key: string },
  secure: (inner: Socket, front: Socket, writes: FrontWrites) => void,
  lingerMs: number,
): Promise<TlsBridge> {
  /** The loopback port of each bridge's client socket -> its front. */
  const waiting = new Map<number, { front: Socket; writes: FrontWrites }>();
  const inners = new Set<Socket>();
  const tlsServer = createTlsServer(
    { cert: credentials.cert, key: credentials.key },
    (inner: Socket) => {
      const bridged = waiting.get(inner.remotePort ?? -1);
      // Not one of ours (someone else on this machine found the port).
      if (bridged === undefined || bridged.front.destroyed) {
        return inner.destroy();
      }
      waiting.delete(inner.remotePort!);
      const { front, writes } = bridged;
      inners.add(inner);
      // Its TLS connection's end reaches the front through the bridge,
      // unless the bridge waits for the front to write (toFront): a peer
      // that reads nothing leaves the bridge paused, never to see its end.
      inner.once("close", () => {
        inners.delete(inner);
        lingerThenDestroy(front, lingerMs);
      });
      front.once("close", () => inner.destroy());
      secure(inner, front, writes);
    },
  );
  await new Promise<void>((resolve) =>
    tlsServer.listen(0, "127.0.0.1", resolve)
  );
  const port = (tlsServer.address() as AddressInfo).port;
  return {
    bridge(front) {
      const pipe = connectTcp({ port, host: "127.0.0.1", noDelay: true });
      pipe.on("error", () => {});
      pipe.once("connect", () => {
        if (front.destroyed) return pipe.destroy();
        const writes = new FrontWrites();
        waiting.set(pipe.localPort!, { front, writes });
        front.pipe(pipe);
        toFront(pipe, front, writes);
        front.resume();
      });
      pipe.once("close", () => {
        if (pipe.localPort !== undefined) waiting.delete(pipe.localPort);
        // What the bridge still has for the peer (the TLS close_notify
        // last) is written first, for `lingerMs` at most.
        front.destroySoon();
        lingerThenDestroy(front, lingerMs);
      });
      front.once("close", () => pipe.destroy());
    },
    close() {
      for (const inner of inners) inner.destroy();
      return new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    },
  };
}

/**
 * `pipe`'s bytes (the TLS records) written to `front`, each write told to
 * `writes` once done, as `pipe.pipe(front)` would write them otherwise:
 * `pipe` is not read while `front` holds its high-water mark (16 KiB), so
 * what node holds here stays that and one read; the rest waits in the
 * loopback's kernel buffers and then in the TLS layer.
 */
function toFront(pipe: Socket, front: Socket, writes: FrontWrites): void {
  pipe.on("data", (chunk: Buffer) => {
    const bytes = chunk.byteLength;
    const more = front.write(chunk, (error) => {
      if (!error) writes.written(bytes);
    });
    if (!more) pipe.pause();
  });
  front.on("drain", () => pipe.resume());
  pipe.once("end", () => front.end());
}

/**
 * `front` destroyed in `lingerMs` unless it closed by then: what it still
 * has to write goes meanwhile, but a peer that reads nothing would keep it
 * (one of its address's sockets) and what waits in it for ever.
 */
function lingerThenDestroy(front: Socket, lingerMs: number): void {
  if (front.destroyed) return;
  const linger = setTimeout(() => front.destroy(), lingerMs);
  front.once("close", () => clearTimeout(linger));
}
