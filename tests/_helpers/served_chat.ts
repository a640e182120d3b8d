/**
 * A real `chat serve` process and the real `chat connect` users it serves,
 * for the end-to-end tests: one temporary folder holds the server's key
 * pair, its data, and each user's config folder (their own identity key and
 * end-to-end files, as two people at two computers have). Every process it
 * started is killed, and the folder removed, when it is disposed
 * (`await using`).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { FetchedBundle } from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
} from "./process.ts";
import { untilKeysPublished } from "./published_keys.ts";

export interface ConnectOptions {
  /** The XDG_CONFIG_HOME folder's name in the chat's folder; `config-<user>` by default. */
  readonly config?: string;
  /**
   * Saves every file offered, without asking, in `downloads-<user>` in the
   * chat's folder (`--downloads`, `--accept-files all`).
   */
  readonly acceptFiles?: boolean;
  /** More arguments for `chat connect`. */
  readonly args?: readonly string[];
  /** The port it connects to (a proxy's in front of the server); the server's by default. */
  readonly port?: string | number;
  /** Its input and output are a terminal (an interactive session, as a person's). */
  readonly tty?: boolean;
}

/** A key pair in a fresh folder, the server started on it, and its users. */
export class ServedChat implements AsyncDisposable {
  /** The folder holding the key pair, the data and the users' configs. */
  readonly dir: string;
  /** A --data folder in it, for a server whose data outlives a restart. */
  readonly data: string;
  readonly #processes: ChatProcess[] = [];
  #port: string | null = null;
  #probes = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.data = join(dir, "data");
  }

  /** A fresh folder named `prefix`… with a server key pair; no server yet. */
  static async start(prefix: string): Promise<ServedChat> {
    const dir = await Deno.makeTempDir({ prefix });
    try {
      await makeKeys(dir);
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
    return new ServedChat(dir);
  }

  /** The port the server listens on: the first one's, kept across restarts. */
  get port(): string {
    if (this.#port === null) throw new Error("No server was started");
    return this.#port;
  }

  /** The server's address for a client of the library. */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Runs `process` until the chat is disposed. */
  track<T extends ChatProcess>(process: T): T {
    this.#processes.push(process);
    return process;
  }

  /**
   * Starts `chat serve` with `extra` options, on the port of the one before
   * if there was one (a restart: users reconnect where they were);
   * resolves once it listens.
   */
  async serve(...extra: string[]): Promise<ChatProcess> {
    const server = this.track(
      serveProcess(this.dir, this.#port ?? 0, ...extra),
    );
    this.#port = await listeningPort(server);
    return server;
  }

  /** `chat connect` as `user`, with its own config folder (see ConnectOptions). */
  connect(
    user: string,
    {
      config = `config-${user}`,
      acceptFiles = false,
      args = [],
      port = this.port,
      tty = false,
    }: ConnectOptions = {},
  ): ChatProcess {
    const files = acceptFiles
      ? [
        "--downloads",
        join(this.dir, `downloads-${user}`),
        "--accept-files",
        "all",
      ]
      : [];
    return this.track(
      new ChatProcess([
        "connect",
        `127.0.0.1:${port}`,
        "--pub",
        `${this.dir}/public.pem`,
        "--user",
        user,
        ...files,
        ...args,
      ], {
        env: { XDG_CONFIG_HOME: join(this.dir, config) },
        ...(tty ? { tty } : {}),
      }),
    );
  }

  /**
   * `chat connect` as each of `users` (with `options`, see connect), once
   * each has signed in and published end-to-end keys that `wanted` accepts
   * (any by default): a sender's first message then finds them.
   */
  async signIn<const Users extends readonly string[]>(
    users: Users,
    { wanted, ...options }: ConnectOptions & {
      wanted?: (fetched: FetchedBundle) => boolean;
    } = {},
  ): Promise<{ [K in keyof Users]: ChatProcess }> {
    const processes = users.map((user) => this.connect(user, options));
    for (const p of processes) {
      await p.waitFor(/SUCCESS: Username registered\./);
    }
    await this.#withProbe(async (probe) => {
      for (const user of users) await untilKeysPublished(probe, user, wanted);
    });
    return processes as { [K in keyof Users]: ChatProcess };
  }

  /**
   * bob at `chat connect --json` (files saved in `downloads-bob`, each
   * asked about first), signed in with his keys published, and alice at
   * a terminal, connected through `alicePort` (a proxy's) if given, once
   * she is welcomed: alice sends bob files.
   */
  async bobAndAlice(
    alicePort?: string | number,
  ): Promise<{ alice: ChatProcess; bob: ChatProcess }> {
    const [bob] = await this.signIn(["bob"], {
      args: ["--json", "--downloads", join(this.dir, "downloads-bob")],
    });
    const alice = this.connect("alice", {
      tty: true,
      ...(alicePort === undefined ? {} : { port: String(alicePort) }),
    });
    await alice.waitFor(/Username registered/);
    return { alice, bob };
  }

  /** The server's public key, as `chat connect --pub` pins it. */
  async pinnedSpki(): Promise<Uint8Array> {
    return (await importPublicKeyPem(
      await Deno.readTextFile(`${this.dir}/public.pem`),
    )).spki;
  }

  /**
   * Waits (with a deadline) until `name` has published keys that `wanted`
   * accepts (signed by a new identity key, with one-time keys…); resolves
   * with them.
   */
  async keysOf(
    name: string,
    wanted: (fetched: FetchedBundle) => boolean,
  ): Promise<FetchedBundle> {
    return await this.#withProbe((probe) =>
      untilKeysPublished(probe, name, wanted)
    );
  }

  /** Runs `ask` with a client of the library registered as a new name. */
  async #withProbe<T>(ask: (probe: ChatClient) => Promise<T>): Promise<T> {
    const probe = await ChatClient.connect(this.url, {
      pinnedSpki: await this.pinnedSpki(),
    });
    try {
      // A fresh name each time: a name stays bound to the key that took it.
      assert.equal(
        (await probe.register(`probe${++this.#probes}`)).t,
        "welcome",
      );
      return await ask(probe);
    } finally {
      await probe.quit();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const p of this.#processes) {
      p.kill();
      await p.finish();
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Types /quit into `user`'s `chat connect` and waits for it to exit 0. */
export async function quit(user: ChatProcess): Promise<void> {
  await user.write("/quit\n");
  const status = await user.finish();
  assert.equal(status.code, 0, user.stdout + user.stderr);
}
