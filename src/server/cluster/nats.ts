/**
 * The one place the NATS client enters (issue 19): the official clients on
 * npm, maintained by Synadia (@nats-io/transport-node, @nats-io/kv,
 * @nats-io/jetstream). Only
 * loaded with `chat serve --cluster`.
 */

import {
  connect,
  type NatsConnection,
  RequestError,
} from "@nats-io/transport-node";
import { type KV, Kvm, KvWatchInclude } from "@nats-io/kv";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { natsServers } from "../nats_urls.ts";
export {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
export type {
  JetStreamClient,
  JetStreamManager,
  PubAck,
} from "@nats-io/jetstream";

export type { KV, NatsConnection };

/**
 * Whether `error` is JetStream refusing a compare-and-set write (a KV
 * `create` of a key that exists, an `update` or `delete` at a revision
 * another writer moved on from): by its API error code, as the KV client's
 * own `create` tells it, not by the words of its message.
 */
export function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** JetStream has no stream of that name: by its API error's code. */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    error.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * JetStream did not answer at all: not enabled on the server (the client's
 * JetStreamNotEnabled, a class its package does not export, so told by its
 * name; or the API's code for an account without it), or nothing
 * listening on the subject (a RequestError with no responders).
 */
export function isJetStreamUnavailable(error: unknown): boolean {
  return (error instanceof Error && error.name === "JetStreamNotEnabled") ||
    (error instanceof JetStreamApiError &&
      error.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) ||
    (error instanceof RequestError && error.isNoResponders());
}
export { KvWatchInclude };
export type { KvWatchEntry } from "@nats-io/kv";
export type { Msg, Subscription } from "@nats-io/transport-node";
export { createInbox, headers } from "@nats-io/transport-node";

/**
 * A connection to the NATS servers at `urls` (nats://[USER:PASS@]host:port,
 * see natsServers in ../nats_urls.ts), which keeps reconnecting when they go away. `noEcho`: a
 * node is never sent its own messages back.
 */
export async function connectNats(
  urls: readonly string[],
  name: string,
): Promise<NatsConnection> {
  const { servers, auth } = natsServers(urls);
  guardPeerResets();
  try {
    return await connect({
      servers,
      ...auth,
      name,
      noEcho: true,
      maxReconnectAttempts: -1,
      // No stack captured at each request (the client's default): our
      // errors say what failed without it, and a busy node makes many.
      noAsyncTraces: true,
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot reach NATS at ${
        servers.join(", ")
      }: ${why}. Start nats-server -js there, or check --cluster`,
    );
  }
}

/**
 * A reset sent by a NATS server (or anything on its port) never ends the
 * process. The NATS client takes every listener off its socket while it
 * swaps handlers and when it closes it (@nats-io/transport-node,
 * node_transport.js `removeAllListeners`), and a reset that arrives then is
 * an `error` event no one hears: an uncaught error, which ended the process
 * (a client without the password against a NATS that asks for one, after 1
 * to 13 tries: tests/server/cluster/nats_peer_reset_test.ts). The client
 * learns that the connection is gone all the same (it closed it, or its
 * `close` event), and reconnects; the error itself is dropped here. Only
 * a Node-style socket's (with a `syscall`): Deno's own errors carry the
 * same codes but no `syscall`, and one nothing catches still ends the
 * process, as a bug. The NATS client's are not the only such sockets: the
 * edge's node:http, node:net and node:tls sockets (ws_edge.ts,
 * tls_bridge.ts) are too, each with its own `error` listener; one left
 * without would end a single node and, on a cluster node, be dropped here
 * unseen (the event cannot tell whose socket it was).
 */
function guardPeerResets(): void {
  if (peerResetsGuarded) return;
  peerResetsGuarded = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error as { code?: unknown; syscall?: unknown } | null;
    if (
      typeof error?.code === "string" && PEER_RESETS.has(error.code) &&
      typeof error.syscall === "string"
    ) {
      event.preventDefault();
    }
  });
}

let peerResetsGuarded = false;

/** The socket errors that are a peer's doing: the connection reset or cut. */
const PEER_RESETS = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/**
 * Whether the NATS server `nc` is connected to asked it for credentials.
 * One that does not lets anyone who can reach its port do what a node does:
 * write messages into the log as any user, bind names, change groups and
 * keys, and read who talks to whom.
 */
export function natsAsksForCredentials(nc: NatsConnection): boolean {
  return nc.info?.auth_required === true;
}

/**
 * The key-value bucket `name` (JetStream), made if it does not exist yet;
 * `ttlMs` drops keys not written for that long (0: never).
 */
export async function openBucket(
  nc: NatsConnection,
  name: string,
  ttlMs: number,
): Promise<KV> {
  // Nodes started together race to make a bucket: JetStream refuses the
  // maker that comes second by a moment ("subjects overlap with an
  // existing stream", or the name in use), and that node did not start.
  // Asked again, it finds the bucket the other made and opens it.
  for (let attempt = 1;; attempt++) {
    try {
      return await new Kvm(nc).create(name, { history: 1, ttl: ttlMs });
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      if (attempt < BUCKET_ATTEMPTS && MADE_MEANWHILE.test(why)) continue;
      throw new Error(
        `Cannot open the NATS key-value bucket ${name}: ${why}. Is JetStream on (nats-server -js)?`,
      );
    }
  }
}

/** How often a bucket another node was making at the same time is asked for. */
const BUCKET_ATTEMPTS = 5;

/** What JetStream says to the second of two nodes making one bucket at once. */
const MADE_MEANWHILE = /subjects overlap|already in use/i;
