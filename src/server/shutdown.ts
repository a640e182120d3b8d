/**
 * The core's goodbye when the server stops: replies still waiting for the
 * disk first, then a goodbye to everyone, then every connection closed
 * within a grace.
 */

import { encodeMessage } from "../protocol/message_framing.ts";
import type { ServerMessage } from "../protocol/messages.ts";
import { CloseCode } from "../transport/connection.ts";
import { withDeadline } from "../transport/with_deadline.ts";
import type { CoreParts } from "./core_parts.ts";
import type { EdgeConnection } from "./ws_edge.ts";

/** How long shutdown waits for peers to acknowledge the close. */
const SHUTDOWN_GRACE_MS = 2000;

/**
 * Says goodbye to everyone once what waits for the disk is out, closes
 * every connection in `conns`, and resolves when they are closed or the
 * grace is up. `core.stopping` is already true: nothing new comes in.
 */
export async function sayGoodbye(
  core: CoreParts,
  conns: ReadonlySet<EdgeConnection>,
): Promise<void> {
  // Everyone is read again, to the end: the goodbyes and closes must pass.
  core.gauge.close();
  const goodbye: ServerMessage = {
    t: "bye",
    reason: "shutdown",
    text: "Server is shutting down.",
  };
  const encoded = encodeMessage(goodbye);
  // Replies still waiting for the disk go out first: a client stops
  // reading at the goodbye, and would count a stored message as not sent.
  // (A few rounds at most: connections may still be writing meanwhile.)
  for (let round = 0; round < 5; round++) {
    const synced = core.writes.durable();
    if (!synced) break;
    await synced;
  }
  await Promise.all(
    [...core.connections.channels.values()].map(async (channel) => {
      channel.sendEncoded(encoded);
      await channel.drain();
      channel.close(CloseCode.goingAway, "server is shutting down");
    }),
  );
  for (const conn of conns) {
    conn.close(CloseCode.goingAway, "server is shutting down");
  }
  // A peer that never answers the close frame must not hold the shutdown
  // hostage: after the grace, the edge destroys what is left.
  await withDeadline(
    Promise.all([...conns].map((conn) => conn.closed)),
    SHUTDOWN_GRACE_MS,
  );
}
