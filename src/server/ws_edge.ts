/**
 * The server's network edge: `node:http` and npm `ws` -> `Connection`.
 *
 * Why not `Deno.serve` + `Deno.upgradeWebSocket`: in Deno 2.9.6 they buffer
 * the fragments of one message without a total cap and cannot destroy a
 * socket (denoland/deno#15809), so one peer could grow the server's memory
 * without bound or hold a slot forever by never finishing a close. `ws` caps
 * a message across its fragments (`maxPayload`), can `terminate()` a socket,
 * and `node:http` bounds how long request headers may take. This file is the
 * only one that knows `ws` exists: once Deno caps fragments, `Deno.serve`
 * comes back here and nowhere else.
 */

// First: `ws` takes its (un)masking functions when it loads (ws_mask_hook.ts).
import "./ws_mask_hook.ts";
import { Buffer } from "node:buffer";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import {
  type AddressInfo,
  createServer as createTcpServer,
  type Socket,
} from "node:net";
// @ts-types="@types/ws"
import { type WebSocket, WebSocketServer } from "ws";
import { CLIENT_FRAMES } from "../crypto/handshake.ts";
import {
  CloseCode,
  type CloseInfo,
  type Connection,
  Inbox,
  type WireData,
} from "../transport/connection.ts";
import { SendBuffers } from "./send_buffers.ts";
import { DirectWrites } from "./direct_write.ts";
import { writeParts, wsSocket } from "./ws_parts.ts";
import { ReadRelease } from "./ws_read_release.ts";
import { paceReads } from "./paced_reads.ts";
import { addressGroup, isLoopback } from "./address_group.ts";
import {
  forwardedClient,
  forwardedProto,
  type TrustedProxies,
} from "./forwarded_for.ts";
import type { Admission } from "./admission.ts";
import type { QueueGauge } from "./backpressure.ts";
import { noWebAnswer, secureRedirect, webAnswer } from "./web_assets.ts";
import {
  type FrontWrites,
  startTlsBridge,
  TLS_HANDSHAKE,
} from "./tls_bridge.ts";
import { allowedOrigin } from "./websocket_origin.ts";
import { hostAllowed, hostRefusal } from "./allowed_host.ts";
import type { Launcher } from "./connect_hint.ts";

export interface EdgeOptions {
  hostname: string;
  port: number;
  /**
   * Serve the web client's page (default true; false: `chat serve
   * --no-web`, a 404).
   */
  web?: boolean;
  /**
   * Speak TLS too, on the same port (a connection whose first byte is a TLS
   * handshake record's), with this certificate and key in PEM: the page over
   * https:// and its WebSocket over wss:// (issue 18). Plain HTTP and ws://
   * are answered as before, but a request for the page over plain HTTP from
   * another machine is redirected to https://.
   */
  tls?: { cert: string; key: string };
  /**
   * Host names, besides IP addresses and `localhost`, that a browser's
   * request may name in its `Host` (allowed_host.ts); the rest are refused
   * with a 403 (DNS rebinding). Default: none.
   */
  allowedHosts?: readonly string[];
  /**
   * How the server was started, for the command the 403 tells the operator
   * to restart it with. Default: "executable".
   */
  launcher?: Launcher;
  /** Largest WebSocket message, all fragments together; past it: 1009. */
  maxPayloadBytes: number;
  /**
   * The same until the peer's last handshake message is read (after it, the
   * socket is read no further until `handshakeDone`): a peer that has proven
   * nothing may make the server hold no more.
   */
  maxHandshakePayloadBytes: number;
  /**
   * TCP connections whose handshake is not done, on the server and from one
   * address group; past either, new ones are refused (`accept` says how).
   * 0: no cap.
   */
  maxUnfinished: number;
  maxUnfinishedPerGroup: number;
  /** Most frames one message may come in; past it: 1008. */
  maxMessageFragments: number;
  /**
   * Most reads of the socket `ws` may keep while a frame is not whole,
   * before and after the peer's last handshake message; past it: 1008.
   */
  maxHandshakeFrameReads: number;
  maxFrameReads: number;
  /**
   * Reads under 512 bytes of an upgraded socket a second, and at once,
   * before it is not read for a while (paced_reads.ts); a rate of 0: no
   * pacing.
   */
  smallReadsPerSecond: number;
  smallReadBurst: number;
  /** After our Close (or the peer's), the socket is destroyed by then. */
  closeTimeoutMs: number;
  /**
   * HTTP request headers must have arrived by then, or the socket goes;
   * with `tls`, the first byte and the TLS handshake must also be done
   * within this (then the headers have as long again).
   */
  headersTimeoutMs: number;
  /** Silence before a ping; no pong in as long again closes. 0: never. */
  idleTimeoutSeconds: number;
  /** TCP connections beyond these are dropped unanswered (no room to reply). */
  maxSockets: number;
  maxSocketsPerGroup: number;
  /**
   * Asked when a TCP connection arrives, before any HTTP parsing: let it in,
   * refuse it (with a 503 saying why, once its request has arrived), or drop
   * it at once, unanswered (what costs least when one address floods).
   * `unfinished` says whether its address group or the server is already at
   * its cap of connections whose handshake is not done.
   */
  accept(group: string, address: string, unfinished: boolean): Admission;
  /**
   * Asked when a request for a WebSocket arrives on a socket let in: null
   * lets it in, a text refuses it with a 503 saying so. Counts include the
   * asking socket.
   * `address` ("ip:port") is for the log.
   */
  admit(group: string, address: string): string | null;
  /** A new WebSocket connection from the address group `group`. */
  onConnection(conn: EdgeConnection, group: string): void;
  /**
   * Reverse proxies (`chat serve --trusted-proxy`): a connection from one
   * of them is the client's its `X-Forwarded-For` names
   * (forwarded_for.ts), counted, limited and logged as that address's from
   * its upgrade on. Until then (a request for the page, say) it is the
   * proxy's, and not held to the proxy's address's limits: every client
   * comes from there. Its `X-Forwarded-Proto` says whether the client
   * reached the proxy over TLS (forwardedProto): what the Origin check
   * compares with and whether a page request is redirected go by that,
   * not by the hop from the proxy. Default: none.
   */
  trustedProxies?: TrustedProxies;
  /**
   * An upgrade the edge refused on its own (a trusted proxy's
   * `X-Forwarded-For` names no address, or its `X-Forwarded-Proto` no
   * scheme), for the log.
   */
  refused?(group: string, address: string, why: string): void;
  /**
   * Counts the bytes handed to sockets and not yet written, all connections
   * together; while it is held, no connection whose handshake is done is
   * read (backpressure.ts).
   */
  gauge?: QueueGauge;
  /**
   * Counts the bytes read from every connection and not yet done with: a
   * message from its arrival until its reader asks for the next one (or
   * the connection is gone). While it is held, no connection whose
   * handshake is done is read. Without it, each connection stops being
   * read only past its own inbox's mark, and a hundred flooding senders
   * had 200 MiB read and waiting at once (issue 21).
   */
  unread?: QueueGauge;
}

