/**
 * The one place the NATS client enters (issue 19): the official clients on
 * npm, maintained by Synadia (@nats-io/transport-node, @nats-io/kv,
 * @nats-io/jetstream). Only
 * loaded with `chat serve --cluster`.
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, Kvm, KvWatchInclude } from "@nats-io/kv";
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
