/**
 * The bus between a cluster's nodes (issue 19): sign-ins and a transfer's
 * messages to a recipient on a subject per user that only the nodes they
 * are signed in on listen to, and recipients' answers on a subject per
 * transfer under its sender's node. Chat messages go through the shared
 * log instead (log.ts). Core NATS: a message reaches the nodes listening
 * when it is published, at most once, and a node is never sent its own
 * (noEcho, and the node id as a second check).
 */

import { type BusEvent, decodeBusEvent, encodeBusEvent } from "./bus_event.ts";
import type { NatsConnection, Subscription } from "./nats.ts";
import { nodeTransfersSubject, userSubject } from "./subjects.ts";

export class ClusterBus {
  readonly #nc: NatsConnection;
  readonly #node: string;
  readonly #log: (line: string) => void;
  #receive: ((event: BusEvent) => void) | null = null;
  readonly #users = new Map<string, Subscription>();

  constructor(nc: NatsConnection, node: string, log: (line: string) => void) {
    this.#nc = nc;
    this.#node = node;
    this.#log = log;
  }

  /** Starts passing other nodes' events to `receive`. */
  start(receive: (event: BusEvent) => void): void {
    this.#receive = receive;
    // What recipients elsewhere say about the transfers run here.
    this.#subscribe(nodeTransfersSubject(this.#node));
  }

  publish(subject: string, event: BusEvent): void {
    try {
      this.#nc.publish(subject, encodeBusEvent(event));
    } catch (error) {
      // Closed or draining: the other nodes miss it (at most once).
      this.#log(
        `cluster: could not publish to ${subject}: ${messageOf(error)}`,
      );
    }
  }

  /** What concerns this user comes here from now on. */
  listen(nameKey: string): void {
    if (this.#users.has(nameKey) || this.#nc.isClosed()) return;
    this.#users.set(nameKey, this.#subscribe(userSubject(nameKey)));
  }

  /** …and no longer. */
  stopListening(nameKey: string): void {
    const sub = this.#users.get(nameKey);
    this.#users.delete(nameKey);
    try {
      sub?.unsubscribe();
    } catch {
      // The connection is closing: the subscription goes with it.
    }
  }

  #subscribe(subject: string): Subscription {
    return this.#nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error !== null) {
          this.#log(`cluster: ${subject}: ${messageOf(error)}`);
          return;
        }
        let event: BusEvent;
        try {
          event = decodeBusEvent(msg.data);
        } catch (bad) {
          this.#log(
            `cluster: dropped a bad event on ${subject}: ${messageOf(bad)}`,
          );
          return;
        }
        if (event.node === this.#node) return;
        this.#receive?.(event);
      },
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
