import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";
import { DEFAULT_LIMITS } from "../src/server/state.ts";

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

Deno.test("parseCommandLine takes the budgets of one address of chat serve: groups created and joined, one-time prekeys", () => {
  const command = parseCommandLine([
    "serve",
    "--groups-per-address",
    "200",
    "--joins-per-address",
    "0",
    "--prekeys-per-address",
    "1000",
    "--prekeys-per-user-per-address",
    "12",
  ]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.addressBudgets, {
    groupsCreatedPerHourPerAddress: 200,
    groupsJoinedPerHourPerAddress: 0,
    oneTimeKeysPerHourPerAddress: 1000,
    oneTimeKeysPerHourPerOwnerPerAddress: 12,
  });
  // Not connection limits: the server's state counts them (state.ts).
  assert.deepEqual(command.connectionLimits, {});
});

Deno.test("parseCommandLine leaves the budgets of one address at their defaults when not given, and --help names each default", () => {
  const command = parseCommandLine(["serve", "--groups-per-address", "3"]);
  assert.deepEqual(
    command.cmd === "serve" && command.addressBudgets,
    { groupsCreatedPerHourPerAddress: 3 },
  );
  const help = parseCommandLine(["serve", "--help"]);
  assert.equal(help.cmd, "exit");
  if (help.cmd !== "exit") return;
  const text = help.output.replace(/\s+/g, " ");
  for (
    const [flag, budget] of [
      ["--groups-per-address", "groupsCreatedPerHourPerAddress"],
      ["--joins-per-address", "groupsJoinedPerHourPerAddress"],
      ["--prekeys-per-address", "oneTimeKeysPerHourPerAddress"],
      [
        "--prekeys-per-user-per-address",
        "oneTimeKeysPerHourPerOwnerPerAddress",
      ],
    ] as const
  ) {
    assert.match(
      text,
      new RegExp(
        `${flag} <n> [^<]*an hour[^<]*, 0 for no limit \\(default ${
          DEFAULT_LIMITS[budget]
        }; with --cluster, counted across the nodes: give each the same\\)`,
      ),
      flag,
    );
  }
});

Deno.test("parseCommandLine refuses a budget of one address that is negative, not a whole number, or past 100000 an hour", () => {
  for (
    const value of ["-1", "ten", "1.5", "1e3", "", "100001", "9".repeat(30)]
  ) {
    const command = parseCommandLine(["serve", "--joins-per-address", value]);
    assert.equal(command.cmd, "exit", value);
    if (command.cmd !== "exit") continue;
    assert.notEqual(command.code, 0, value);
    assert.match(
      command.output,
      /argument '.*' is invalid\. Give a whole number from 0 to 100000 an hour; 0 for no limit\./,
      value,
    );
  }
  const most = parseCommandLine(["serve", "--joins-per-address", "100000"]);
  assert.deepEqual(
    most.cmd === "serve" && most.addressBudgets,
    { groupsJoinedPerHourPerAddress: 100_000 },
  );
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

Deno.test("parseCommandLine takes --new-names-per-minute as the new-name rate of one address, with bursts of three times it", () => {
  const command = parseCommandLine(["serve", "--new-names-per-minute", "40"]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.connectionLimits, {
    newNamesPerMinutePerAddress: 40,
    newNameBurstPerAddress: 120,
  });
  const none = parseCommandLine(["serve", "--new-names-per-minute", "0"]);
  assert.equal(
    none.cmd === "serve" && none.connectionLimits.newNamesPerMinutePerAddress,
    0,
  );
  const unset = parseCommandLine(["serve"]);
  assert.equal(
    unset.cmd === "serve" &&
      "newNamesPerMinutePerAddress" in unset.connectionLimits,
    false,
  );
});

Deno.test("parseCommandLine refuses a --new-names-per-minute that is negative, not a whole number, or past 10000", () => {
  for (const value of ["-1", "ten", "1.5", "1e3", "", "10001"]) {
    const command = parseCommandLine([
      "serve",
      "--new-names-per-minute",
      value,
    ]);
    assert.equal(command.cmd, "exit", value);
    if (command.cmd !== "exit") continue;
    assert.notEqual(command.code, 0, value);
    assert.match(
      command.output,
      /argument '.*' is invalid\. Give a whole number from 0 to 10000 a minute; 0 for no limit\./,
      value,
    );
  }
});

Deno.test("parseCommandLine takes --trusted-proxy as IP addresses, comma-separated and repeatable, and none by default", () => {
  const command = parseCommandLine([
    "serve",
    "--trusted-proxy",
    "127.0.0.1, ::1",
    "--trusted-proxy",
    "10.0.0.2",
  ]);
  assert.deepEqual(
    command.cmd === "serve" && command.trustedProxies,
    ["127.0.0.1", "::1", "10.0.0.2"],
  );
  const none = parseCommandLine(["serve"]);
  assert.deepEqual(none.cmd === "serve" && none.trustedProxies, []);
  for (const value of ["localhost", "127.0.0.1:8080", "10.0.0.0/8", ""]) {
    const refused = parseCommandLine(["serve", "--trusted-proxy", value]);
    assert.equal(refused.cmd, "exit", value);
    if (refused.cmd !== "exit") continue;
    assert.notEqual(refused.code, 0, value);
    assert.match(
      refused.output,
      /is invalid\. '.*' is not an IP address\. Give the address the proxy connects from, as this server sees it, such as 127\.0\.0\.1 or ::1/,
      value,
    );
  }
});

Deno.test("parseCommandLine takes --sign-ins-per-minute as the sign-in rate of one address, with bursts of three times it, and refuses what --new-names-per-minute refuses", () => {
  const command = parseCommandLine(["serve", "--sign-ins-per-minute", "40"]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.connectionLimits, {
    signInsPerMinutePerAddress: 40,
    signInBurstPerAddress: 120,
  });
  const unset = parseCommandLine(["serve"]);
  assert.equal(
    unset.cmd === "serve" &&
      "signInsPerMinutePerAddress" in unset.connectionLimits,
    false,
  );
  for (const value of ["-1", "1.5", "10001"]) {
    const refused = parseCommandLine(["serve", "--sign-ins-per-minute", value]);
    assert.equal(refused.cmd, "exit", value);
    if (refused.cmd !== "exit") continue;
    assert.match(
      refused.output,
      /argument '.*' is invalid\. Give a whole number from 0 to 10000 a minute; 0 for no limit\./,
      value,
    );
  }
});