/** A `Connection` as the edge hands it over. */
export interface EdgeConnection extends Connection {
  /** Why this side cut the connection on its own (e.g. an oversized message). */
  readonly localCloseReason: string | null;
  /** The peer is on this machine (address_group.ts isLoopback). */
  readonly loopback: boolean;
  /**
   * The peer completed the handshake: its messages may now be as large as
   * maxPayloadBytes, and it no longer counts as unfinished.
   */
  handshakeDone(): void;
}

/** How the edge holds back a sender (only after its handshake). */
interface Pausable {
  pauseReading(): void;
  resumeReading(): void;
}

export interface Edge {
  readonly hostname: string;
  readonly port: number;
  /** TCP connections open now, upgraded or not, counted until really gone. */
  readonly socketCount: number;
  /** The same for one address group. */
  socketsFrom(group: string): number;
  /** Stops listening and destroys every socket still open. */
  close(): Promise<void>;
  readonly finished: Promise<void>;
}

const NOT_A_WEBSOCKET =
  "This is a chat server. Connect with: chat connect <host>\n";

const CROSS_ORIGIN =
  "Refused: only this chat server's own page may connect from a browser\n";

export async function startEdge(options: EdgeOptions): Promise<Edge> {
  // Checked once here, so that setReceiverLimits, which only raises, never
  // throws at a connection's handshake.
  if (
    options.maxPayloadBytes < options.maxHandshakePayloadBytes ||
    options.maxFrameReads < options.maxHandshakeFrameReads
  ) {
    throw new RangeError(
      "A session's limits (maxPayloadBytes, maxFrameReads) must be at least the handshake's",
    );
  }
  const sockets = new Set<Socket>();
  const perGroup = new Map<string, number>();
  /** Sockets let in whose handshake is not done, and their groups. */
  const unfinished = new Map<Socket, string>();
  /** A trusted proxy's sockets whose client is not known until the upgrade. */
  const clientUnknown = new WeakSet<Socket>();
  const unfinishedPerGroup = new Map<string, number>();
  const finish = (socket: Socket) => {
    const group = unfinished.get(socket);
    if (group === undefined) return;
    unfinished.delete(socket);
    count(unfinishedPerGroup, group, -1);
  };
  /**
   * The server is at its cap of unfinished connections (maxUnfinished) and
   * one arrives from `group`: the oldest unfinished connection of the group
   * holding the most is to go, if that group would still hold more than
   * `group` with the newcomer (null: none is). Refusing the newcomer instead
   * let 32 addresses of one classmate, 8 silent connections each (the
   * per-address cap), hold all 256 slots and lock everyone else out, for as
   * long as each reconnected within the handshake's 10 s. Now every address
   * keeps its share of the slots: a flood holds only what other addresses
   * do not ask for. Only chosen here: it goes (`cutOff`) once the newcomer
   * is let in, never for one dropped or refused (past its address's rate
   * of handshakes, say), which takes no slot and would otherwise cut one
   * off at every TCP connect.
   */
  const roomFor = (
    group: string,
    asking: Socket | null = null,
  ): Socket | null => {
    const counted = asking !== null && unfinished.has(asking) ? 1 : 0;
    if (!atCap(unfinished.size - counted, options.maxUnfinished)) return null;
    // Counted here (at most maxUnfinished, and only at the cap), without
    // the asking socket, nor a trusted proxy's whose client is not known
    // yet (its upgrade not read): they are no address's to give way, and
    // the proxy's own address would otherwise hold the most.
    const held = new Map<string, number>();
    for (const [socket, of] of unfinished) {
      if (socket === asking || clientUnknown.has(socket)) continue;
      held.set(of, (held.get(of) ?? 0) + 1);
    }
    const own = held.get(group) ?? 0;
    if (atCap(own, options.maxUnfinishedPerGroup)) return null;
    let largest: string | null = null;
    let most = own + 1;
    for (const [other, n] of held) {
      if (n > most) [largest, most] = [other, n];
    }
    if (largest === null) return null;
    for (const [socket, of] of unfinished) {
      if (of !== largest || socket === asking) continue;
      if (!clientUnknown.has(socket)) return socket;
    }
    return null;
  };
  /** Closes `socket`, chosen by `roomFor`, for a newcomer let in. */
  const cutOff = (socket: Socket) => {
    const group = unfinished.get(socket) ?? "";
    finish(socket);
    socket.destroy();
    options.refused?.(
      group,
      `${socket.remoteAddress}:${socket.remotePort}`,
      "cut off in its handshake: another address needed the room",
    );
  };
  const connections = new Set<WsConnection>();
  /**
   * The address group each TCP socket counts against: its peer's, or for a
   * trusted proxy's, from its upgrade on, its client's.
   */
  const groups = new WeakMap<Socket, string>();
  /** TCP sockets from a trusted proxy. */
  const fromProxies = new WeakSet<Socket>();
  /** Counts `socket` against `group` from now on, not the one before. */
  const regroup = (socket: Socket, group: string) => {
    const before = groups.get(socket);
    if (before === undefined || before === group) return;
    groups.set(socket, group);
    count(perGroup, before, -1);
    count(perGroup, group, 1);
    if (unfinished.has(socket)) {
      unfinished.set(socket, group);
      count(unfinishedPerGroup, before, -1);
      count(unfinishedPerGroup, group, 1);
    }
  };
  /** Sockets let in only to be told why they are refused. */
  const refused = new WeakMap<Socket, string>();
  const idleMs = options.idleTimeoutSeconds * 1000;
  /** Sockets that arrived over TLS (decrypted here) -> the TCP socket. */
  const fronts = new WeakMap<Socket, Socket>();
  /** Sockets that arrived over TLS -> what their TCP socket has written. */
  const frontWrites = new WeakMap<Socket, FrontWrites>();
  /** TCP sockets not yet handed to HTTP, and by when they must be. */
  const starting = new Map<Socket, number>();
  const allowedHosts = options.allowedHosts ?? [];
  const launcher = options.launcher ?? "executable";
  /**
   * Whether the request on `socket` came over TLS: its own hop, or for a
   * trusted proxy's, the client's hop to the proxy as its X-Forwarded-Proto
   * says (that header from anyone else is never read: a client could
   * otherwise make its plain hop count as TLS). A text: why it is refused.
   */
  const secureRequest = (
    request: IncomingMessage,
    socket: Socket,
  ): boolean | string => {
    const front = fronts.get(socket) ?? socket;
    const own = front !== socket;
    if (!fromProxies.has(front)) return own;
    const proto = forwardedProto(request.headers["x-forwarded-proto"]);
    switch (proto.kind) {
      case "none":
        return own;
      case "proto":
        return proto.secure;
      case "invalid":
        return proto.why;
      default: {
        const unreachable: never = proto;
        return unreachable;
      }
    }
  };

  /** HTTP answers made and not yet done (closed), by socket. */
  const unsentAnswers = new WeakMap<Socket, number>();
  const server = createServer({
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.headersTimeoutMs,
    // Node checks both timeouts at this interval (30 s by default).
    connectionsCheckingInterval: sweepInterval(options.headersTimeoutMs),
  }, (request, response) => {
    // HTTP/1.1 pipelining: requests sent without reading the answers are
    // each answered, and the answers wait in memory for a reader that never
    // comes: 8 connections sending 200 `GET /app.js` each (350 KB of
    // requests) grew the server by 142 MiB, and an address may hold 64. No
    // browser pipelines: a request read while answers before it are still
    // unsent is a flood, past a few, and its socket goes.
    const socket = request.socket as Socket;
    const unsent = (unsentAnswers.get(socket) ?? 0) + 1;
    if (unsent > MAX_UNSENT_ANSWERS) {
      const front = fronts.get(socket) ?? socket;
      options.refused?.(
        groups.get(front) ?? "",
        `${front.remoteAddress}:${front.remotePort}`,
        "it asked for more without reading the answers",
      );
      socket.destroy();
      response.destroy();
      dropParsed(socket);
      return;
    }
    unsentAnswers.set(socket, unsent);
    response.once("close", () => {
      unsentAnswers.set(socket, (unsentAnswers.get(socket) ?? 1) - 1);
    });
    // Every answer a browser can read is checked, not just the page's: a
    // page of a rebinding site reads what its own origin answers, and no
    // client of ours asks for anything here without a WebSocket.
    const host = request.headers.host;
    if (!hostAllowed(host, allowedHosts)) {
      return refuse(response, 403, hostRefusal(host, launcher));
    }
    const secure = secureRequest(request, request.socket as Socket);
    if (typeof secure === "string") {
      return refuse(response, 400, `Refused: ${secure}\n`);
    }
    // The web client's page (web_assets.ts); anything else is told to
    // upgrade, as before.
    const redirect = options.web !== false && options.tls !== undefined &&
        !secure
      ? secureRedirect(request.method, request.url, request.headers.host)
      : null;
    const web = redirect ?? (options.web !== false
      ? webAnswer(
        request.method,
        request.url,
        request.headers["if-none-match"],
      )
      : noWebAnswer(request.method, request.url, launcher));
    if (web !== null) {
      response.writeHead(web.status, web.headers);
      response.end(web.body);
      return;
    }
    refuse(response, 426, NOT_A_WEBSOCKET);
  });
  const wss = new WebSocketServer({
    noServer: true,
    // Raised per connection at its last handshake message
    // (WsConnection#lastHandshakeMessageRead).
    maxPayload: options.maxHandshakePayloadBytes,
    maxFragments: options.maxMessageFragments,
    // Raised with maxPayload.
    maxBufferedChunks: options.maxHandshakeFrameReads,
    clientTracking: false,
    perMessageDeflate: false,
  });

  // TCP connections are accepted here and only then handed to the HTTP
  // server: one dropped costs no HTTP parser.
  const listener = createTcpServer((socket: Socket) => {
    const group = addressGroup(socket.remoteAddress ?? "", socket.localAddress);
    groups.set(socket, group);
    // A proxy's connection is admitted as its client's at the upgrade.
    const proxied = options.trustedProxies?.has(socket.remoteAddress ?? "") ??
      false;
    if (proxied) {
      fromProxies.add(socket);
      clientUnknown.add(socket);
    }
    const room = proxied ? null : roomFor(group);
    const admission: Admission = sockets.size >= options.maxSockets ||
        (!proxied && (perGroup.get(group) ?? 0) >= options.maxSocketsPerGroup)
      ? { kind: "drop" }
      : proxied
      ? { kind: "in" }
      : options.accept(
        group,
        `${socket.remoteAddress}:${socket.remotePort}`,
        (atCap(unfinished.size, options.maxUnfinished) && room === null) ||
          atCap(
            unfinishedPerGroup.get(group) ?? 0,
            options.maxUnfinishedPerGroup,
          ),
      );
    if (admission.kind === "drop") {
      socket.destroy();
      return;
    }
    if (admission.kind === "in" && room !== null) cutOff(room);
    if (admission.kind === "refuse") refused.set(socket, admission.why);
    else {
      // Counted until its handshake is done (or it is gone); the refused
      // only wait for their answer.
      unfinished.set(socket, group);
      count(unfinishedPerGroup, group, 1);
    }
    // Small frames go out at once (node:http would set this on its own
    // listener; this one is ours).
    socket.setNoDelay(true);
    // A reset peer must not throw where no one listens (after the upgrade
    // handler answered it, say): the close that follows does the cleanup.
    socket.on("error", () => {});
    sockets.add(socket);
    count(perGroup, group, 1);
    socket.once("close", () => {
      sockets.delete(socket);
      count(perGroup, groups.get(socket) ?? group, -1);
      finish(socket);
      starting.delete(socket);
    });
    if (tls === null) return server.emit("connection", socket);
    // Plain HTTP or TLS: told by the first byte, which must come (and the
    // TLS handshake be done) by the deadline, as headers must.
    starting.set(socket, performance.now() + options.headersTimeoutMs);
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) return tls.bridge(socket);
      starting.delete(socket);
      server.emit("connection", socket);
      socket.resume();
    });
  });

  const tls = options.tls === undefined ? null : await startTlsBridge(
    options.tls,
    (inner, front, writes) => {
      // Handshake done: from now on the HTTP server's deadlines apply.
      starting.delete(front);
      fronts.set(inner, front);
      frontWrites.set(inner, writes);
      inner.setNoDelay(true);
      inner.on("error", () => {});
      server.emit("connection", inner);
    },
    // As long as a closing WebSocket waits for its peer (sweep).
    options.closeTimeoutMs,
  );

  server.on(
    "upgrade",
    (request: IncomingMessage, socket: Socket, head: Buffer) => {
      if (request.headers.upgrade?.toLowerCase() !== "websocket") {
        return void socket.end(refusal(426, NOT_A_WEBSOCKET));
      }
      // Over TLS, the peer is the one of the TCP socket in front.
      const front = fronts.get(socket) ?? socket;
      // A browser's upgrade (every browser sends an Origin with one) must
      // name a host of ours, or it may come from a rebinding site's page
      // (allowed_host.ts). An upgrade without an Origin is not a browser's:
      // DNS rebinding needs a browser to carry the page's requests into the
      // network, and a terminal client or script that asks by a DNS name
      // the operator never listed must keep working.
      if (
        request.headers.origin !== undefined &&
        !hostAllowed(request.headers.host, allowedHosts)
      ) {
        return void socket.end(
          refusal(403, hostRefusal(request.headers.host, launcher)),
        );
      }
      const secure = secureRequest(request, socket);
      if (typeof secure === "string") {
        options.refused?.(
          addressGroup(front.remoteAddress ?? "", front.localAddress),
          `${front.remoteAddress}:${front.remotePort}`,
          secure,
        );
        return void socket.end(refusal(400, `Refused: ${secure}\n`));
      }
      // Another site's page, opened in a browser that can reach this
      // server, asking it for a WebSocket (websocket_origin.ts).
      if (
        !allowedOrigin(request.headers.origin, request.headers.host, secure)
      ) {
        return void socket.end(refusal(403, CROSS_ORIGIN));
      }
      let group = addressGroup(
        front.remoteAddress ?? "",
        front.localAddress,
      );
      let address = `${front.remoteAddress}:${front.remotePort}`;
      let loopback = isLoopback(front.remoteAddress ?? "");
      if (fromProxies.has(front)) {
        const forwarded = forwardedClient(
          request.headers["x-forwarded-for"],
          options.trustedProxies!,
        );
        if (forwarded.kind === "invalid") {
          options.refused?.(group, address, forwarded.why);
          return void socket.end(refusal(400, `Refused: ${forwarded.why}\n`));
        }
        if (forwarded.kind === "client") {
          group = addressGroup(forwarded.address, front.localAddress);
          address = `${forwarded.address} via ${address}`;
          loopback = isLoopback(forwarded.address);
        }
        // Admitted as a connection from there: what accept() asks of every
        // other connection as it arrives, before anything else of it is
        // read, is asked of this one now that its client is known; at the
        // server's cap, another address may give way to it as to them.
        regroup(front, group);
        clientUnknown.delete(front);
        const room = roomFor(group, front);
        const crowded = (atCap(unfinished.size - 1, options.maxUnfinished) &&
          room === null) ||
          atCap(
            (unfinishedPerGroup.get(group) ?? 0) -
              (unfinished.get(front) === group ? 1 : 0),
            options.maxUnfinishedPerGroup,
          );
        const admission = options.accept(group, address, crowded);
        if (admission.kind === "drop") return front.destroy();
        if (admission.kind === "refuse") {
          return void socket.end(unavailable(admission.why));
        }
        if (room !== null) cutOff(room);
      }
      const why = refused.get(front) ?? options.admit(group, address);
      if (why !== null) return void socket.end(unavailable(why));
      wss.handleUpgrade(request, socket, head, (ws) => {
        // The TCP socket's reads, over TLS too: what a trickle costs most.
        paceReads(front, options);
        const conn = new WsConnection(
          ws,
          address,
          loopback,
          options.gauge ?? null,
          options.unread ?? null,
          // The frames behind client_finished are the session's (see
          // WsConnection#lastHandshakeMessageRead).
          () =>
            setReceiverLimits(
              ws,
              options.maxPayloadBytes,
              options.maxFrameReads,
            ),
          () => {
            finish(front);
            // Read from now on only while the recipients' queues flow.
            if (options.gauge?.held) conn.pauseReading();
            if (options.unread?.held) conn.holdUnread(true);
          },
          // Over TLS, reads come from node:tls, not checked to be buffers of
          // their own (ws_read_release.ts): left to the collector.
          front === socket,
          frontWrites.get(socket) ?? null,
        );
        connections.add(conn);
        conn.closed.then(() => connections.delete(conn));
        options.onConnection(conn, group);
      });
    },
  );

  // One timer for every connection's ping and close deadlines, not one per
  // connection: a timer costs about 1 KiB, 10 MiB at 10,000 idle connections.
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const conn of connections) {
        conn.sweep(now, idleMs, options.closeTimeoutMs);
      }
      // Silent, or stalling its TLS handshake: cut off like slow headers.
      for (const [socket, deadline] of starting) {
        if (now >= deadline) socket.destroy();
      }
    },
    sweepInterval(Math.min(
      options.closeTimeoutMs,
      idleMs || Infinity,
      tls === null ? Infinity : options.headersTimeoutMs,
    )),
  );

  // Senders are held back together: any of them may feed every recipient
  // (the room), and which recipients a message goes to is known only after
  // it is read.
  options.gauge?.onChange((held) => {
    for (const conn of connections) {
      if (held) conn.pauseReading();
      else conn.resumeReading();
    }
  });
  // The same for what has been read and not yet routed.
  options.unread?.onChange((held) => {
    for (const conn of connections) conn.holdUnread(held);
  });

  const finished = new Promise<void>((resolve) =>
    listener.on("close", resolve)
  );
  await new Promise<void>((resolve, reject) => {
    listener.once("error", (error) => reject(denoError(error)));
    listener.listen(options.port, options.hostname, () => {
      listener.removeAllListeners("error");
      resolve();
    });
  });
  // What server.listen() would do: starts its check of headersTimeoutMs.
  server.emit("listening");
  const address = listener.address() as AddressInfo;

  return {
    hostname: options.hostname,
    port: address.port,
    get socketCount() {
      return sockets.size;
    },
    socketsFrom: (group) => perGroup.get(group) ?? 0,
    async close() {
      clearInterval(sweep);
      listener.close();
      server.close();
      for (const socket of sockets) socket.destroy();
      await tls?.close();
      await finished;
    },
    finished,
  };
}

