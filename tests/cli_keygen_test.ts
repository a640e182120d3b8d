import assert from "node:assert/strict";
import { parseCommandLine } from "../src/cli.ts";

Deno.test("parseCommandLine keygen --public-from writes public.pem beside the private key unless --out or --public says where", () => {
  const cases: [string[], string][] = [
    [["--public-from", "keys/private.pem"], "keys/public.pem"],
    [["--public-from", "/srv/chat/server.pem"], "/srv/chat/public.pem"],
    [["--public-from", "server.pem"], "public.pem"],
    [["--public-from", "keys/private.pem", "--out", "give"], "give/public.pem"],
    // --out given as its default is still given: the folder it names.
    [["--public-from", "/srv/private.pem", "--out", "keys"], "keys/public.pem"],
    [
      ["--public-from", "keys/private.pem", "--out", "x", "--public", "p.pem"],
      "p.pem",
    ],
  ];
  for (const [args, publicPath] of cases) {
    assert.deepEqual(parseCommandLine(["keygen", ...args]), {
      cmd: "public-key",
      privatePath: args[1],
      publicPath,
      force: false,
    }, args.join(" "));
  }
  assert.deepEqual(
    parseCommandLine(["keygen", "--public-from", "k.pem", "--force"]),
    {
      cmd: "public-key",
      privatePath: "k.pem",
      publicPath: "public.pem",
      force: true,
    },
  );
});

// Seen: `chat keygen --private /srv/chat/private.pem` wrote the public key
// to keys/public.pem in the current folder, where chat serve --key
// /srv/chat/private.pem does not look for it.
Deno.test("parseCommandLine keygen --private writes public.pem beside it unless --out or --public says where", () => {
  const cases: [string[], string, string][] = [
    [[], "keys/private.pem", "keys/public.pem"],
    [
      ["--private", "/srv/chat/private.pem"],
      "/srv/chat/private.pem",
      "/srv/chat/public.pem",
    ],
    [["--private", "server.pem"], "server.pem", "public.pem"],
    [
      ["--private", "/srv/p.pem", "--out", "give"],
      "/srv/p.pem",
      "give/public.pem",
    ],
    [
      ["--private", "/srv/p.pem", "--out", "keys"],
      "/srv/p.pem",
      "keys/public.pem",
    ],
    [
      ["--private", "/srv/p.pem", "--public", "pub.pem"],
      "/srv/p.pem",
      "pub.pem",
    ],
    [["--out", "give"], "give/private.pem", "give/public.pem"],
  ];
  for (const [args, privatePath, publicPath] of cases) {
    assert.deepEqual(parseCommandLine(["keygen", ...args]), {
      cmd: "keygen",
      bits: 3072,
      privatePath,
      publicPath,
      force: false,
    }, args.join(" "));
  }
});

Deno.test("parseCommandLine keygen --public-from refuses the options of a new pair or an identity", () => {
  for (
    const [flag, ...value] of [
      ["--bits", "3072"],
      ["--private", "p.pem"],
      ["--identity"],
    ]
  ) {
    const command = parseCommandLine([
      "keygen",
      "--public-from",
      "k.pem",
      flag!,
      ...value,
    ]);
    assert.equal(command.cmd, "exit", flag);
    if (command.cmd !== "exit") continue;
    assert.equal(command.code, 1);
    assert.match(
      command.output,
      new RegExp(
        `option '--public-from <path>' cannot be used with option '${flag}`,
      ),
    );
  }
});
