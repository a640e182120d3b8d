/** Test helpers: a real server on an ephemeral loopback port and real clients. */

import assert from "node:assert/strict";
import {
  ChatClient,
  decodeText,
  type Incoming,
} from "../../src/client/chat_client.ts";
import {
  generateRsaKeyPair,
  importPrivateKeyPem,
  importPublicKeyPem,
} from "../../src/crypto/keys.ts";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { WAIT_MS } from "./patience.ts";
import {
  type RunningServer,
  type ServerOptions,
  startServer,
} from "../../src/server/serve.ts";

export interface TestKeys {
  privateKey: CryptoKey;
  publicSpki: Uint8Array;
  privatePem: string;
  publicPem: string;
}

let cachedKeys: Promise<TestKeys> | null = null;

/** One 2048-bit key pair per test process: generating keys is slow. */
export function testKeys(): Promise<TestKeys> {
  cachedKeys ??= (async () => {
    const pair = await generateRsaKeyPair(2048);
    const { privateKey, publicSpki } = await importPrivateKeyPem(
      pair.privatePem,
    );
    return {
      privateKey,
      publicSpki,
      privatePem: pair.privatePem,
      publicPem: pair.publicPem,
    };
  })();
  return cachedKeys;
}

export async function otherPublicSpki(): Promise<Uint8Array> {
  const pair = await generateRsaKeyPair(2048);
  return (await importPublicKeyPem(pair.publicPem)).spki;
}

export interface TestServer extends RunningServer {
  url: string;
  logs: string[];
  spki: Uint8Array;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startTestServer(
  options: Partial<ServerOptions> = {},
): Promise<TestServer> {
  const keys = await testKeys();
  const logs: string[] = [];
  // Like `chat serve --data :memory:`: everything but the disk.
  const store = options.store ?? openStore(":memory:");
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    privateKey: keys.privateKey,
    publicSpki: keys.publicSpki,
    log: (line) => logs.push(line),
    ...options,
    store,
  });
  const stop = server.shutdown;
  const shutdown = async () => {
    await stop();
    if (options.store === undefined) store.close();
  };
  return Object.assign(server, {
    url: `ws://127.0.0.1:${server.port}`,
    logs,
    spki: keys.publicSpki,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  });
}

/** A registered client that records everything it receives. */
export class TestClient {
  readonly inbox: { message: ServerMessage; text: string }[] = [];
  #waiters: (() => void)[] = [];

  constructor(readonly client: ChatClient) {
    client.onMessage((incoming: Incoming) => {
      // File data is the receiver's business; keeping it here would hold every
      // byte of every file in memory.
      if (incoming.message.t === "file_chunk") return;
      this.inbox.push({
        message: incoming.message,
        text: decodeText(incoming.body),
      });
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    });
  }

  static async connect(
    server: TestServer,
    name: string,
    identity?: Identity,
  ): Promise<TestClient> {
    const client = await ChatClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    const reply = await client.register(name, identity);
    if (reply.t !== "welcome") {
      throw new Error(`register ${name} failed: ${JSON.stringify(reply)}`);
    }
    return new TestClient(client);
  }

  /** Resolves with the first received message matching `predicate`. */
  async waitFor(
    predicate: (m: { message: ServerMessage; text: string }) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<{ message: ServerMessage; text: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.inbox.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for a message such that ${predicate}; inbox: ${
            JSON.stringify(this.inbox.map((m) => [m.message, m.text]))
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Chat messages (public, private, group) received so far, as [type, from, text]. */
  chat(): [string, string, string][] {
    return this.inbox.flatMap(({ message, text }) =>
      message.t === "public" || message.t === "private" || message.t === "group"
        ? [[
          message.t === "group" ? `group:${message.group}` : message.t,
          message.from,
          text,
        ]]
        : []
    );
  }

  async quit(): Promise<void> {
    await this.client.quit();
  }
}

/** `text` said to the room by `client`, once the server took it (its ok). */
export async function sayInRoom(
  client: TestClient | ChatClient,
  text: string,
): Promise<void> {
  const to = client instanceof TestClient ? client.client : client;
  const reply = await to.request({ t: "say" }, new TextEncoder().encode(text));
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

/** Lets in-flight deliveries land: one round trip through the server. */
export async function settle(...clients: TestClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.client.request({ t: "list" })));
}

/** An identity key to sign in with the same name more than once. */
export async function testIdentity(): Promise<Identity> {
  return await importIdentityPem((await generateIdentity()).privatePem);
}
