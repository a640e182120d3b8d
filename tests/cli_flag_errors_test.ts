import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

/** The usage error `chat ARGS` prints, asserting that it is one. */
function usageError(args: string[]): string {
  const command = parseCommandLine(args);
  assert.equal(command.cmd, "exit", args.join(" "));
  assert.notEqual(command.code, 0, args.join(" "));
  return command.output;
}

Deno.test("parseCommandLine starts the reason for a bad flag value as a sentence", () => {
  const cases: [string[], string][] = [
    [["serve", "--port", "http"], "A port is a number from 0 to 65535."],
    [["serve", "--cluster", ","], "Give one or more nats://HOST:PORT."],
    [["serve", "--log-max-age", "soon"], "Give a duration like 7d"],
    [["serve", "--presence-ttl", "0"], "Give whole seconds from 1 to 3600."],
    [["keygen", "--bits", "1024"], "Choose 2048, 3072 or 4096."],
    [["connect", "host", "--max-file-size", "lots"], "Give a size like 2G"],
    [
      ["connect", "host", "--max-file-size", "99999999999999999999G"],
      "That size is too large.",
    ],
    [["serve", "--max-connections", "many"], "Give a whole number."],
    [
      ["serve", "--groups-per-address", "-5"],
      "Give a whole number from 0 to 100000 an hour; 0 for no limit.",
    ],
  ];
  for (const [args, reason] of cases) {
    assert.match(
      usageError(args),
      new RegExp(`is invalid\\. ${RegExp.escape(reason)}`),
      args.join(" "),
    );
  }
});

Deno.test("parseCommandLine points a usage error to the help of the command it is in", () => {
  const cases: [string[], string][] = [
    [["--bogus"], "chat --help"],
    [["serve", "--prot", "8768"], "chat serve --help"],
    [["serve", "--port", "http"], "chat serve --help"],
    [["connect", "host", "--max-file-size", "lots"], "chat connect --help"],
    [["keygen", "--bits", "1024"], "chat keygen --help"],
    [
      ["keygen", "--public-from", "k.pem", "--bits", "2048"],
      "chat keygen --help",
    ],
    [["admin", "release"], "chat admin release --help"],
  ];
  for (const [args, help] of cases) {
    const output = usageError(args);
    assert.ok(
      output.trimEnd().endsWith(`(run '${help}' for usage)`),
      `${args.join(" ")}:\n${output}`,
    );
  }
});

// Seen trying the README as a new user: `chat connect` alone said only
// "error: missing required argument 'host'".
Deno.test("parseCommandLine says what to type when chat connect has no host", () => {
  for (const args of [["connect"], ["connect", "--pub", "public.pem"]]) {
    assert.equal(
      usageError(args),
      "error: missing required argument 'host'. Put the server's address after connect, as chat serve printed it: chat connect 192.168.1.104 --pub public.pem\n(run 'chat connect --help' for usage)\n",
      args.join(" "),
    );
  }
  // Other commands' missing arguments are as they were.
  assert.match(
    usageError(["admin", "release"]),
    /missing required argument 'name'/,
  );
});

// Seen trying the README as a new user who knew the seed's
// `python client.py 192.168.1.104 public.pem`: "too many arguments" alone.
Deno.test("parseCommandLine says which flag a key or port given without one goes after, as the seed's programs took them", () => {
  const cases: [string[], string][] = [
    [
      ["connect", "192.168.1.104", "public.pem"],
      "error: too many arguments for 'connect'. Expected 1 argument but got 2. The server's public key goes after --pub: chat connect 192.168.1.104 --pub public.pem\n(run 'chat connect --help' for usage)\n",
    ],
    [
      ["connect", "192.168.1.104", "8767"],
      "error: too many arguments for 'connect'. Expected 1 argument but got 2. The port goes after --port (or the address, as 192.168.1.104:8767): chat connect 192.168.1.104 --port 8767\n(run 'chat connect --help' for usage)\n",
    ],
    [
      ["serve", "private.pem"],
      "error: too many arguments for 'serve'. Expected 0 arguments but got 1. The private key goes after --key: chat serve --key keys/private.pem\n(run 'chat serve --help' for usage)\n",
    ],
  ];
  for (const [args, said] of cases) {
    assert.equal(usageError(args), said, args.join(" "));
  }
});
