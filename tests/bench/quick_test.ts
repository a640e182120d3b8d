import assert from "node:assert/strict";

const MAIN = new URL("../../bench/main.ts", import.meta.url).pathname;
/**
 * The bench is stopped once it has said nothing for this long: it logs a
 * line at every step (on stderr), none of which takes more than ~6 s on a
 * quiet machine. Not a deadline on the whole run: that took ~40 s quiet, and
 * over 60 s (the deadline this test had) with the 2 cores shared at a load of
 * 6; the bench's own limit for --quick (4 min, HARD_LIMIT_MS in
 * bench/main.ts, exit code 2) bounds the whole.
 */
const SILENCE_MS = 60_000;

/** `deno run` of a quick bench writing into `out`, with `extra` flags. */
function quickArgs(out: string, extra: string[] = []): string[] {
  return [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-sys",
    MAIN,
    "--quick",
    // The real-client file scenario (256 MiB, seven processes, sshd)
    // alone takes longer than these tests may; the bench runs it.
    "--skip",
    "realfiles",
    ...extra,
    "--out",
    out,
  ];
}

Deno.test("bench/main.ts --quick prints the report table and writes the raw JSON", async () => {
  const out = await Deno.makeTempDir({ prefix: "chat-bench-test-" });
  const abort = new AbortController();
  let silent = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      silent = true;
      abort.abort();
    }, SILENCE_MS);
  };
  heard();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: quickArgs(out),
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).spawn();
    const [{ code }, stdout, stderr] = await Promise.all([
      child.status,
      new Response(child.stdout).arrayBuffer(),
      (async () => {
        let text = "";
        for await (
          const piece of child.stderr.pipeThrough(new TextDecoderStream())
        ) {
          text += piece;
          heard();
        }
        return text;
      })(),
    ]);
    const text = new TextDecoder().decode(stdout);
    assert.ok(
      !silent,
      `the bench said nothing for ${SILENCE_MS / 1000} s:\n${stderr}`,
    );
    assert.equal(code, 0, `bench failed:\n${text}\n${stderr}`);
    // Only that the report was produced: figures vary from machine to machine.
    assert.match(text, /chat \(ours\)\s+ngircd\s+plain relay/);
    assert.match(text, /deliveries\/s/);
    const jsonPath = text.match(/^Raw figures: (.+\.json)$/m)?.[1];
    assert.ok(jsonPath, "the report names its JSON file");
    assert.ok(jsonPath.startsWith(out));
    const results = JSON.parse(await Deno.readTextFile(jsonPath));
    assert.equal(results.version, 1);
    assert.equal(results.quick, true);
    assert.ok(results.room.chat, "the chat server was measured");
    // The crowd: every server measured with the same people and pace.
    assert.match(text, /A crowd: \d+ people in the public room/);
    for (const kind of ["chat", "plain"]) {
      const crowd = results.crowd?.[kind];
      assert.ok(crowd, `the crowd on ${kind} was measured`);
      assert.equal(crowd.clients, results.config.crowdClients);
      assert.equal(crowd.runs.length, results.config.runs);
      assert.ok(crowd.runs[0].count > 0, `deliveries counted on ${kind}`);
    }
    const svg = await Deno.readTextFile(`${out}/latency.svg`);
    assert.match(svg, /^<svg /);
  } finally {
    clearTimeout(timer);
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("bench/main.ts stopped at its time limit writes what it had measured", async () => {
  // 15 s: past the setup (a few seconds) and well short of a quick run
  // (about 40 s), so the run is always stopped in the middle of its steps.
  const out = await Deno.makeTempDir({ prefix: "chat-bench-limit-test-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: quickArgs(out, ["--time-limit-s", "15"]),
      stdout: "null",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 2, `the run was stopped at its limit:\n${log}`);
    assert.match(log, /over 0\.25 minutes; stopping everything/);
    const partial = [...Deno.readDirSync(out)].map((e) => e.name).find((
      name,
    ) => name.endsWith("-partial.json"));
    assert.ok(partial, `a partial JSON in ${out}:\n${log}`);
    assert.match(log, new RegExp(`what was measured is in .*${partial}`));
    const results = JSON.parse(await Deno.readTextFile(`${out}/${partial}`));
    assert.equal(results.version, 1);
    assert.equal(results.quick, true);
    assert.ok(
      results.notes.some((note: string) => note.startsWith("stopped at")),
      "the results say they are partial",
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
