/**
 * Recipients that do not drain, cut off: held back by them, senders wait no
 * longer than queueStallMs; then the recipient that took nothing meanwhile
 * with the most queued is cut off, and with it every one that took nothing
 * for two periods in a row (StallWatch, backpressure.ts).
 */

import { type QueueGauge, type StallLook, StallWatch } from "./backpressure.ts";
import type { LogLimiter } from "./log_limiter.ts";

/** A connection served: what is queued for it, and what it took so far. */
export interface StallChannel {
  readonly backlog: number;
  readonly taken?: number | undefined;
}

export interface QueueStallOptions<Id, C extends StallChannel> {
  /**
   * The connections served, each with what is queued for it and, where
   * known, what it has taken so far (the reader's progress).
   */
  channels: ReadonlyMap<Id, C>;
  maxQueuedBytes: number;
  queueStallMs: number;
  refusals: LogLimiter;
  /** Ends `id`'s connection for not reading. */
  cutOff(id: Id, channel: C): void;
}

/**
 * Watches `gauge` from now on: while it holds senders back, once per stall
 * period the most queued stuck recipient is cut off, and every one stuck for
 * two periods. Closing the gauge ends it.
 */
export function watchQueueStall<Id, C extends StallChannel>(
  gauge: QueueGauge,
  options: QueueStallOptions<Id, C>,
): void {
  const { channels, maxQueuedBytes, queueStallMs, refusals } = options;
  let stall: ReturnType<typeof setTimeout> | undefined;
  const stalls = new StallWatch<Id>();
  const backlogs = function* (): Iterable<StallLook<Id>> {
    for (const [id, channel] of channels) {
      yield [id, channel.backlog, channel.taken];
    }
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

  // Not one per period only: what each holds is freed only as it goes, and
  // 60 connections of one address that stopped reading, while the room was
  // busy, held every sender on the server (nobody was read) for a period
  // each, one cut off every 5 s, about half of them before the queues fell
  // below half the bound. Nor every one stuck in the first period: one that
  // does not say what it took is judged by its backlog, which in it also
  // grows by what was read before senders were held; a second period without
  // a fall is a reader that took nothing. (What a reader took rises piece by
  // piece as the socket takes a frame, direct_write.ts: a batch of up to 1
  // MiB takes 8 s to a reader on a 1 Mbit/s link, a piece 0.5 s; over TLS as
  // the bridge's front socket writes, tls_bridge.ts.)
  function cutOffStuck(): void {
    stall = undefined;
    if (!gauge.held) return;
    const stuck = stalls.allStuck(backlogs()).flatMap((id, i) => {
      const channel = channels.get(id);
      if (channel === undefined) return [];
      return i === 0 || stalls.periods(id) >= 2 ? [[id, channel] as const] : [];
    });
    if (stuck.length > 0) {
      refusals.log(
        "queued-stall",
        `recipients held senders back for ${queueStallMs} ms: cutting off ${stuck.length} (the most queued of those that took nothing meanwhile, and those that took nothing for two periods; the most queued: ${
          stuck[0]![1].backlog
        } bytes)`,
      );
      for (const [id, channel] of stuck) options.cutOff(id, channel);
    }
    if (gauge.held) stall = setTimeout(cutOffStuck, queueStallMs);
  }
}
