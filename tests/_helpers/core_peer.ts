/**
 * A peer of the server's core (createCore) over an in-memory connection:
 * the real handshake and identity proof, every message it receives kept.
 */

import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import {
  generateIdentity,
  type Identity,
  identityChallengeMessage,
  importIdentityPem,
  signChallenge,
} from "../../src/crypto/identity.ts";
import { parseServerMessage } from "../../src/protocol/parse_server_message.ts";
import type {
  ClientMessage,
  ServerMessage,
} from "../../src/protocol/messages.ts";
import {
  type CoreOptions,
  createCore,
  type ServerCore,
} from "../../src/server/serve.ts";
import {
  openChannel,
  type SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { testKeys } from "./chat.ts";
import { memoryPair } from "./memory_pair.ts";
import { memoryStore } from "./memory_store.ts";
import { WAIT_MS } from "./patience.ts";

/** A peer on the client end of a pair, reading everything the server sends. */
export class Peer {
  readonly inbox: { message: ServerMessage; body: string }[] = [];
  readonly done: Promise<void>;
  #nextId = 1;
  #wake: (() => void)[] = [];

  constructor(readonly channel: SecureChannel) {
    this.done = (async () => {
      for (;;) {
        const batch = await channel.receive().catch(() => null);
        if (batch === null) break;
        for (const { header, body } of batch) {
          this.inbox.push({
            message: parseServerMessage(header),
            body: new TextDecoder().decode(body),
          });
        }
        for (const wake of this.#wake.splice(0)) wake();
      }
      for (const wake of this.#wake.splice(0)) wake();
    })();
  }

  static async connect(core: ServerCore, group = "10.0.0.1"): Promise<Peer> {
    const { server, client } = memoryPair(`${group}:5000`);
    core.serve(server, group);
    const { publicSpki } = await testKeys();
    const { channel } = await openChannel(client, { pinnedSpki: publicSpki });
    return new Peer(channel);
  }

  /** The first message matching `match`, waiting for it up to a deadline. */
  async next(
    match: (message: ServerMessage) => boolean,
  ): Promise<{ message: ServerMessage; body: string }> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.inbox.find(({ message }) => match(message));
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `no message such that ${match} within ${WAIT_MS} ms; got ${
            JSON.stringify(this.inbox.map((m) => m.message))
          }`,
        );
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, deadline - Date.now());
        this.#wake.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  /** Sends `message` with the next request id; resolves with its reply. */
  async request(
    message: Record<string, unknown> & { t: ClientMessage["t"] },
    body?: Uint8Array,
  ): Promise<ServerMessage> {
    const id = this.#nextId++;
    this.channel.send({ ...message, id } as ClientMessage, body);
    const reply = await this.next((m) => "re" in m && m.re === id);
    return reply.message;
  }

  /** Sends `message` with the next request id, without waiting: its id. */
  send(message: Record<string, unknown> & { t: ClientMessage["t"] }): number {
    const id = this.#nextId++;
    this.channel.send({ ...message, id } as ClientMessage);
    return id;
  }

  /**
   * Registers `name` with `identity`: the signature to prove it with, or the
   * server's refusal.
   */
  async begin(
    name: string,
    identity: Identity,
  ): Promise<{ signature: string } | { refused: ServerMessage }> {
    const challenge = await this.request({
      t: "register",
      name,
      key: toBase64(identity.publicRaw),
    });
    if (challenge.t !== "challenge") return { refused: challenge };
    const signature = await signChallenge(
      identity,
      identityChallengeMessage({
        publicKey: identity.publicRaw,
        transcriptHash: this.channel.transcriptHash,
        challenge: fromBase64(challenge.nonce),
        name,
      }),
    );
    return { signature: toBase64(signature) };
  }

  /** Signs in as `name` with a fresh identity key (register, then prove). */
  async register(name: string): Promise<ServerMessage> {
    const begun = await this.begin(name, await freshIdentity());
    if ("refused" in begun) return begun.refused;
    return await this.request({ t: "prove", signature: begun.signature });
  }
}

/** A new identity key. */
export async function freshIdentity(): Promise<Identity> {
  return await importIdentityPem((await generateIdentity()).privatePem);
}

export async function core(
  options: Partial<CoreOptions> = {},
): Promise<{ core: ServerCore; logs: string[] }> {
  const keys = await testKeys();
  const logs: string[] = [];
  const created = createCore({
    privateKey: keys.privateKey,
    publicSpki: keys.publicSpki,
    store: memoryStore(),
    log: (line) => logs.push(line),
    ...options,
  });
  return { core: created, logs };
}
