/**
 * A server that does the real handshake and then sends whatever the test
 * tells it to, for client tests against a server that breaks the rules (the
 * real server never would). One client at a time.
 */

import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import { IDENTITY_PROOF_VERSION } from "../../src/crypto/identity.ts";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/protocol/messages.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
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
  /** The channel of the `n`th connection (0: `session`), a reconnection's. */
  sessionAt(n: number): Promise<SecureChannel>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startHostileServer(): Promise<HostileServer> {
  const keys = await testKeys();
  const session = Promise.withResolvers<SecureChannel>();
  const channels: SecureChannel[] = [];
  const arrivals: PromiseWithResolvers<SecureChannel>[] = [];
  const arrival = (n: number) =>
    arrivals[n] ??= Promise.withResolvers<SecureChannel>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const conn = new WebSocketConnection(socket, "client");
      acceptChannel(conn, {
        privateKey: keys.privateKey,
        publicSpki: keys.publicSpki,
      }).then((channel) => {
        arrival(channels.length).resolve(channel);
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
    sessionAt: (n) => arrival(n).promise,
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

/** What a hostile server's welcome says, besides the request it answers. */
export type WelcomeFields = Omit<
  Extract<ServerMessage, { t: "welcome" }>,
  "t" | "re" | "text"
>;

/**
 * Plays the server's part of sign-in on `channel` until the client goes: a
 * challenge for `register`, then a welcome with `welcome`'s fields for
 * `prove`, whatever name the client asked for (the signature is not
 * checked). Every other client message goes to `onOther`.
 */
export async function answerSignIn(
  channel: SecureChannel,
  welcome: WelcomeFields,
  onOther: (message: ClientMessage) => void = () => {},
): Promise<void> {
  for (;;) {
    const batch = await channel.receive();
    if (batch === null) return;
    for (const { header } of batch) {
      const message = parseClientMessage(header);
      if (message.t === "register") {
        channel.send({
          t: "challenge",
          re: message.id,
          nonce: toBase64(randomBytes(32)),
          proof: IDENTITY_PROOF_VERSION,
        });
      } else if (message.t === "prove") {
        channel.send({
          t: "welcome",
          re: message.id,
          text: "SUCCESS: Username registered.",
          ...welcome,
        });
      } else onOther(message);
    }
  }
}
