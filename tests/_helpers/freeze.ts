/**
 * Freezing a process for a test, and knowing it is frozen.
 *
 * `kill(pid, SIGSTOP)` returns once the signal is sent, not once every thread
 * of the process has stopped: a multi-threaded process (nats-server's Go
 * runtime, `deno`'s threads) can still answer a request sent right after it.
 * A CI run saw JetStream acknowledge a record published just after its
 * SIGSTOP. `freeze` waits until the kernel reports every thread stopped.
 */

import { WAIT_MS } from "./patience.ts";

// Stopping takes the kernel no time, but each look at /proc spawns a
// process, which a loaded machine is slow to start.
const STOP_DEADLINE_MS = WAIT_MS;

/** Sends SIGSTOP to `pid` and resolves once all its threads are stopped. */
export async function freeze(pid: number): Promise<void> {
  Deno.kill(pid, "SIGSTOP");
  await whenStopped(pid);
}

/** Resolves once every thread of `pid` is in state T (stopped), on Linux. */
export async function whenStopped(pid: number): Promise<void> {
  if (Deno.build.os !== "linux") return;
  const deadline = performance.now() + STOP_DEADLINE_MS;
  while (!(await allThreadsStopped(pid))) {
    if (performance.now() > deadline) {
      throw new Error(
        `process ${pid} did not stop within ${STOP_DEADLINE_MS} ms`,
      );
    }
    // Polling the kernel's state (not a guess at how long stopping takes).
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function allThreadsStopped(pid: number): Promise<boolean> {
  // Deno grants /proc/<pid> only with --allow-all, which the test tasks do not
  // give: `cat` (through sh, for the glob) reads it under --allow-run.
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${pid}/task/*/stat 2>/dev/null`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const stats = new TextDecoder().decode(stdout).split("\n").filter((line) =>
    line !== ""
  );
  // Each state follows the command name, which is in parentheses and may
  // hold spaces or parentheses itself: read after the last ')'.
  return stats.length > 0 && stats.every((stat) => {
    const state = stat[stat.lastIndexOf(")") + 2];
    return state === "T" || state === "t";
  });
}
