import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

Deno.test("parseCommandLine takes --cluster as NATS URLs, host:port alone as nats://, and --presence-ttl in seconds", () => {
  const command = parseCommandLine([
    "serve",
    "--cluster",
    "nats://10.0.0.1:4222, 10.0.0.2:4222",
    "--presence-ttl",
    "5",
  ]);
  assert.equal(command.cmd, "serve");
  if (command.cmd !== "serve") return;
  assert.deepEqual(command.cluster, [
    "nats://10.0.0.1:4222",
    "nats://10.0.0.2:4222",
  ]);
  assert.equal(command.presenceTtlMs, 5000);
});

Deno.test("parseCommandLine runs chat serve alone without --cluster, with a 15 s presence TTL", () => {
  const command = parseCommandLine(["serve"]);
  assert.ok(command.cmd === "serve");
  assert.equal(command.cluster, null);
  assert.equal(command.presenceTtlMs, 15_000);
});

Deno.test("parseCommandLine refuses a --cluster that is not nats:// and a --presence-ttl under a second", () => {
  for (
    const args of [
      ["--cluster", "http://x:4222"],
      ["--cluster", ","],
      ["--presence-ttl", "0"],
      ["--presence-ttl", "1.5"],
    ]
  ) {
    const command = parseCommandLine(["serve", ...args]);
    assert.equal(command.cmd, "exit", args.join(" "));
    if (command.cmd !== "exit") continue;
    assert.equal(command.code, 1);
    assert.match(command.output, /error: option/);
  }
});

Deno.test("parseCommandLine: room frames are off unless chat serve --room-frames asks for them", () => {
  const plain = parseCommandLine(["serve"]);
  const asked = parseCommandLine(["serve", "--room-frames"]);
  assert.ok(plain.cmd === "serve" && asked.cmd === "serve");
  assert.equal(plain.roomFrames, false);
  assert.equal(asked.roomFrames, true);
});

Deno.test("parseCommandLine takes --log-max-age as a duration and --log-max-size as a size, 0 for no limit, and leaves out what is not given", () => {
  const given = parseCommandLine([
    "serve",
    "--log-max-age",
    "12h",
    "--log-max-size",
    "2G",
  ]);
  assert.ok(given.cmd === "serve");
  assert.deepEqual(given.logRetention, {
    maxAgeMs: 12 * 3_600_000,
    maxBytes: 2 * 1024 ** 3,
  });
  const none = parseCommandLine(["serve", "--log-max-age", "0"]);
  assert.ok(none.cmd === "serve");
  assert.deepEqual(none.logRetention, { maxAgeMs: 0 });
  const plain = parseCommandLine(["serve"]);
  assert.ok(plain.cmd === "serve");
  assert.deepEqual(plain.logRetention, {});
  for (const age of ["7", "1w", "-1d", "1.5h", "3651d"]) {
    const command = parseCommandLine(["serve", "--log-max-age", age]);
    assert.ok(command.cmd === "exit", age);
    assert.match(command.output, /Give a duration like 7d/);
  }
});

Deno.test("parseCommandLine takes chat admin release NAME --cluster as NATS URLs, and none without it", () => {
  const command = parseCommandLine([
    "admin",
    "release",
    "jojo",
    "--cluster",
    "127.0.0.1:4222",
  ]);
  assert.ok(command.cmd === "release");
  assert.deepEqual(command.cluster, ["nats://127.0.0.1:4222"]);
  assert.equal(command.name, "jojo");
  const local = parseCommandLine(["admin", "release", "jojo"]);
  assert.ok(local.cmd === "release");
  assert.equal(local.cluster, null);
  const bad = parseCommandLine([
    "admin",
    "release",
    "jojo",
    "--cluster",
    "http://x:4222",
  ]);
  assert.equal(bad.cmd, "exit");
});

Deno.test("parseCommandLine never prints a piece of a --cluster password, however it is cut by commas, ://, : / % or a last @", () => {
  // The password's letters are Q7 and ZX: no other text holds them.
  const pieces = ["Q7", "ZX", ",", "://", ":", "/", "%", ",nats://", "@"];
  const passwords: string[] = [];
  const grow = (made: string, left: number) => {
    if (made !== "") passwords.push(made);
    if (left > 0) { for (const piece of pieces) grow(made + piece, left - 1); }
  };
  grow("", 3);
  const before = ["", "h0:4222,", "nats://h0:4222,"];
  const after = ["", ",h9:4222", ",nats://h9:4222"];
  let refused = 0;
  for (const password of passwords) {
    // An @ typed in a password before a comma ends the credentials there
    // (what follows, up to the comma, reads as the host: write @ as %40).
    if (!/Q7|ZX/.test(password) || /@.*,/.test(password)) continue;
    for (const first of before) {
      for (const last of after) {
        const value = `${first}nats://chat:${password}@h:4222${last}`;
        const command = parseCommandLine(["serve", "--cluster", value]);
        if (command.cmd !== "exit") continue;
        refused++;
        assert.doesNotMatch(command.output, /Q7|ZX/, value);
      }
    }
  }
  assert.ok(refused > 1_000, `${refused} refused`);
});

Deno.test("parseCommandLine takes host:port URLs without nats:// before one with credentials", () => {
  const command = parseCommandLine([
    "serve",
    "--cluster",
    "h1:4222,h2:4222,chat:pw@h3:4222",
  ]);
  assert.ok(command.cmd === "serve", JSON.stringify(command));
  assert.deepEqual(command.cluster, [
    "nats://h1:4222",
    "nats://h2:4222",
    "nats://chat:pw@h3:4222",
  ]);
});

Deno.test("parseCommandLine refuses a --cluster token or password holding ? # or / typed as is, and never prints it", () => {
  // nats://Q7#ZX@h:4222 reads as host Q7, the rest a fragment: taken, the
  // node dialed Q7 and its error printed the URL, token and all.
  for (const secret of ["Q7#ZX", "Q7?ZX", "#Q7ZX", "chat:Q7#ZX", "chat:7?ZX"]) {
    for (const value of [`nats://${secret}@h:4222`, `${secret}@h:4222`]) {
      const command = parseCommandLine(["serve", "--cluster", value]);
      assert.equal(command.cmd, "exit", value);
      assert.doesNotMatch(command.output, /Q7|ZX/, value);
      assert.match(command.output, /%3F %23/, value);
    }
  }
});