/**
 * Answers a connection may have unsent, its request's included, when a new
 * request on it is read: a client whose last answer is still on its way
 * (the next request raced its end) is never cut off.
 */
const MAX_UNSENT_ANSWERS = 4;

/**
 * Makes node:http's parser of `socket` (destroyed) drop the requests it
 * still has to go through: it goes on with every one already read, a 64 KiB
 * read of pipelined `GET /` being some 2,400, each made a request and an
 * answer only to be refused here. 8 connections of 20,000 grew the server
 * by 129 MiB, 25 with this. Nothing when the parser is not there as node
 * keeps it (`socket.parser`, its `onIncoming` called at each request's
 * headers; 0 says read on): the socket still goes.
 */
function dropParsed(socket: Socket): void {
  const parser = (socket as { parser?: { onIncoming?: unknown } | null })
    .parser;
  if (typeof parser?.onIncoming === "function") parser.onIncoming = () => 0;
}

/** Whether `n` has reached `cap`; a cap of 0 is no cap. */
function atCap(n: number, cap: number): boolean {
  return cap > 0 && n >= cap;
}

/** Adds `delta` to `key`'s count, forgetting keys that reach 0. */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/**
 * Raises the largest message one `ws` socket takes, and how many reads of
 * the socket it keeps while a frame is not whole. `ws` 8 reads its
 * receiver's `_maxPayload` and `_maxBufferedChunks` at each frame and read
 * but offers no way to change them after the upgrade: this is the one use of
 * its private fields, checked here (and by tests/server/ws_edge_test.ts) so
 * that a `ws` that renames them fails loudly rather than leaving every
 * connection at the handshake's limits.
 */
