/**
 * The processes of a cluster bench: a private `nats-server -js` and
 * `chat serve --cluster` nodes on loopback, each resolved once it says it is
 * ready, all killed by {@link ClusterProcesses.close}. Shared by
 * cluster_hop.ts and cluster_nodes.ts.
 */

import { join } from "node:path";
import { generateRsaKeyPair, importPublicKeyPem } from "../src/crypto/keys.ts";
import { freePort } from "./_servers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;

export interface Started {
  child: Deno.ChildProcess;
  /** The first group of `ready` (or the whole match). */
  said: string;
}

export class ClusterProcesses {
  readonly children: Deno.ChildProcess[] = [];
  readonly dir: string;
  natsPort = 0;
  spki = new Uint8Array();
  #keyPath = "";

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A temporary folder, a server key and a nats-server with JetStream. */
  static async open(): Promise<ClusterProcesses> {
    const processes = new ClusterProcesses(
      await Deno.makeTempDir({ prefix: "chat-cluster-bench-" }),
    );
    try {
      processes.natsPort = freePort();
      await processes.start(
        "nats-server",
        [
          "-js",
          "-a",
          "127.0.0.1",
          "-p",
          String(processes.natsPort),
          "-sd",
          join(processes.dir, "nats"),
        ],
        /Server is ready/,
      );
      const pair = await generateRsaKeyPair(2048);
      processes.#keyPath = join(processes.dir, "private.pem");
      await Deno.writeTextFile(processes.#keyPath, pair.privatePem, {
        mode: 0o600,
      });
      processes.spki = (await importPublicKeyPem(pair.publicPem)).spki;
      return processes;
    } catch (error) {
      await processes.close();
      throw error;
    }
  }

  /** The nats-server's process (the first started). */
  get nats(): Deno.ChildProcess {
    return this.children[0]!;
  }

  /**
   * A `chat serve` node on an ephemeral port, rate limits lifted (the
   * bench's senders decide their rate), with `--cluster` unless `alone`.
   */
  async node(
    alone = false,
  ): Promise<{ url: string; child: Deno.ChildProcess }> {
    const started = await this.start(
      Deno.execPath(),
      [
        "run",
        "--quiet",
        "--allow-ffi",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys=networkInterfaces",
        MAIN,
        "serve",
        "--key",
        this.#keyPath,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data",
        ":memory:",
        "--rate",
        "0",
        "--rate-per-address",
        "0",
        ...(alone ? [] : ["--cluster", `nats://127.0.0.1:${this.natsPort}`]),
      ],
      alone
        ? /listening on (ws:\/\/127\.0\.0\.1:\d+)/
        : /listening on (ws:\/\/127\.0\.0\.1:\d+)[^]*joined the cluster/,
    );
    return { url: started.said, child: started.child };
  }

  /** Starts `command`; resolves once its stdout or stderr matches `ready`. */
  async start(
    command: string,
    commandArgs: string[],
    ready: RegExp,
  ): Promise<Started> {
    const child = new Deno.Command(command, {
      args: commandArgs,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.children.push(child);
    let seen = "";
    const readers = [child.stdout, child.stderr].map((stream) =>
      stream.pipeThrough(new TextDecoderStream()).getReader()
    );
    const said = await new Promise<string>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(new Error(`${command} did not start:\n${seen}`));
      }, START_TIMEOUT_MS);
      for (const reader of readers) {
        (async () => {
          for (;;) {
            const { value, done: ended } = await reader.read();
            if (ended) return;
            if (done) continue; // keep draining the pipe
            seen += value;
            const match = seen.match(ready);
            if (match) {
              done = true;
              clearTimeout(timer);
              resolve(match[1] ?? match[0]);
            }
          }
        })().catch(() => {});
      }
    });
    return { child, said };
  }

  async close(): Promise<void> {
    for (const child of this.children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await Promise.allSettled(this.children.map((child) => child.status));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
