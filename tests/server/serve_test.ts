/**
 * The server's core (createCore) over in-memory connections: the real
 * handshake, identity proof, session loop, routing and delivery, with no
 * socket and no edge.
 */

import assert from "node:assert/strict";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.ts";
import {
  generateIdentity,
  identityChallengeMessage,
  importIdentityPem,
  signChallenge,
} from "../../src/crypto/identity.ts";
import { parseServerMessage } from "../../src/protocol/codec.ts";
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
import { testKeys } from "../_helpers/chat.ts";
import { memoryPair } from "../_helpers/memory_pair.ts";
import { memoryStore } from "../_helpers/memory_store.ts";

const WAIT_MS = 5000;

/** A peer on the client end of a pair, reading everything the server sends. */
class Peer {
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
          `no such message; got ${
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

  /** Signs in as `name` with a fresh identity key (register, then prove). */
  async register(name: string): Promise<ServerMessage> {
    const identity = await importIdentityPem(
      (await generateIdentity()).privatePem,
    );
    const challenge = await this.request({
      t: "register",
      name,
      key: toBase64(identity.publicRaw),
    });
    if (challenge.t !== "challenge") return challenge;
    const signature = await signChallenge(
      identity,
      identityChallengeMessage({
        publicKey: identity.publicRaw,
        transcriptHash: this.channel.transcriptHash,
        challenge: fromBase64(challenge.nonce),
        name,
      }),
    );
    return await this.request({ t: "prove", signature: toBase64(signature) });
  }
}

async function core(
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

Deno.test("createCore signs peers in over in-memory connections and relays a public message", async () => {
  const { core: server, logs } = await core();
  const sophia = await Peer.connect(server);
  const jojo = await Peer.connect(server, "10.0.0.2");
  assert.equal((await sophia.register("sophia")).t, "welcome");
  assert.equal((await jojo.register("jojo")).t, "welcome");
  assert.deepEqual(
    await sophia.request({ t: "say" }, new TextEncoder().encode("hello")),
    { t: "ok", re: 3, text: "" },
  );
  const heard = await jojo.next((m) => m.t === "public");
  assert.equal(heard.body, "hello");
  const { message } = heard;
  assert.ok(message.t === "public", `a ${message.t} message`);
  assert.equal(message.from, "sophia");
  assert.equal(message.seq, 1);
  assert.ok(logs.some((line) => line.startsWith("sophia registered from")));
  await server.stop();
  await Promise.all([sophia.done, jojo.done]);
});

Deno.test("createCore refuses requests before sign-in and cuts off a peer that never signs in", async () => {
  const { core: server } = await core({
    connectionLimits: { registerTimeoutMs: 100 },
  });
  const peer = await Peer.connect(server);
  assert.deepEqual(await peer.request({ t: "list" }), {
    t: "error",
    re: 1,
    code: "not_registered",
    text: "ERROR: Register a username first",
  });
  const bye = await peer.next((m) => m.t === "bye");
  assert.match(
    (bye.message as { text: string }).text,
    /no username was registered in time/,
  );
  await peer.done;
  await server.stop();
});

Deno.test("createCore.stop says goodbye to every peer and closes their connections", async () => {
  const { core: server } = await core();
  const peers = [await Peer.connect(server), await Peer.connect(server)];
  assert.equal((await peers[0]!.register("nana")).t, "welcome");
  await server.stop();
  assert.equal(server.stopping, true);
  for (const peer of peers) {
    const bye = await peer.next((m) => m.t === "bye");
    assert.deepEqual(bye.message, {
      t: "bye",
      reason: "shutdown",
      text: "Server is shutting down.",
    });
    await peer.done;
  }
});
