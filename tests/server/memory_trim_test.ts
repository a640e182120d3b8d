import assert from "node:assert/strict";
import { SERVER_V8_FLAGS, TrimPolicy } from "../../src/server/memory_trim.ts";

const MIB = 1024 * 1024;
const policy = () =>
  new TrimPolicy(look(10, 100), {
    freedBytes: 32 * MIB,
    movedBytes: 8 * MIB,
    intervalMs: 10_000,
  });
/** Free MiB, RSS MiB. */
const look = (free: number, rss: number) => ({
  freeBytes: free * MIB,
  rss: rss * MIB,
});

Deno.test("TrimPolicy.due: once freedBytes are free and the count has moved by movedBytes since the last trim", () => {
  const p = policy();
  assert.equal(p.due(look(30, 100), 0), false);
  assert.equal(p.due(look(42, 100), 2_000), true);
});

Deno.test("TrimPolicy.due: free bytes already given back by a trim do not call for another", () => {
  const p = policy();
  assert.equal(p.due(look(200, 300), 0), true);
  p.trimmed(look(200, 100), 0);
  // Still 200 MiB free, but given back and nothing moved: never again.
  assert.equal(p.due(look(200, 100), 10_000), false);
  assert.equal(p.due(look(204, 104), 600_000), false);
});

Deno.test("TrimPolicy.due: memory freed after the last trim, as by a late collection, calls for another an interval later", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  // V8 frees the load's buffers 5 s later (RSS unchanged): too soon.
  assert.equal(p.due(look(240, 150), 5_000), false);
  assert.equal(p.due(look(240, 150), 10_000), true);
});

Deno.test("TrimPolicy.due: free memory reused and freed again calls for a trim, though the count came back", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  // Seen reused (resident again), then freed: back where the trim left it.
  assert.equal(p.due(look(60, 150), 5_000), false);
  assert.equal(p.due(look(100, 150), 10_000), true);
  // Reused and freed between two looks: only the RSS shows it.
  p.trimmed(look(100, 150), 10_000);
  assert.equal(p.due(look(100, 190), 20_000), true);
});

Deno.test("TrimPolicy.due: not with less than freedBytes free, however much moved", () => {
  const p = policy();
  p.trimmed(look(100, 150), 0);
  assert.equal(p.due(look(20, 400), 30_000), false);
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
    "startMemoryTrim gives freed malloc memory back to the system in a process with --allow-ffi, after each load, though malloc keeps what is freed meanwhile",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const result = await child(["--allow-ffi", "--v8-flags=--expose-gc"], []);
    assert.equal(result.active, true);
    // mallopt took both settings: freed buffers stay for the next ones.
    assert.equal(result.keepsFreedMemory, true);
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

/** The V8 flags a deno.json task passes (`--v8-flags=a,b`), in order. */
function v8FlagsOf(task: string): string[] {
  return task.split(/\s+/)
    .filter((word) => word.startsWith("--v8-flags="))
    .flatMap((word) => word.slice("--v8-flags=".length).split(","));
}

// The bench starts the server with the start task's flags, and people with
// the start or chat task or the built executable: each must carry them.
Deno.test("SERVER_V8_FLAGS are passed by the start, chat and build tasks of deno.json", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  for (const name of ["start", "chat", "build"]) {
    const task: string = config.tasks[name];
    const flags = v8FlagsOf(task);
    for (const flag of SERVER_V8_FLAGS) {
      assert.ok(flags.includes(flag), `task ${name} lacks ${flag}: ${task}`);
    }
  }
});

// Deno refuses a flag V8 does not know (exit 1), so a renamed flag after an
// upgrade fails here rather than stopping the server from starting.
Deno.test("SERVER_V8_FLAGS are known to this Deno's V8", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `--v8-flags=${SERVER_V8_FLAGS.join(",")}`,
      "console.log('started')",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "started");
});
