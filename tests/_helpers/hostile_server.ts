/**
 * A server that does the real handshake and then sends whatever the test
 * tells it to, for client tests against a server that breaks the rules (the
 * real server never would). One client at a time.
 */

import {
  acceptChannel,
  type SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";
import { testKeys } from "./chat.ts";

export interface HostileServer {
  url: string;
  spki: Uint8Array;
  /** The channel to the client that connected, once its handshake is done. */
  session: Promise<SecureChannel>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startHostileServer(): Promise<HostileServer> {
  const keys = await testKeys();
  const session = Promise.withResolvers<SecureChannel>();
  const channels: SecureChannel[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const conn = new WebSocketConnection(socket, "client");
      acceptChannel(conn, {
        privateKey: keys.privateKey,
        publicSpki: keys.publicSpki,
      }).then((channel) => {
        channels.push(channel);
        session.resolve(channel);
      }, session.reject);
      return response;
    },
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    spki: keys.publicSpki,
    session: session.promise,
    [Symbol.asyncDispose]: async () => {
      // Both WebSocket ends closed before the shutdown (denoland/deno#22387).
      for (const channel of channels) {
        channel.close();
        await channel.closed;
      }
      await server.shutdown();
    },
  };
}
