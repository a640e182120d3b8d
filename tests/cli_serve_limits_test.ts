import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

Deno.test("parseCommandLine takes --handshake-rate and --handshake-burst as connection limits of chat serve", () => {
  const command = parseCommandLine([
    "serve",
    "--handshake-rate",
    "0",
    "--handshake-burst",
    "100",
  ]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.connectionLimits, {
    handshakesPerSecond: 0,
    handshakeBurst: 100,
  });
});

Deno.test("parseCommandLine leaves the handshake limits at their defaults when not given", () => {
  const command = parseCommandLine(["serve"]);
  assert.equal(
    command.cmd === "serve" &&
      "handshakesPerSecond" in command.connectionLimits,
    false,
  );
});

Deno.test("parseCommandLine takes --max-unfinished and --max-unfinished-per-address as connection limits of chat serve", () => {
  const command = parseCommandLine([
    "serve",
    "--max-unfinished",
    "1000",
    "--max-unfinished-per-address",
    "0",
  ]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.connectionLimits, {
    maxUnfinished: 1000,
    maxUnfinishedPerAddress: 0,
  });
});
