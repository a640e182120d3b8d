/**
 * A stand-in for `chat serve` that serves the web page (its files taken
 * from a real server) and does to each WebSocket the page opens what the
 * test says, on the raw socket: what a real server could do that the test
 * cannot make the real one do when it wants (a newer server's hello, a
 * connection cut in its handshake). The page and its WebSocket come from
 * one origin, with no proxy and no request interception in between.
 */

import { createHash } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { WAIT_MS } from "./patience.ts";

/** A file of the page, as the real server served it. */
export interface PageFile {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** RFC 6455 1.3: what the server's Sec-WebSocket-Accept is made from. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * What the stand-in does with the `n`th WebSocket (0 first), once it has
 * answered its upgrade with a 101: writes frames (serverTextFrame), ends it.
 */
export type OnWebSocket = (socket: Socket, n: number) => void;

export interface PageStandIn extends AsyncDisposable {
  /** The page's address: http://127.0.0.1:PORT/ */
  readonly url: string;
  /** WebSockets opened so far. */
  readonly upgrades: number;
  /** Resolves once `n` WebSockets have been opened; rejects after WAIT_MS. */
  opened(n: number): Promise<void>;
}

/**
 * The page's files as the server at `url` (http://...) serves them, by path
 * ("" for the page itself).
 */
export async function pageFiles(url: string): Promise<Map<string, PageFile>> {
  const files = new Map<string, PageFile>();
  for (const path of ["", "style.css", "app.js", "favicon.svg"]) {
    const response = await fetch(url + path);
    if (response.status !== 200) {
      throw new Error(`${url}${path} answered ${response.status}`);
    }
    files.set(path, {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: new Uint8Array(await response.arrayBuffer()),
    });
  }
  return files;
}

/** One unmasked, unfragmented text frame, as a server sends it. */
export function serverTextFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  if (payload.length > 0xffff) {
    throw new Error("frame too long for this helper");
  }
  const header = payload.length < 126
    ? [0x81, payload.length]
    : [0x81, 126, payload.length >> 8, payload.length & 0xff];
  return new Uint8Array([...header, ...payload]);
}

/**
 * Starts a stand-in on a free loopback port serving the page of the real
 * server at `realUrl`; each WebSocket upgrade is answered 101 and handed
 * to `onWebSocket`.
 */
export async function startPageStandIn(
  realUrl: string,
  onWebSocket: OnWebSocket,
): Promise<PageStandIn> {
  const files = await pageFiles(realUrl);
  const sockets = new Set<Socket>();
  let upgrades = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((request, response) => {
    const file = files.get((request.url ?? "/").slice(1));
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(file.status, file.headers).end(file.body);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (request: IncomingMessage, socket: Socket) => {
    const key = request.headers["sec-websocket-key"] ?? "";
    const accept = createHash("sha1").update(key + WEBSOCKET_GUID).digest(
      "base64",
    );
    socket.on("error", () => {});
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const n = upgrades++;
    onWebSocket(socket, n);
    for (const waiter of waiters.filter((w) => w.n <= upgrades)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const listening = Promise.withResolvers<void>();
  server.listen(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    get upgrades() {
      return upgrades;
    },
    opened(n: number): Promise<void> {
      if (upgrades >= n) return Promise.resolve();
      const waiter = Promise.withResolvers<void>();
      const timer = setTimeout(
        () => waiter.reject(new Error(`${upgrades} WebSockets, not ${n}`)),
        WAIT_MS,
      );
      waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          waiter.resolve();
        },
      });
      return waiter.promise;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      const closed = Promise.withResolvers<void>();
      server.close(() => closed.resolve());
      server.closeAllConnections();
      await closed.promise;
    },
  };
}