export function setReceiverLimits(
  ws: WebSocket,
  bytes: number,
  reads: number,
): void {
  const receiver = (ws as unknown as {
    _receiver?: { _maxPayload?: unknown; _maxBufferedChunks?: unknown };
  })._receiver;
  if (
    typeof receiver?._maxPayload !== "number" ||
    typeof receiver._maxBufferedChunks !== "number"
  ) {
    throw new Error(
      "This version of ws has no _receiver._maxPayload or _maxBufferedChunks: see setReceiverLimits in src/server/ws_edge.ts",
    );
  }
  // Exported for tests/server/ws_receiver_limits_test.ts: a caller that
  // would lower a limit (limits swapped, a handshake's given) is a bug, not
  // a choice, and fails here rather than shrink every connection.
  if (bytes < receiver._maxPayload || reads < receiver._maxBufferedChunks) {
    throw new RangeError(
      `setReceiverLimits only raises limits: ${bytes} bytes and ${reads} reads are under the ${receiver._maxPayload} and ${receiver._maxBufferedChunks} the connection has`,
    );
  }
  receiver._maxPayload = bytes;
  receiver._maxBufferedChunks = reads;
}

/** node's listen errors as the Deno errors callers know (main.ts). */
function denoError(error: Error & { code?: string }): Error {
  switch (error.code) {
    case "EADDRINUSE":
      return new Deno.errors.AddrInUse(error.message);
    case "EADDRNOTAVAIL":
      return new Deno.errors.AddrNotAvailable(error.message);
    default:
      return error;
  }
}

