/**
 * A cluster for the end-to-end tests of issue 19: a real `nats-server -js`
 * (tests/_helpers/nats.ts), one server key pair, and real `chat serve
 * --cluster` nodes, each with its own database; plus real `chat connect`
 * clients. Everything it started is killed and its folder removed when it
 * is disposed (`await using`).
 */

import { join } from "node:path";
import {
  ChatProcess,
  listeningPort,
  makeKeys,
  serveProcess,
  STARTUP_MS,
} from "./process.ts";
import { natsServerPath, type RestartableNats, startNats } from "./nats.ts";
import { Bot } from "./json_bot.ts";
import { ChatClient } from "../../src/client/chat_client.ts";
import { E2eKeyError, fetchBundle } from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { WAIT_MS } from "./patience.ts";

/**
 * The nats-server binary, or null after a warning naming `test` when it is
 * not installed and cannot be: the caller's tests are then ignored.
 */
export async function natsForTest(test: string): Promise<string | null> {
  const binary = await natsServerPath();
  if (binary === null) {
    console.warn(
      `${test}: skipped: nats-server is not installed and apt-get could not install it`,
    );
  }
  return binary;
}

export interface ClusterNode {
  readonly process: ChatProcess;
  /** The port it listens on, as its banner says. */
  readonly port: string;
  /** 127.0.0.1:PORT, for `chat connect`. */
  readonly address: string;
  /** Its --data folder. */
  readonly data: string;
}

export interface ClusterOptions {
  /** The temporary folder's prefix (the test's name). */
  readonly prefix: string;
  /** --presence-ttl for every node, in seconds (the default when absent). */
  readonly presenceTtl?: number;
  /**
   * NATS asks for this user and password (`--user`, `--pass`); the nodes
   * are given them in their --cluster URL.
   */
  readonly natsAuth?: { readonly user: string; readonly pass: string };
  /**
   * The nodes get `natsAuth` as typed (`nats://chat:pa,ss@...`), not
   * percent-encoded.
   */
  readonly natsAuthAsTyped?: boolean;
}

export interface ConnectOptions {
  /** `--json` (the default) or the plain terminal lines. */
  readonly json?: boolean;
  /** The XDG_CONFIG_HOME folder's name in the cluster's folder; `user` by default. */
  readonly config?: string;
  /** More arguments for `chat connect`. */
  readonly args?: readonly string[];
}

/** A running NATS and the nodes and clients started through it. */
export class Cluster {
  readonly nats: RestartableNats;
  /** The folder holding the key pair, the nodes' data and the clients' configs. */
  readonly dir: string;
  readonly #presenceTtl: number | undefined;
  /** What the nodes get as --cluster: NATS's URL, with credentials if it asks. */
  readonly clusterUrl: string;
  readonly #processes: ChatProcess[] = [];

  private constructor(
    nats: RestartableNats,
    dir: string,
    presenceTtl: number | undefined,
    clusterUrl: string,
  ) {
    this.nats = nats;
    this.dir = dir;
    this.#presenceTtl = presenceTtl;
    this.clusterUrl = clusterUrl;
  }

