import assert from "node:assert/strict";
import { ChatProcess } from "./process.ts";
import { tempDir } from "./temp_dir.ts";

// Seen: a check returning false was taken as found, so
// `waitUntil(() => out.includes(line))` passed at once, without waiting or
// checking anything.
Deno.test("ChatProcess.waitUntil waits while a check gives false or undefined", async () => {
  await using dir = await tempDir("chat-wait-until-");
  const keygen = new ChatProcess([
    "keygen",
    "--bits",
    "2048",
    "--out",
    dir.path,
  ]);
  try {
    // Nothing is read before the first wait: the first checks give false.
    const said = await keygen.waitUntil(
      () => keygen.stdout.includes("Fingerprint: SHA256:"),
      "the fingerprint",
    );
    assert.equal(said, true);
    assert.match(keygen.stdout, /Fingerprint: SHA256:/);
    const line = await keygen.waitUntil(
      () => keygen.stdout.split("\n").find((l) => l.startsWith("Public key")),
      "the public key line",
    );
    assert.match(line, /^Public key saved to /);
  } finally {
    assert.equal((await keygen.finish()).code, 0, keygen.stderr);
  }
});

// Checked by `deno check`, not run: 0 or -1 (a count, an indexOf) would
// count as found at once, so a number is a type error.
export function numberCheck(p: ChatProcess): Promise<unknown> {
  // @ts-expect-error: a number is not an answer to wait for.
  return p.waitUntil(() => p.stdout.indexOf("x"), "x");
}