/** What a message weighed as it arrived (a text's UTF-8 bytes). */
function byteSize(data: WireData): number {
  return typeof data === "string"
    ? encoder.encode(data).byteLength
    : data.byteLength;
}

const encoder = new TextEncoder();

/** A quarter of the shortest deadline, within 50 ms .. 1 s. */
function sweepInterval(deadlineMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(deadlineMs / 4)));
}

/**
 * Seconds a client refused with 503 is told to wait (`Retry-After`): the
 * handshake rate gives an address a new token within a second, and a slot
 * that is still starting frees within the handshake's deadline.
 */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The refusals the edge answers, by status: the status line's text and the
 * header each adds (a 426 names what to upgrade to; a 503 says when to try
 * again).
 */
const REFUSALS = {
  400: { text: "Bad Request", header: ["", ""] },
  403: { text: "Forbidden", header: ["", ""] },
  426: { text: "Upgrade Required", header: ["Upgrade", "websocket"] },
  503: {
    text: "Service Unavailable",
    header: ["Retry-After", String(RETRY_AFTER_SECONDS)],
  },
} as const;
type RefusalStatus = keyof typeof REFUSALS;

/**
 * `text` as the answer to `response`'s request, the connection closed: a
 * refusal of a request the HTTP server parsed (it writes the bytes, and
 * tells a browser not to read the text as anything else).
 */
function refuse(
  response: ServerResponse,
  status: RefusalStatus,
  text: string,
): void {
  const body = Buffer.from(text);
  const [name, value] = REFUSALS[status].header;
  response.writeHead(status, {
    ...(name === "" ? {} : { [name.toLowerCase()]: value }),
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.byteLength),
    "x-content-type-options": "nosniff",
    "connection": "close",
  });
  response.end(body);
}

