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

Deno.test("parseCommandLine takes the per-address limits of chat serve, and --max-store-mb in bytes", () => {
  const command = parseCommandLine([
    "serve",
    "--rate-per-address",
    "0",
    "--burst-per-address",
    "500",
    "--max-backlog-per-address-mb",
    "16",
    "--max-queued-mb",
    "8",
    "--max-store-mb",
    "10",
  ]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.connectionLimits, {
    messagesPerSecondPerAddress: 0,
    messageBurstPerAddress: 500,
    maxBacklogBytesPerAddress: 16 * 1024 * 1024,
    maxQueuedBytes: 8 * 1024 * 1024,
  });
  assert.equal(command.maxStoreBytes, 10 * 1024 * 1024);
});

Deno.test("parseCommandLine caps the store at 1 GiB by default, and 0 means no cap", () => {
  const command = parseCommandLine(["serve"]);
  assert.equal(command.cmd === "serve" && command.maxStoreBytes, 1024 ** 3);
  const none = parseCommandLine(["serve", "--max-store-mb", "0"]);
  assert.equal(none.cmd === "serve" && none.maxStoreBytes, 0);
});

Deno.test("parseCommandLine: chat serve serves the web page unless --no-web", () => {
  const served = parseCommandLine(["serve"]);
  assert.ok(served.cmd === "serve" && served.web);
  const none = parseCommandLine(["serve", "--no-web"]);
  assert.ok(none.cmd === "serve" && !none.web);
});
