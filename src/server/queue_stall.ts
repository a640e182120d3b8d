/**
 * Recipients that do not drain, cut off: held back by them, senders wait no
 * longer than queueStallMs; then the recipient with the most queued among
 * those that took nothing meanwhile is cut off (StallWatch, backpressure.ts).
 */

import { type QueueGauge, StallWatch } from "./backpressure.ts";
import type { LogLimiter } from "./log_limiter.ts";

export interface QueueStallOptions<Id, C extends { readonly backlog: number }> {
  /** The connections served, each with what is queued for it. */
  channels: ReadonlyMap<Id, C>;
  maxQueuedBytes: number;
  queueStallMs: number;
  refusals: LogLimiter;
  /** Ends `id`'s connection for not reading. */
  cutOff(id: Id, channel: C): void;
}

/**
 * Watches `gauge` from now on: while it holds senders back, once per
 * stall period one stuck recipient is cut off. Closing the gauge ends it.
 */
export function watchQueueStall<Id, C extends { readonly backlog: number }>(
  gauge: QueueGauge,
  options: QueueStallOptions<Id, C>,
): void {
  const { channels, maxQueuedBytes, queueStallMs, refusals } = options;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const stalls = new StallWatch<Id>();
  const backlogs = function* (): Iterable<[Id, number]> {
    for (const [id, channel] of channels) yield [id, channel.backlog];
  };
  gauge.onChange((held) => {
    clearTimeout(stall);
    stall = undefined;
    if (held) {
      refusals.log(
        "queued",
        `${gauge.bytes} bytes queued for recipients, over ${maxQueuedBytes}: not reading senders until half of it is written`,
      );
      stalls.start(backlogs());
      stall = setTimeout(cutOffStuck, queueStallMs);
    }
  });

  function cutOffStuck(): void {
    stall = undefined;
    if (!gauge.held) return;
    const stuck = stalls.stuck(backlogs());
    const channel = stuck === null ? undefined : channels.get(stuck);
    if (stuck !== null && channel !== undefined) {
      refusals.log(
        "queued-stall",
        `recipients held senders back for ${queueStallMs} ms: cutting off one that took nothing meanwhile and has the most queued (${channel.backlog} bytes)`,
      );
      options.cutOff(stuck, channel);
    }
    if (gauge.held) stall = setTimeout(cutOffStuck, queueStallMs);
  }
}
