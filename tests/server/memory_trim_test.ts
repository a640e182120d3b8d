import assert from "node:assert/strict";
import { TrimPolicy } from "../../src/server/memory_trim.ts";

const MIB = 1024 * 1024;
const policy = () =>
  new TrimPolicy(look(10, 100), {
    freedBytes: 32 * MIB,
    busyFreedBytes: 128 * MIB,
    quietQueuedBytes: MIB,
    intervalMs: 10_000,
  });
/** Free MiB, RSS MiB, queued MiB. */
const look = (free: number, rss: number, queued = 0) => ({
  freeBytes: free * MIB,
  rss: rss * MIB,
  queuedBytes: queued * MIB,
});

Deno.test("TrimPolicy.due: once the load is over, when the allocator holds freedBytes more free than the lowest since the last trim", () => {
  const p = policy();
  assert.equal(p.due(look(30, 100), 0), false);
  assert.equal(p.due(look(42, 100), 2_000), true);
});

Deno.test("TrimPolicy.due: during a load, only once busyFreedBytes are freed", () => {
  const p = policy();
  assert.equal(p.due(look(100, 100, 50), 0), false);
  assert.equal(p.due(look(138, 100, 50), 2_000), true);
  // The same free memory once the queues are empty.
  assert.equal(policy().due(look(100, 100, 1), 0), true);
});

Deno.test("TrimPolicy.due: free bytes already given back by a trim do not call for another", () => {
  const p = policy();
  assert.equal(p.due(look(200, 300), 0), true);
  p.trimmed(look(200, 100), 0);
  // Still 200 MiB free, but given back: nothing new to trim, ever.
  assert.equal(p.due(look(200, 100), 10_000), false);
  assert.equal(p.due(look(200, 110), 600_000), false);
});

Deno.test("TrimPolicy.due: memory freed after the last trim, as by a late collection, calls for another an interval later", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  // V8 frees the load's buffers 5 s later (RSS unchanged): too soon.
  assert.equal(p.due(look(240, 150), 5_000), false);
  assert.equal(p.due(look(240, 150), 10_000), true);
});

Deno.test("TrimPolicy.due: free memory reused and freed again counts from the lowest it fell to", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  // Reused under a load: those pages are resident again.
  assert.equal(p.due(look(60, 190, 50), 12_000), false);
  // Freed again: 40 MiB above the lowest, though only 0 above the trim.
  assert.equal(p.due(look(100, 190), 14_000), true);
});

Deno.test("TrimPolicy.due: reused and freed between two looks, RSS grown as far as malloc holds it free", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  // The free count looks as after the trim, but RSS grew by 60 MiB.
  assert.equal(p.due(look(100, 210), 12_000), true);
  // RSS grown by what malloc does not hold free (V8's own heap): no.
  p.trimmed(look(10, 150), 12_000);
  assert.equal(p.due(look(10, 210), 30_000), false);
});

const CHILD = new URL("./_memory_trim_child.ts", import.meta.url).pathname;

async function child(
  flags: string[],
  args: string[],
): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, CHILD, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + text);
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

// The real thing: a process given --allow-ffi, with memory freed outside the
// JS heap, gives it back (glibc on Linux only), and again after a second
// load, freed after the first was trimmed.
Deno.test({
  name:
    "startMemoryTrim gives freed malloc memory back to the system in a process with --allow-ffi, after each load",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const result = await child(["--allow-ffi", "--v8-flags=--expose-gc"], []);
    assert.equal(result.active, true);
    const lines = result.lines as string[];
    assert.ok(lines.length >= 2, JSON.stringify(result));
    assert.match(lines[0]!, /^memory: gave back \d+ MiB of freed memory/);
    // Each time, at least half of what the load added came back.
    const loads = result.loads as Record<string, number>[];
    assert.equal(loads.length, 2);
    for (const { start, peak, after } of loads) {
      assert.ok(
        after! <= start! + (peak! - start!) / 2,
        JSON.stringify(result),
      );
    }
  },
});

Deno.test({
  name: "startMemoryTrim does nothing, and asks nothing, without --allow-ffi",
  async fn() {
    const result = await child([], ["--probe"]);
    assert.deepEqual(result, { active: false });
  },
});
