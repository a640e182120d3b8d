import assert from "node:assert/strict";
import { TrimPolicy } from "../../src/server/memory_trim.ts";

const MIB = 1024 * 1024;
const policy = () =>
  new TrimPolicy(100 * MIB, {
    growthBytes: 64 * MIB,
    intervalMs: 10_000,
    quietQueuedBytes: MIB,
    quietTrims: 2,
  });

Deno.test("TrimPolicy.due: during a load, once RSS has grown by the growth since the last trim", () => {
  const p = policy();
  assert.equal(p.due(150 * MIB, 50 * MIB, 0), false);
  assert.equal(p.due(164 * MIB, 50 * MIB, 0), true);
  p.trimmed(300 * MIB, 50 * MIB, 0);
  // Grown again, but too soon after the last trim.
  assert.equal(p.due(400 * MIB, 50 * MIB, 5_000), false);
  assert.equal(p.due(400 * MIB, 50 * MIB, 10_000), true);
  assert.equal(p.due(350 * MIB, 50 * MIB, 10_000), false);
});

Deno.test("TrimPolicy.due: once the load is over, quietTrims trims an interval apart while RSS stays above the lowest it has been", () => {
  const p = policy();
  p.trimmed(500 * MIB, 50 * MIB, 0);
  // Quiet, no growth since the last trim, but far above the lowest (100).
  assert.equal(p.due(500 * MIB, 0, 10_000), true);
  p.trimmed(480 * MIB, 0, 10_000);
  // Again, an interval later (the collector may have freed more since).
  assert.equal(p.due(480 * MIB, 0, 15_000), false);
  assert.equal(p.due(480 * MIB, 0, 20_000), true);
  p.trimmed(470 * MIB, 0, 20_000);
  // Still quiet and high after quietTrims: trimming again would not help.
  assert.equal(p.due(470 * MIB, 0, 60_000), false);
  // A new load, then quiet again: more.
  assert.equal(p.due(470 * MIB, 10 * MIB, 70_000), false);
  assert.equal(p.due(470 * MIB, 0, 80_000), true);
});

Deno.test("TrimPolicy.due: not when RSS is near the lowest it has been", () => {
  const p = policy();
  assert.equal(p.due(120 * MIB, 0, 60_000), false);
});

Deno.test("TrimPolicy.due: RSS that fell by itself lowers the marks", () => {
  const p = policy();
  assert.equal(p.due(80 * MIB, 50 * MIB, 0), false);
  assert.equal(p.due(144 * MIB, 50 * MIB, 0), true);
});

// The real thing: a process given --allow-ffi, with memory freed outside the
// JS heap, gives it back (glibc on Linux only).
Deno.test({
  name:
    "startMemoryTrim gives freed malloc memory back to the system in a process with --allow-ffi",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const script = new URL("./_memory_trim_child.ts", import.meta.url);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--v8-flags=--expose-gc",
        script.pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + text);
    const result = JSON.parse(text.trim().split("\n").at(-1)!);
    assert.equal(result.active, true);
    assert.ok(result.lines.length > 0, "no trim was logged");
    assert.match(result.lines[0], /^memory: gave back \d+ MiB of freed memory/);
    // At least half of what the load added came back.
    assert.ok(
      result.after <= result.start + (result.peak - result.start) / 2,
      JSON.stringify(result),
    );
  },
});

Deno.test({
  name: "startMemoryTrim does nothing, and asks nothing, without --allow-ffi",
  async fn() {
    const script = new URL("./_memory_trim_child.ts", import.meta.url);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", script.pathname, "--probe"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    assert.equal(result.active, false);
  },
});
