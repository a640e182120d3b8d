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
 * peer's. The two loopback sockets live and die with the front one.
 */
export async function startTlsBridge(
  credentials: { cert: string; key: string },
  secure: (inner: Socket, front: Socket) => void,
): Promise<TlsBridge> {
  /** The loopback port of each bridge's client socket -> its front. */
  const waiting = new Map<number, Socket>();
  const inners = new Set<Socket>();
  const tlsServer = createTlsServer(
    { cert: credentials.cert, key: credentials.key },
    (inner: Socket) => {
      const front = waiting.get(inner.remotePort ?? -1);
      // Not one of ours (someone else on this machine found the port).
      if (front === undefined || front.destroyed) return inner.destroy();
      waiting.delete(inner.remotePort!);
      inners.add(inner);
      // Its TLS connection's end reaches the front through the bridge.
      inner.once("close", () => inners.delete(inner));
      front.once("close", () => inner.destroy());
      secure(inner, front);
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
        waiting.set(pipe.localPort!, front);
        front.pipe(pipe);
        pipe.pipe(front);
        front.resume();
      });
      pipe.once("close", () => {
        if (pipe.localPort !== undefined) waiting.delete(pipe.localPort);
        // What the bridge still has for the peer (the TLS close_notify
        // last) is written first.
        front.destroySoon();
      });
      front.once("close", () => pipe.destroy());
    },
    close() {
      for (const inner of inners) inner.destroy();
      return new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    },
  };
}
