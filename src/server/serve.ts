/**
 * The server's I/O edge: `Deno.serve` -> WebSocket upgrade -> handshake ->
 * SecureChannel -> router. The router decides; this file only delivers.
 */

import { fingerprint } from "../crypto/keys.ts";
import { encodeMessage, parseClientMessage } from "../protocol/codec.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { CloseCode, WebSocketConnection } from "../transport/connection.ts";
import {
  acceptChannel,
  ChannelError,
  messageOf,
  type SecureChannel,
} from "../transport/secure_channel.ts";
import { connect, disconnect, type Outbound, route } from "./router.ts";
import { type ConnId, type ServerLimits, ServerState } from "./state.ts";

export interface ServerOptions {
  hostname: string;
  port: number;
  privateKey: CryptoKey;
  publicSpki: Uint8Array;
  handshakeTimeoutMs?: number;
  limits?: Partial<ServerLimits>;
  /** Where operational log lines go (default: stdout with a timestamp). */
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly hostname: string;
  readonly port: number;
  readonly fingerprint: string;
  /** Tells every client, closes every connection, stops listening. */
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

/** How long shutdown waits for peers to acknowledge the close. */
const SHUTDOWN_GRACE_MS = 2000;

export async function startServer(
  options: ServerOptions,
): Promise<RunningServer> {
  const log = options.log ?? defaultLog;
  const state = new ServerState(options.limits);
  const channels = new Map<ConnId, SecureChannel>();
  const sockets = new Set<WebSocketConnection>();
  let nextId = 1;
  let stopping = false;

  function deliver(outbound: readonly Outbound[]): void {
    for (const { to, message, body } of outbound) {
      // Encoded once, whatever the number of recipients.
      const encoded = encodeMessage(message, body);
      const bulk = message.t === "file_chunk" || message.t === "file_end";
      for (const id of to) channels.get(id)?.sendEncoded(encoded, bulk);
    }
  }

  function reply(channel: SecureChannel, message: ServerMessage): void {
    channel.send(message);
  }

  async function serveConnection(conn: WebSocketConnection): Promise<void> {
    let channel: SecureChannel;
    try {
      channel = await acceptChannel(conn, {
        privateKey: options.privateKey,
        publicSpki: options.publicSpki,
        ...(options.handshakeTimeoutMs === undefined
          ? {}
          : { timeoutMs: options.handshakeTimeoutMs }),
      });
    } catch (error) {
      log(`handshake with ${conn.remoteAddress} failed: ${messageOf(error)}`);
      return;
    }
    if (stopping) {
      channel.close(CloseCode.goingAway, "server is shutting down");
      return;
    }
    const id = nextId++;
    channels.set(id, channel);
    connect(state, id);
    try {
      for (;;) {
        const batch = await channel.receive();
        if (batch === null) break;
        let quit = false;
        for (const { header, body } of batch) {
          let message;
          try {
            message = parseClientMessage(header);
          } catch (error) {
            const re = reRequestId(header);
            reply(channel, {
              t: "error",
              re,
              code: "bad_request",
              text: `ERROR: Bad request: ${messageOf(error)}`,
            });
            continue;
          }
          if (message.t === "bye") {
            quit = true;
            break;
          }
          const before = state.nameOf(id);
          deliver(route(state, id, message, body, Date.now()));
          const after = state.nameOf(id);
          if (before === null && after !== null) {
            log(`${after} registered from ${conn.remoteAddress}`);
          }
        }
        if (quit) {
          await channel.drain();
          channel.close(CloseCode.normal, "bye");
          break;
        }
      }
    } catch (error) {
      const code = error instanceof ChannelError
        ? error.closeCode
        : CloseCode.protocolError;
      log(`closing ${describe(id, conn)}: ${messageOf(error)}`);
      channel.close(code, "protocol error");
    } finally {
      const name = state.nameOf(id);
      channels.delete(id);
      deliver(disconnect(state, id, Date.now()));
      if (name !== null) log(`${name} left`);
    }
  }

  function describe(id: ConnId, conn: WebSocketConnection): string {
    const name = state.nameOf(id);
    return name === null
      ? conn.remoteAddress
      : `${name} (${conn.remoteAddress})`;
  }

  const abort = new AbortController();
  let ready!: (addr: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((resolve) => (ready = resolve));
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: abort.signal,
    onListen: (addr) => ready(addr as Deno.NetAddr),
    onError: (error) => {
      log(`request failed: ${messageOf(error)}`);
      return new Response("Internal error", { status: 500 });
    },
  }, (request, info) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(
        "This is a chat server. Connect with: chat connect <host>\n",
        { status: 426, headers: { upgrade: "websocket" } },
      );
    }
    if (stopping) return new Response("Shutting down\n", { status: 503 });
    // Read before upgrading: afterwards Deno reports the request as closed.
    const address = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(request);
    const conn = new WebSocketConnection(socket, address);
    sockets.add(conn);
    conn.closed.then(() => sockets.delete(conn));
    serveConnection(conn).catch((error) =>
      log(`internal error: ${messageOf(error)}`)
    );
    return response;
  });

  const addr = await listening;
  const serverFingerprint = await fingerprint(options.publicSpki);

  async function shutdown(): Promise<void> {
    if (stopping) return server.finished;
    stopping = true;
    const goodbye: ServerMessage = {
      t: "bye",
      reason: "shutdown",
      text: "Server is shutting down.",
    };
    const encoded = encodeMessage(goodbye);
    await Promise.all(
      [...channels.values()].map(async (channel) => {
        channel.sendEncoded(encoded);
        await channel.drain();
        channel.close(CloseCode.goingAway, "server is shutting down");
      }),
    );
    for (const conn of sockets) {
      conn.close(CloseCode.goingAway, "server is shutting down");
    }
    // A peer that never answers the close frame keeps its socket open (see
    // DEVELOPERS.md); do not let it hold the shutdown hostage.
    await withDeadline(
      Promise.all([...sockets].map((conn) => conn.closed)),
      SHUTDOWN_GRACE_MS,
    );
    abort.abort();
    await withDeadline(server.finished, SHUTDOWN_GRACE_MS);
  }

  return {
    hostname: addr.hostname,
    port: addr.port,
    fingerprint: serverFingerprint,
    shutdown,
    finished: server.finished,
  };
}

function reRequestId(header: unknown): number | null {
  if (typeof header === "object" && header !== null && "id" in header) {
    const id = (header as { id: unknown }).id;
    if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) {
      return id;
    }
  }
  return null;
}

async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

function defaultLog(line: string): void {
  const time = new Date().toISOString().replace("T", " ").slice(0, 19);
  console.log(`${time} ${line}`);
}