  /** Starts NATS (from `binary`) and makes the key pair; no node yet. */
  static async start(
    binary: string,
    options: ClusterOptions,
  ): Promise<Cluster> {
    const auth = options.natsAuth;
    const nats = await startNats(
      binary,
      auth === undefined ? [] : ["--user", auth.user, "--pass", auth.pass],
    );
    try {
      const dir = await Deno.makeTempDir({ prefix: `${options.prefix}-` });
      const url = new URL(nats.url);
      if (auth !== undefined) {
        url.username = encodeURIComponent(auth.user);
        url.password = encodeURIComponent(auth.pass);
      }
      const clusterUrl = auth !== undefined && options.natsAuthAsTyped
        ? nats.url.replace("://", `://${auth.user}:${auth.pass}@`)
        : url.href.replace(/\/$/, "");
      const cluster = new Cluster(nats, dir, options.presenceTtl, clusterUrl);
      try {
        await makeKeys(dir);
      } catch (error) {
        await Deno.remove(dir, { recursive: true });
        throw error;
      }
      return cluster;
    } catch (error) {
      await nats[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Runs `process` until the cluster is disposed. */
  track<T extends ChatProcess>(process: T): T {
    this.#processes.push(process);
    return process;
  }

  /**
   * Starts `chat serve --cluster` with its database in `data` (a folder in
   * the cluster's), without waiting for it: for a node expected to fail.
   */
  spawnNode(data: string, ...extra: string[]): ChatProcess {
    const ttl = this.#presenceTtl === undefined
      ? []
      : ["--presence-ttl", String(this.#presenceTtl)];
    return this.track(
      serveProcess(
        this.dir,
        0,
        "--data",
        join(this.dir, data),
        "--cluster",
        this.clusterUrl,
        ...ttl,
        ...extra,
      ),
    );
  }

  /** Starts a node and waits until it listens and has joined the cluster. */
  async node(data: string, ...extra: string[]): Promise<ClusterNode> {
    const process = this.spawnNode(data, ...extra);
    const port = await listeningPort(process);
    await process.waitFor(
      /Node [A-Za-z0-9]+ joined the cluster through NATS/,
      STARTUP_MS,
    );
    return {
      process,
      port,
      address: `127.0.0.1:${port}`,
      data: join(this.dir, data),
    };
  }

  /** Starts a node per name at once; resolves once all have joined. */
  nodes<const T extends readonly string[]>(
    ...names: T
  ): Promise<{ [K in keyof T]: ClusterNode }> {
    return Promise.all(names.map((name) => this.node(name))) as Promise<
      { [K in keyof T]: ClusterNode }
    >;
  }

  /**
   * `chat connect TARGET --user USER` pinned to the cluster's key, with its
   * own config folder; `target` is a node or a comma-separated list.
   */
  connect(
    target: ClusterNode | string,
    user: string,
    options: ConnectOptions = {},
  ): ChatProcess {
    const address = typeof target === "string" ? target : target.address;
    return this.track(
      new ChatProcess(
        [
          "connect",
          address,
          "--pub",
          join(this.dir, "public.pem"),
          "--user",
          user,
          ...(options.json === false ? [] : ["--json"]),
          ...(options.args ?? []),
        ],
        {
          env: {
            XDG_CONFIG_HOME: join(this.dir, `${options.config ?? user}-config`),
          },
        },
      ),
    );
  }

  /** A `--json` client as a {@link Bot}; waits for its welcome. */
  async bot(
    target: ClusterNode | string,
    user: string,
    options: Omit<ConnectOptions, "json"> = {},
  ): Promise<Bot> {
    const bot = new Bot(this.connect(target, user, options));
    await bot.chat.waitFor(
      new RegExp(`"type":"welcome","name":"${user}"`),
    );
    return bot;
  }

  /**
   * A client (not a process) signed in as `name` on `node`, for probing what
   * that node knows; quit by the caller. `pingIntervalMs` as in
   * ChatClient.connect.
   */
  async probe(
    node: ClusterNode,
    name: string,
    options: { pingIntervalMs?: number } = {},
  ): Promise<ChatClient> {
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(join(this.dir, "public.pem")),
    );
    const client = await ChatClient.connect(`ws://${node.address}`, {
      pinnedSpki: spki,
      ...options,
    });
    const welcome = await client.register(name);
    if (welcome.t !== "welcome") {
      await client.quit();
      throw new Error(`The probe ${name} was not let in: ${welcome.t}`);
    }
    return client;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const process of this.#processes) process.kill("SIGKILL");
    await Promise.all(this.#processes.map((process) => process.finish()));
    await this.nats[Symbol.asyncDispose]();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/**
 * Waits until `bot`'s node lists `group` (made on another node: it comes
 * through the groups bucket), asking `/groups` again until `timeoutMs`.
 */
export async function untilGroupKnown(
  bot: Bot,
  group: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const groups = (await bot.ask({ cmd: "groups" }, "groups"))
      .groups as { name: string }[];
    if (groups.some((known) => known.name === group)) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `The node never had group ${group} within ${timeoutMs} ms; it had ${
          JSON.stringify(groups.map((known) => known.name))
        }`,
      );
    }
  }
}

/**
 * `/join group` from a terminal client, again until its node knows the
 * group (made on another node), or `timeoutMs`.
 */
export async function joinWhenKnown(
  chat: ChatProcess,
  group: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const joined = new RegExp(`Joined group '${group}'`);
  // The refusal (`ERROR: Group 'team' does not exist.`) is an error: on
  // stderr, where the success is not.
  const unknown = new RegExp(`Group '${group}' does not exist`, "g");
  for (let tries = 1;; tries++) {
    await chat.write(`/join ${group}\n`);
    const answer = await chat.waitUntil(
      () =>
        joined.test(chat.stdout)
          ? "joined"
          : (chat.stderr.match(unknown)?.length ?? 0) >= tries
          ? "unknown"
          : null,
      `an answer to /join ${group}`,
    );
    if (answer === "joined") return;
    if (Date.now() >= deadline) {
      throw new Error(
        `The node never had group ${group}: ${tries} /join answered unknown within ${timeoutMs} ms`,
      );
    }
    // The pace of the asking, well under the node's message rate.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until `name`'s end-to-end keys (published on whichever node) can be
 * fetched through `probe`'s node, as a sender there fetches them before it
 * sends end to end; at most `timeoutMs`. Uses up one one-time key.
 */
export async function untilKeysKnown(
  probe: ChatClient,
  name: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetchBundle(probe, name)).bundle.oneTime.length > 0) return;
    } catch (error) {
      // Not there yet; or asked too often (the node's message rate).
      if (
        !(error instanceof E2eKeyError) ||
        (error.code !== "no_keys" && error.code !== "slow_down")
      ) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${name} published no keys within ${timeoutMs} ms`);
    }
    // The pace of the polling, well under the node's message rate.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
