// This module is browser compatible.

/**
 * Where a latency run's tail comes from, message by message (issue 21 item
 * 4): when each message's first recipient and its last recipient had it.
 * The first delivery is what the sender, the server's path up to its first
 * write and one recipient's read cost; the width from first to last is the
 * fan-out itself (the server's writes, and each load process reading its
 * share of the recipients' frames). A p99 far above the last delivery's
 * median comes from whole messages held up (a stall of the server, of a
 * load process, or of the machine), not from the width of every fan-out.
 */

import { percentileSorted } from "./_stats.ts";

/** One load process's view of one message: [sent at, first, last] (ms). */
export type MessageSpan = readonly [number, number, number];

export interface FanoutSpans {
  messages: number;
  /** Send to the first recipient's delivery, median over the messages. */
  firstP50: number;
  firstP99: number;
  /** Send to the last recipient's delivery. */
  lastP50: number;
  lastP99: number;
  /** First to last delivery of one message. */
  widthP50: number;
  widthP99: number;
}

/**
 * Merges the load processes' spans (each saw only its own recipients) into
 * one per message, and gives their percentiles (NaN without messages).
 */
export function fanoutSpans(
  perProcess: readonly (readonly MessageSpan[])[],
): FanoutSpans {
  const merged = new Map<number, [number, number]>();
  for (const spans of perProcess) {
    for (const [sentAt, first, last] of spans) {
      const known = merged.get(sentAt);
      if (known === undefined) merged.set(sentAt, [first, last]);
      else {
        known[0] = Math.min(known[0], first);
        known[1] = Math.max(known[1], last);
      }
    }
  }
  const firsts = new Float64Array(merged.size);
  const lasts = new Float64Array(merged.size);
  const widths = new Float64Array(merged.size);
  let i = 0;
  for (const [first, last] of merged.values()) {
    firsts[i] = first;
    lasts[i] = last;
    widths[i++] = last - first;
  }
  firsts.sort();
  lasts.sort();
  widths.sort();
  return {
    messages: merged.size,
    firstP50: percentileSorted(firsts, 50),
    firstP99: percentileSorted(firsts, 99),
    lastP50: percentileSorted(lasts, 50),
    lastP99: percentileSorted(lasts, 99),
    widthP50: percentileSorted(widths, 50),
    widthP99: percentileSorted(widths, 99),
  };
}

/**
 * Collects one load process's spans as its deliveries come: `add(sentAt,
 * latency)` per delivery, `spans()` at the end.
 */
export class SpanRecorder {
  readonly #spans = new Map<number, [number, number]>();

  add(sentAt: number, latency: number): void {
    const known = this.#spans.get(sentAt);
    if (known === undefined) this.#spans.set(sentAt, [latency, latency]);
    else if (latency < known[0]) known[0] = latency;
    else if (latency > known[1]) known[1] = latency;
  }

  spans(): MessageSpan[] {
    return [...this.#spans].map(([sentAt, [first, last]]) => [
      sentAt,
      Math.round(first * 1000) / 1000,
      Math.round(last * 1000) / 1000,
    ]);
  }
}