/**
 * The whole HTTP answer refusing an upgrade with `text`, for a socket the
 * HTTP server has handed over: the one builder of those bytes.
 */
export function refusal(status: RefusalStatus, text: string): Buffer {
  const body = Buffer.from(text);
  const [name, value] = REFUSALS[status].header;
  return Buffer.concat([
    Buffer.from(
      `HTTP/1.1 ${status} ${REFUSALS[status].text}\r\n` +
        (name === "" ? "" : `${name}: ${value}\r\n`) +
        "Content-Type: text/plain; charset=utf-8\r\n" +
        `Content-Length: ${body.byteLength}\r\nConnection: close\r\n\r\n`,
    ),
    body,
  ]);
}

/** The few 503 answers there are, by reason: built once each. */
const unavailableAnswers = new Map<string, Buffer>();
/** More reasons than the server has: past it, answers are built each time. */
const MAX_UNAVAILABLE_ANSWERS = 16;

/**
 * The whole HTTP answer refusing an upgrade for `why` (docs/PROTOCOL.md 1.1):
 * the same bytes for every refusal, so that a flood of refused upgrades
 * costs the server no more than reading their requests.
 */
export function unavailable(why: string): Buffer {
  const known = unavailableAnswers.get(why);
  if (known !== undefined) return known;
  const built = refusal(503, `Refused: ${why}\n`);
  if (unavailableAnswers.size < MAX_UNAVAILABLE_ANSWERS) {
    unavailableAnswers.set(why, built);
  }
  return built;
}

const OPEN = 1;
const CLOSING = 2;

/**
 * A connection's socket is not read while this much it sent waits unread
 * (one frame of the largest size): the server reads a sender no faster than
 * it routes what it sent, instead of holding up to the inbox's cut-off
 * (8 MiB) of it for each of a hundred flooding senders (issue 21).
 */
const INBOX_PAUSE_BYTES = 1024 * 1024;
/**
 * Text messages a client sends in its handshake, `client_finished` the last
 * (PROTOCOL 2.6): the session's larger frame limits apply from the one after.
 */
const CLIENT_HANDSHAKE_MESSAGES = CLIENT_FRAMES.length;
const decoder = new TextDecoder();

/**
 * `data` as one unmasked, final, binary WebSocket frame (RFC 6455 5.2), in a
 * buffer from the pool. What `ws.send` would write, but in one buffer and
 * one socket write instead of a header allocated per frame and a corked pair
 * of writes (a writev of two): where each delivery is its own frame, the
 * socket write is most of what a delivery costs.
 */
export function binaryFrame(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const frame = emptyBinaryFrame(data.byteLength);
  frame.set(data, frame.byteLength - data.byteLength);
  return frame;
}

/** The bytes of a binary frame's header before a payload of `length`. */
function frameHeadBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * A binary frame for a payload of `length` bytes (as {@link binaryFrame}),
 * its header written and its payload left to fill: the last `length` bytes.
 */
function emptyBinaryFrame(length: number): Uint8Array<ArrayBuffer> {
  const head = frameHeadBytes(length);
  const frame = sendBuffers.take(head + length);
  frame[0] = 0x82;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    // Eight bytes, big-endian; a frame is far below 2^32 bytes.
    frame[2] =
      frame[3] =
      frame[4] =
      frame[5] =
        0;
    new DataView(frame.buffer, frame.byteOffset + 6, 4).setUint32(0, length);
  }
  return frame;
}

/** Every connection's frames share one pool: they come and go in turn. */
const sendBuffers = new SendBuffers();

/**
 * A `Connection` over a `ws` socket, with WebSocketConnection's contract:
 * bytes copied on send, a bounded inbox, what the peer sent before its close
 * still readable, `closed` resolved when the socket is really gone.
 */
class WsConnection implements EdgeConnection, Pausable {
  readonly remoteAddress: string;
  readonly loopback: boolean;
  readonly closed: Promise<CloseInfo>;
  readonly #ws: WebSocket;
  /** `ws`'s socket, for sendParts. */
  readonly #socket: Socket;
  /** Frames written straight to the socket's handle (direct_write.ts). */
  readonly #direct: DirectWrites<Uint8Array<ArrayBuffer>> | null;
  readonly #inbox = new Inbox();
  #localCloseReason: string | null = null;
  /**
   * These times are on the monotonic clock (as `sweep`'s `now`): a wall clock
   * set back would leave a dead peer unpinged and a close never forced until
   * it caught up; set forward, every peer pinged and closing one cut at once.
   */
  #lastHeard = performance.now();
  #pingSent: number | null = null;
  #closingSince: number | null = null;
  readonly #onLastHandshakeMessage: () => void;
  readonly #onHandshakeDone: () => void;
  #handshakeDone = false;
  /** The peer's handshake messages read so far (until it is done). */
  #handshakeMessages = 0;
  /**
   * Its last handshake message is read and being checked: the socket is
   * not read meanwhile (see #lastHandshakeMessageRead).
   */
  #checking = false;
  /** The session's frame limits apply (#raiseLimits). */
  #limitsRaised = false;
  /**
   * Held back with every sender (the gauge, or the unread gauge), or by its
   * own unread inbox.
   */
  #held = false;
  #heldUnread = false;
  #full = false;
  /** Whether `ws` is paused now: held or full, after the handshake. */
  #paused = false;
  readonly #gauge: QueueGauge | null;
  /**
   * Bytes of ours handed to `ws` and not yet written (in the gauge): over
   * TLS, until the front socket has written as many (#delivered).
   */
  #unwritten = 0;
  /**
   * Over TLS: the bridge's front socket, whose writes are the reader's
   * progress (a write through the TLS layer is done once the bridge has it).
   */
  readonly #overTls: boolean;
  /** Of ours counted in #unwritten, how many bytes the peer's side took. */
  #taken = 0;
  readonly #unread: QueueGauge | null;
  /** Bytes of the peer's messages counted in #unread. */
  #unreadBytes = 0;
  /** Of those, the message last handed to the reader (done at the next). */
  #handedBytes = 0;

