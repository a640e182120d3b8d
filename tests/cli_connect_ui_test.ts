import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

Deno.test("parseCommandLine: chat connect shows times and keeps a history file unless --no-time and --no-history-file", () => {
  const plain = parseCommandLine(["connect", "host"]);
  assert.ok(plain.cmd === "connect");
  assert.equal(plain.time, true);
  assert.equal(plain.historyFile, true);
  const off = parseCommandLine([
    "connect",
    "host",
    "--no-time",
    "--no-history-file",
  ]);
  assert.ok(off.cmd === "connect");
  assert.equal(off.time, false);
  assert.equal(off.historyFile, false);
});
