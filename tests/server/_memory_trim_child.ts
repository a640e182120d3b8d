/**
 * Run by memory_trim_test.ts in a process of its own: frees memory held
 * outside the JS heap and reports whether startMemoryTrim gave it back.
 * With --probe, only says whether the trimmer is active.
 */
import { startMemoryTrim } from "../../src/server/memory_trim.ts";

const MIB = 1024 * 1024;
if (Deno.args.includes("--probe")) {
  const trim = startMemoryTrim({ log: () => {} });
  trim.stop();
  console.log(JSON.stringify({ active: trim.active }));
  Deno.exit(0);
}

const lines: string[] = [];
let trimmed = () => {};
// Started before the load, as in the server.
const trim = startMemoryTrim({
  log: (line) => {
    lines.push(line);
    trimmed();
  },
  policy: {
    freedBytes: 16 * MIB,
    movedBytes: 4 * MIB,
    intervalMs: 1000,
  },
});

/** One load: what RSS was before, at its peak and once half was back. */
async function load(): Promise<Record<string, number>> {
  const start = Deno.memoryUsage().rss;
  // Buffers of a frame's size, allocated by the runtime's malloc outside the
  // JS heap, as the server's frames are.
  let kept: Uint8Array[] = [];
  for (let i = 0; i < 100_000; i++) kept.push(new Uint8Array(1000).fill(1));
  const peak = Deno.memoryUsage().rss;
  kept = [];
  // Backing stores are freed after a collection, some on a later task.
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Until half of what the load added is back, or 20 s: the trims say when.
  const target = start + (peak - start) / 2;
  const deadline = Date.now() + 20_000;
  while (Deno.memoryUsage().rss > target && Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      trimmed = resolve;
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    });
    clearTimeout(timer);
  }
  return { start, peak, after: Deno.memoryUsage().rss, kept: kept.length };
}

// The second load's memory is freed after the first was trimmed and the
// server had been quiet: as a collection long after a load frees it.
const loads = [await load(), await load()];
trim.stop();
console.log(
  JSON.stringify({
    active: trim.active,
    keepsFreedMemory: trim.keepsFreedMemory,
    lines,
    loads,
  }),
);
