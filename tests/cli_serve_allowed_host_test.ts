import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

Deno.test("parseCommandLine takes --allowed-host once per name, as given, and none without it", () => {
  const given = parseCommandLine([
    "serve",
    "--allowed-host",
    "chat.example.org",
    "--allowed-host",
    "bücher.example",
  ]);
  assert.ok(given.cmd === "serve");
  assert.deepEqual(given.allowedHosts, ["chat.example.org", "bücher.example"]);
  const plain = parseCommandLine(["serve"]);
  assert.ok(plain.cmd === "serve");
  assert.deepEqual(plain.allowedHosts, []);
});

Deno.test("parseCommandLine refuses an --allowed-host that is a URL or not a host name", () => {
  for (const value of ["http://chat.example.org", "chat.example.org/x", ""]) {
    const command = parseCommandLine(["serve", "--allowed-host", value]);
    assert.equal(command.cmd, "exit", value);
    if (command.cmd !== "exit") continue;
    assert.equal(command.code, 1);
    assert.match(command.output, /--allowed-host.*Give a host name/s);
  }
});
