/**
 * A run of messages from one connection, routed in one unit of work: what
 * it sends, and what a run that could not be saved answers instead.
 */

import type { CoreParts } from "./core_parts.ts";
import { roughSize } from "./delivery.ts";
import type { Outbound } from "./outbound.ts";
import { reaches } from "./recipients.ts";
import { route } from "./router.ts";
import type { Routed, Step } from "./run_step.ts";
import { describe } from "./served_connections.ts";
import { chunkWritesNothing } from "./transfers.ts";
import type { SharedLog } from "./shared_log.ts";
import type { ConnId } from "./state.ts";

/** Requests that store a chat message (their `ok` says it is stored). */
const CHAT_REQUESTS: ReadonlySet<string> = new Set([
  "say",
  "msg",
  "gsay",
  "e2e_msg",
  "e2e_gsay",
]);

/** Error codes that mean a limit was reached: worth a line in the log. */
const LOGGED_REFUSALS: ReadonlySet<string> = new Set([
  "too_long",
  "limit",
  "too_large",
]);

/**
 * Routes a run of messages from one connection with all their writes in one
 * unit of work (a savepoint of the turn's transaction when held to the end
 * of the turn, see turnBatch), committed before anything is sent (and
 * synced before the sender's replies go, see deliverRun): what a reply
 * confirms is on disk. One unit per run, not per message, because a commit
 * costs more than routing a message. Routing stops once what is queued for the sender
 * passes maxBacklogBytes: a frame of requests whose replies are big (40
 * `history` of 256 KiB each) must not be built whole before that is seen.
 */
export function routeRun(
  core: CoreParts,
  id: ConnId,
  steps: readonly Step[],
): Routed {
  const { state, limits, delivery } = core;
  const now = Date.now();
  const run = (): Routed => {
    const out: Outbound[] = [];
    // Bytes queued for `id`: in its channel, and waiting for the disk.
    let queued = delivery.queuedFor(id);
    for (const step of steps) {
      const routed: Outbound[] = "reply" in step
        ? [{ to: [id], message: step.reply }]
        : route(state, id, step.message, step.body, now);
      for (const one of routed) {
        out.push(one);
        if (reaches(state, one.to, id)) {
          queued += roughSize(one);
        }
      }
      if (queued > limits.maxBacklogBytes) return { out, full: true };
    }
    return { out, full: false };
  };
  const logged = () => {
    const routed = run();
    noteRefusals(core, id, routed.out);
    return routed;
  };
  // A file chunk passed on as it is writes nothing: no transaction for it.
  const only = steps.length === 1 ? steps[0]! : null;
  if (
    only !== null && "message" in only && only.message.t === "file_chunk" &&
    chunkWritesNothing(core.state, id, only.message, only.body)
  ) return logged();
  return core.writes.commit(logged, () => failedRun(id, steps));
}

/**
 * What a run whose writes could not be committed answers: details stay in
 * the log; the user only learns that it failed.
 */
export function failedRun(id: ConnId, steps: readonly Step[]): Routed {
  const out = steps.flatMap((step): Outbound[] =>
    "reply" in step || !("id" in step.message) ? [] : [{
      to: [id],
      message: {
        t: "error",
        re: step.message.id,
        code: "internal",
        text: "ERROR: The server could not save that; try again",
      },
    }]
  );
  return { out, full: false };
}

/** Refusals at a limit are logged (once per kind and address), like the others. */
function noteRefusals(
  core: CoreParts,
  id: ConnId,
  out: readonly Outbound[],
): void {
  const channel = core.connections.channels.get(id);
  if (channel === undefined) return;
  for (const { message } of out) {
    if (message.t === "error" && LOGGED_REFUSALS.has(message.code)) {
      const group = core.connections.groupOf(id);
      core.refusals.log(
        `${message.code}:${group}`,
        `refused ${describe(core.state, id, channel)}: ${message.text}`,
      );
    }
  }
}

/**
 * `routed` once its messages are in the cluster's log (shared_log.ts).
 * Called right after routeRun, before anything else commits.
 */
export async function settle(
  log: SharedLog,
  steps: readonly Step[],
  routed: Routed,
): Promise<Routed> {
  const chatRequests = new Set<number>();
  for (const step of steps) {
    if ("message" in step && CHAT_REQUESTS.has(step.message.t)) {
      chatRequests.add((step.message as { id: number }).id);
    }
  }
  return {
    out: await log.settle(routed.out, chatRequests),
    full: routed.full,
  };
}
