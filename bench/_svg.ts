// This module is browser compatible.

/**
 * The latency chart as a hand-written SVG: for each kind of message, the
 * p50, p99 and max delivery latency of each server, median of the runs with
 * a whisker from the lowest to the highest run, on a logarithmic axis.
 */

import type { Spread } from "./_stats.ts";

export interface LatencySeries {
  label: string;
  color: string;
  p50: Spread;
  p99: Spread;
  max: Spread;
}

export interface LatencyGroup {
  title: string;
  series: LatencySeries[];
}

const WIDTH = 900;
const HEIGHT = 460;
const LEFT = 70;
const RIGHT = 20;
const TOP = 60;
const BOTTOM = 70;

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

function label(ms: number): string {
  if (ms >= 1000) return `${ms / 1000} s`;
  if (ms >= 1) return `${ms} ms`;
  return `${ms} ms`;
}

export function latencySvg(
  groups: LatencyGroup[],
  options: { title: string; subtitle: string; targetMs?: number },
): string {
  const values = groups.flatMap((g) =>
    g.series.flatMap((s) =>
      [s.p50, s.p99, s.max].flatMap((v) => [v.min, v.max])
    )
  ).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(0.1, ...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...values))));
  const plotH = HEIGHT - TOP - BOTTOM;
  const plotW = WIDTH - LEFT - RIGHT;
  const y = (ms: number) => {
    const v = Math.min(hi, Math.max(lo, ms));
    return TOP + plotH * (1 - Math.log10(v / lo) / Math.log10(hi / lo));
  };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${
      WIDTH / 2
    }" y="22" text-anchor="middle" font-size="16" font-weight="bold">${
      escape(options.title)
    }</text>`,
    `<text x="${WIDTH / 2}" y="40" text-anchor="middle" fill="#555">${
      escape(options.subtitle)
    }</text>`,
  );
  // Grid and axis labels at each power of ten.
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${
        WIDTH - RIGHT
      }" y1="${yy}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${
        LEFT - 6
      }" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#333">${
        label(Number(v.toPrecision(1)))
      }</text>`,
    );
  }
  out.push(
    `<text x="16" y="${TOP + plotH / 2}" transform="rotate(-90 16 ${
      TOP + plotH / 2
    })" text-anchor="middle" fill="#333">delivery latency (log scale)</text>`,
  );
  if (options.targetMs !== undefined) {
    const yy = y(options.targetMs).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${
        WIDTH - RIGHT
      }" y1="${yy}" y2="${yy}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - RIGHT - 4}" y="${
        Number(yy) - 4
      }" text-anchor="end" fill="#c00">p99 target ${options.targetMs} ms</text>`,
    );
  }
  const groupW = plotW / groups.length;
  const metrics = ["p50", "p99", "max"] as const;
  groups.forEach((group, gi) => {
    const gx = LEFT + gi * groupW;
    const clusterW = (groupW - 20) / metrics.length;
    const barW = Math.min(
      28,
      (clusterW - 10) / Math.max(1, group.series.length),
    );
    metrics.forEach((metric, mi) => {
      const cx = gx + 10 + mi * clusterW;
      const start = cx + (clusterW - barW * group.series.length) / 2;
      group.series.forEach((series, si) => {
        const v = series[metric];
        if (!Number.isFinite(v.median)) return;
        const x = start + si * barW;
        const top = y(v.median);
        out.push(
          `<rect x="${(x + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${
            (barW - 2).toFixed(1)
          }" height="${
            (TOP + plotH - top).toFixed(1)
          }" fill="${series.color}"><title>${
            escape(
              `${group.title} ${metric} ${series.label}: ${
                v.median.toFixed(3)
              } ms (runs ${v.min.toFixed(3)}–${v.max.toFixed(3)})`,
            )
          }</title></rect>`,
        );
        if (v.max > v.min) {
          const mid = (x + barW / 2).toFixed(1);
          out.push(
            `<line x1="${mid}" x2="${mid}" y1="${y(v.max).toFixed(1)}" y2="${
              y(v.min).toFixed(1)
            }" stroke="#222"/>`,
          );
        }
      });
      out.push(
        `<text x="${(cx + clusterW / 2).toFixed(1)}" y="${
          TOP + plotH + 16
        }" text-anchor="middle" fill="#333">${metric}</text>`,
      );
    });
    out.push(
      `<text x="${(gx + groupW / 2).toFixed(1)}" y="${
        TOP + plotH + 36
      }" text-anchor="middle" font-weight="bold">${escape(group.title)}</text>`,
    );
  });
  // Legend.
  const series = groups[0]?.series ?? [];
  series.forEach((s, i) => {
    const x = LEFT + i * 170;
    const yy = HEIGHT - 16;
    out.push(
      `<rect x="${x}" y="${
        yy - 10
      }" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${x + 18}" y="${yy}" fill="#333">${escape(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
