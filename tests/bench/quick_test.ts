import assert from "node:assert/strict";

const MAIN = new URL("../../bench/main.ts", import.meta.url).pathname;
const TIMEOUT_MS = 60_000;

Deno.test("bench/main.ts --quick prints the report table and writes the raw JSON", async () => {
  const out = await Deno.makeTempDir({ prefix: "chat-bench-test-" });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-sys",
        MAIN,
        "--quick",
        // The real-client file scenario (256 MiB, seven processes, sshd)
        // alone takes longer than this test may; the bench runs it.
        "--skip",
        "realfiles",
        "--out",
        out,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(
      code,
      0,
      `bench failed:\n${text}\n${new TextDecoder().decode(stderr)}`,
    );
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
    const svg = await Deno.readTextFile(`${out}/latency.svg`);
    assert.match(svg, /^<svg /);
  } finally {
    clearTimeout(timer);
    await Deno.remove(out, { recursive: true });
  }
});
