/**
 * How a served connection ends: dismissed for breaking a rule (an encrypted
 * goodbye, then close), or closed by its peer; either way the room is told,
 * and what it was sent but may not have shown waits for its next sign-in.
 */

import { CloseCode } from "../transport/connection.ts";
import type { SecureChannel } from "../transport/secure_channel.ts";
import type { EdgeConnection } from "./ws_edge.ts";
import type { CoreParts } from "./core_parts.ts";
import { disconnect } from "./router.ts";
import { routeRun } from "./run_routing.ts";
import { describe } from "./served_connections.ts";
import type { ConnId } from "./state.ts";

/** Why a recipient whose queue grows past its limits is cut off. */
export const NOT_READING = "you are not reading your messages fast enough";

/** Ends a connection for breaking a rule: an encrypted goodbye, then close. */
export function dismiss(
  core: CoreParts,
  id: ConnId,
  channel: SecureChannel,
  why: string,
  reason: "violation" | "replaced" = "violation",
): void {
  const { connections } = core;
  if (!connections.channels.has(id)) return;
  applyHeldAcks(core, id);
  requeueUnconfirmed(core, id);
  connections.channels.delete(id);
  core.addressBacklogs.remove(id);
  core.delivery.forget(id);
  core.refusals.log(
    `dismiss:${connections.groupOf(id)}`,
    `disconnecting ${describe(core.state, id, channel)}: ${why}`,
  );
  channel.send({
    t: "bye",
    reason,
    text: `Disconnected by the server: ${why}.`,
  });
  channel.drain().then(() => channel.close(CloseCode.policyViolation, reason));
  disconnectNow(core, id);
}

/**
 * What is left of a connection whose loop ended (closed by its peer, said
 * goodbye, broke the protocol, or was dismissed), cleared.
 */
export function endServed(
  core: CoreParts,
  id: ConnId,
  conn: EdgeConnection,
  channel: SecureChannel,
  group: string,
  said: "goodbye" | null,
): void {
  const { connections, state } = core;
  core.registrationDeadlines.delete(id);
  if (conn.localCloseReason !== null) {
    core.refusals.log(
      `local:${group}`,
      `closed ${describe(state, id, channel)}: ${conn.localCloseReason}`,
    );
  }
  const name = state.nameOf(id);
  if (connections.channels.has(id)) {
    applyHeldAcks(core, id);
    if (said !== "goodbye") requeueUnconfirmed(core, id);
    connections.channels.delete(id);
    core.delivery.forget(id);
    disconnectNow(core, id);
    if (name !== null) core.log(`${name} left`);
  }
  connections.lastHeard.delete(id);
  connections.dropHeldAcks(id);
  connections.groups.delete(id);
  core.addressBacklogs.remove(id);
}

/**
 * Cuts off the connection with the most queued in `id`'s address group if
 * the group's total passed its budget: the rest of the group keeps going.
 */
export function checkAddressBacklog(core: CoreParts, id: ConnId): void {
  const { connections, addressBacklogs } = core;
  const over = addressBacklogs.over(id, core.queuedFor);
  if (over === null) return;
  const channel = connections.channels.get(over.largest);
  if (channel === undefined) return addressBacklogs.remove(over.largest);
  const group = connections.groupOf(id);
  core.refusals.log(
    `backlog:${group}`,
    `${group} has ${over.total} bytes queued for its connections, over its ${core.limits.maxBacklogBytesPerAddress}: cutting off the one with the most`,
  );
  dismiss(core, over.largest, channel, NOT_READING);
}

/**
 * A connection is gone: the room is told, and so are the other nodes
 * when a user was signed in on it.
 */
function disconnectNow(core: CoreParts, id: ConnId): void {
  const { state, cluster } = core;
  const session = state.session(id);
  const key = session?.nameKey;
  const name = session?.name;
  // Its name, back from the same address with the same key before long,
  // signs in without spending the address's sign-ins (comebacks.ts).
  const address = state.addressOf(id);
  if (
    session !== undefined && address !== null && session.fingerprint !== null
  ) {
    core.addresses.comebacks.ended(
      address,
      session.nameKey,
      session.fingerprint,
      session.connectedAt,
      Date.now(),
    );
  }
  // Files coming from other nodes: their senders' nodes hear it now.
  for (const gone of core.bridge.dropConnection(id)) {
    if (name !== undefined) {
      cluster?.fileAnswer(gone.node, gone.xfer, name, null);
    }
  }
  core.deliver(
    core.writes.commit(() => disconnect(state, id, Date.now()), () => []),
  );
  if (key !== undefined) cluster?.left(key);
}

/**
 * A connection of a client that does not acknowledge ended without saying
 * goodbye, or was cut off: what was sent to it since it was last heard
 * from may never have been shown, so it waits for the next sign-in (as
 * history; maybe twice, never lost). A client that acknowledges has
 * everything it did not acknowledge wait anyway.
 */
function requeueUnconfirmed(core: CoreParts, id: ConnId): void {
  const session = core.state.session(id);
  const since = core.connections.lastHeard.get(id);
  if (
    session === undefined || since === undefined || session.acks
  ) return;
  core.writes.commit(
    () => core.store.requeueSince(session.nameKey, since),
    () => 0,
  );
  core.shared?.drain();
}

/** Applies what a connection that is ending held back, while it is registered. */
function applyHeldAcks(core: CoreParts, id: ConnId): void {
  const steps = core.connections.takeHeldAcks(id);
  if (steps.length === 0 || core.state.session(id) === undefined) return;
  routeRun(core, id, steps);
  core.shared?.drain();
}