  constructor(
    ws: WebSocket,
    remoteAddress: string,
    loopback: boolean,
    gauge: QueueGauge | null,
    unread: QueueGauge | null,
    onLastHandshakeMessage: () => void,
    onHandshakeDone: () => void,
    releaseReads: boolean,
    frontWrites: FrontWrites | null,
  ) {
    this.#ws = ws;
    this.remoteAddress = remoteAddress;
    this.loopback = loopback;
    this.#gauge = gauge;
    this.#unread = unread;
    this.#onLastHandshakeMessage = onLastHandshakeMessage;
    this.#onHandshakeDone = onHandshakeDone;
    this.#socket = wsSocket(ws);
    this.#overTls = frontWrites !== null;
    frontWrites?.listen((bytes) => this.#delivered(bytes));
    this.#direct = DirectWrites.available
      ? new DirectWrites(this.#socket, {
        // Counted where they wait, piece by piece (a large frame goes in
        // pieces): what is queued for this reader falls as it reads.
        held: (bytes) => {
          this.#unwritten += bytes;
          this.#gauge?.add(bytes);
        },
        written: (bytes) => this.#written(bytes),
        // A failed write's buffer is left to the collector: whether the
        // handle still reads it is not said.
        done: (frame, failed) => {
          if (!failed) sendBuffers.written(frame);
        },
      })
      : null;
    const release = releaseReads
      ? ReadRelease.attach(
        this.#socket,
        (ws as unknown as { _receiver?: unknown })._receiver,
      )
      : null;
    // An ArrayBuffer of our own: `ws` copies a message out of a buffer it
    // shares (the channel frees each frame it has read).
    ws.binaryType = "arraybuffer";
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.#inbox.end(true);
        // What was never written never will be: out of the gauge now, and
        // write callbacks that still come are ignored (#written).
        this.#gauge?.remove(this.#unwritten);
        this.#unwritten = 0;
        // Nor will what was read and not yet done with be: the reader gets
        // null (or what is left, which it reads while closing).
        this.#unread?.remove(this.#unreadBytes);
        this.#unreadBytes = 0;
        this.#handedBytes = 0;
        // Why `ws` failed a connection goes to the log (localCloseReason);
        // nothing here tells a user.
        resolve({ code, reason: reason.toString(), violation: null });
      });
    });
    ws.on("message", (data: ArrayBuffer, isBinary: boolean) => {
      this.#heard();
      if (
        !this.#handshakeDone && !isBinary &&
        ++this.#handshakeMessages === CLIENT_HANDSHAKE_MESSAGES
      ) this.#lastHandshakeMessageRead();
      if (isBinary) release?.delivered(data);
      const message = isBinary ? new Uint8Array(data) : decoder.decode(data);
      const size = data.byteLength;
      this.#unreadBytes += size;
      this.#unread?.add(size);
      if (this.#inbox.push(message)) {
        if (this.#inbox.bytes >= INBOX_PAUSE_BYTES) {
          this.#full = true;
          this.#applyPause();
        }
        return;
      }
      this.#unreadBytes -= size;
      this.#unread?.remove(size);
      // A peer that sends faster than we can decrypt must not grow our memory.
      this.#localCloseReason = "it sent more than could be processed";
      this.close(CloseCode.overloaded, "too much unread data");
    });
    ws.on("ping", (data: Buffer) => {
      // `ws` answers with these very bytes, maybe later: not to be freed.
      release?.delivered(data.buffer);
      this.#heard();
    });
    ws.on("pong", () => this.#heard());
    // `ws` has already sent its Close (1009 for an oversized message, 1007
    // for invalid UTF-8, 1002 otherwise) and stopped reading.
    ws.on("error", (error: Error & { code?: string }) => {
      this.#localCloseReason ??=
        error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
          ? "its message was larger than the limit"
          : error.code === "WS_ERR_TOO_MANY_BUFFERED_PARTS"
          ? "a frame of its came in more reads than the limit"
          : `it broke the WebSocket protocol (${error.message})`;
      this.#closingSince ??= performance.now();
      this.#inbox.end(true);
    });
  }

  get localCloseReason(): string | null {
    return this.#localCloseReason;
  }

  handshakeDone(): void {
    this.#handshakeDone = true;
    this.#checking = false;
    // Already, unless the handshake came in other than two text messages.
    this.#raiseLimits();
    this.#onHandshakeDone();
    this.#applyPause();
  }

  /**
   * The peer's `client_finished` was just parsed, and a client may send
   * sealed frames right behind it (PROTOCOL 2.6), in the same read: `ws`
   * goes on to parse them at once, before the (asynchronous) check of
   * `client_finished` ends, and under the handshake's 8 KiB a frame past it
   * was cut with 1009. So the session's limits apply from the next frame
   * on, and the socket is not read until the check is done (handshakeDone)
   * or failed (close): a peer whose `client_finished` is bad gets no more
   * of its bytes read than it already had, as before.
   */
  #lastHandshakeMessageRead(): void {
    this.#checking = true;
    this.#raiseLimits();
    this.#applyPause();
  }

  #raiseLimits(): void {
    if (this.#limitsRaised) return;
    this.#limitsRaised = true;
    this.#onLastHandshakeMessage();
  }

  /** Stops reading the socket (after the handshake only); idempotent. */
  pauseReading(): void {
    this.#held = true;
    this.#applyPause();
  }

  resumeReading(): void {
    this.#held = false;
    this.#applyPause();
  }

  /** Held back (or let go) with every sender by the unread gauge. */
  holdUnread(held: boolean): void {
    this.#heldUnread = held;
    this.#applyPause();
  }

  #applyPause(): void {
    const pause = this.#checking || (this.#handshakeDone &&
      (this.#held || this.#heldUnread || this.#full));
    if (pause === this.#paused) return;
    this.#paused = pause;
    if (pause) return this.#ws.pause();
    // Silent because unread: the idle clock starts again now.
    this.#heard();
    this.#ws.resume();
  }

  get taken(): number {
    return this.#taken;
  }

  get bufferedAmount(): number {
    // Over TLS, what the bridge holds too: the stream's part of it is in
    // both, counted once.
    if (this.#overTls) {
      return Math.max(this.#ws.bufferedAmount, this.#unwritten);
    }
    return this.#ws.bufferedAmount + (this.#direct?.pendingBytes ?? 0);
  }

  send(data: WireData): void {
    if (this.#ws.readyState !== OPEN) return;
    if (typeof data === "string") return this.#ws.send(data);
    // Copied: the socket takes the buffer as it is, and the caller may free
    // it. The copy is reused or freed as soon as it is written, not left for
    // the next garbage collection (a file's worth would pile up meanwhile).
    // It is the whole WebSocket frame, header and payload in one buffer,
    // written to the socket in one call (see binaryFrame).
    this.#sendFrame(binaryFrame(data), data.byteLength);
  }

  /** The payload of a frame from the pool (see Connection.messageBuffer). */
  messageBuffer(length: number): Uint8Array<ArrayBuffer> {
    return emptyBinaryFrame(length).subarray(frameHeadBytes(length));
  }

  sendFilled(message: Uint8Array<ArrayBuffer>): void {
    const length = message.byteLength;
    const head = frameHeadBytes(length);
    const frame = new Uint8Array(
      message.buffer,
      message.byteOffset - head,
      head + length,
    );
    if (this.#ws.readyState !== OPEN) return sendBuffers.written(frame);
    this.#sendFrame(frame, length);
  }

  /**
   * Writes `frame`, a whole WebSocket frame from the pool: straight to the
   * socket's handle when nothing is queued before it (direct_write.ts), else
   * through the socket's stream.
   */
  #sendFrame(frame: Uint8Array<ArrayBuffer>, bytes: number): void {
    const direct = this.#direct?.write(frame);
    if (direct === "done") {
      // The kernel took it all at once: the reader's progress too, or one
      // that reads as fast as we write would look stuck (queue_stall.ts).
      this.#taken += bytes;
      return sendBuffers.written(frame);
    }
    // Counted as it waits (the `held` the direct writes tell), as written
    // each piece (`written`), and given back whole (`done`).
    if (direct === "pending") return;
    const socket = this.#socket;
    const gauge = this.#gauge;
    if (gauge === null && !this.#overTls) {
      socket.write(frame, () => {
        sendBuffers.written(frame);
        this.#taken += bytes;
      });
      return;
    }
    this.#unwritten += bytes;
    gauge?.add(bytes);
    socket.write(frame, () => {
      sendBuffers.written(frame);
      this.#written(bytes);
    });
  }

  /**
   * `head` then `body` as one message, `body` not copied (ws_parts.ts): a
   * relayed file chunk goes to each recipient from the same bytes.
   */
  sendParts(head: Uint8Array, body: Uint8Array, written: () => void): void {
    if (this.#ws.readyState !== OPEN) return written();
    const bytes = head.byteLength + body.byteLength;
    this.#unwritten += bytes;
    this.#gauge?.add(bytes);
    writeParts(this.#socket, head, body, () => {
      written();
      this.#written(bytes);
    });
  }

  /** `bytes` left for the network (or failed to, the socket being gone). */
  #written(bytes: number): void {
    // Over TLS they only reached the bridge: counted off as its front
    // socket writes (#delivered).
    if (this.#overTls) return;
    // After the close, everything unwritten was taken off at once.
    if (this.#unwritten < bytes) return;
    this.#unwritten -= bytes;
    this.#taken += bytes;
    this.#gauge?.remove(bytes);
  }

  /**
   * Over TLS, `bytes` of TLS records written by the front socket: as many
   * of ours counted off, the reader's progress. A record is a little larger
   * than what it carries, and our frames not counted (text, pings) go the
   * same way, so this runs ahead of the truth by that much, never more:
   * nothing is counted off while the reader takes nothing.
   */
  #delivered(bytes: number): void {
    const taken = Math.min(bytes, this.#unwritten);
    if (taken === 0) return;
    this.#unwritten -= taken;
    this.#taken += taken;
    this.#gauge?.remove(taken);
  }

  receive(): Promise<WireData | null> {
    // Asking for the next message: the reader is done with the last one.
    if (this.#handedBytes > 0) {
      this.#unreadBytes -= this.#handedBytes;
      this.#unread?.remove(this.#handedBytes);
      this.#handedBytes = 0;
    }
    const next = this.#unread === null
      ? this.#inbox.receive()
      : this.#inbox.receive().then((data) => {
        // Unless the close took it off already (it is gone then).
        if (data !== null && this.#unreadBytes > 0) {
          this.#handedBytes = Math.min(this.#unreadBytes, byteSize(data));
        }
        return data;
      });
    if (this.#full && this.#inbox.bytes < INBOX_PAUSE_BYTES) {
      this.#full = false;
      this.#applyPause();
    }
    return next;
  }

  close(code: number = CloseCode.normal, reason = ""): void {
    this.#inbox.end(false);
    this.#closingSince ??= performance.now();
    // The peer's answering Close must be read (what else it sends is
    // dropped with the inbox).
    this.#held = false;
    this.#heldUnread = false;
    this.#full = false;
    this.#checking = false;
    this.#applyPause();
    if (this.#ws.readyState === OPEN) this.#ws.close(code, reason);
  }

  /** Pings a silent peer, closes a dead one, destroys one slow to close. */
  sweep(now: number, idleMs: number, closeTimeoutMs: number): void {
    if (this.#closingSince === null && this.#ws.readyState === CLOSING) {
      // The peer sent its Close: nothing more will come.
      this.#closingSince = now;
      this.#inbox.end(true);
    }
    if (this.#closingSince !== null) {
      if (now - this.#closingSince >= closeTimeoutMs) this.#ws.terminate();
      return;
    }
    // Held back, it cannot be heard: not a sign of a dead peer.
    if (idleMs <= 0 || this.#paused) return;
    if (this.#pingSent === null) {
      if (now - this.#lastHeard < idleMs) return;
      this.#pingSent = now;
      this.#ws.ping();
    } else if (now - this.#pingSent >= idleMs) {
      this.#localCloseReason = "it did not answer a ping";
      this.close(CloseCode.goingAway, "no answer to ping");
    }
  }

  #heard(): void {
    this.#lastHeard = performance.now();
    this.#pingSent = null;
  }
}
