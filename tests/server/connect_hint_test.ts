import assert from "node:assert/strict";
import {
  connectHint,
  connectTarget,
  type InterfaceAddress,
  type Launcher,
  type PublicKeyBeside,
  reachableAddresses,
  webHint,
} from "../../src/server/connect_hint.ts";

const INTERFACES: InterfaceAddress[] = [
  { family: "IPv4", address: "127.0.0.1" },
  { family: "IPv6", address: "::1" },
  { family: "IPv6", address: "fd00::2" },
  { family: "IPv6", address: "fe80::fc:ff:fe00:1" },
  { family: "IPv4", address: "192.168.1.104" },
  { family: "IPv4", address: "10.0.0.7" },
];

Deno.test("reachableAddresses lists the IPv4 LAN addresses for 0.0.0.0", () => {
  assert.deepEqual(reachableAddresses("0.0.0.0", INTERFACES), [
    "192.168.1.104",
    "10.0.0.7",
  ]);
});

Deno.test("reachableAddresses adds IPv6 for ::, without link-local ones", () => {
  assert.deepEqual(reachableAddresses("::", INTERFACES), [
    "192.168.1.104",
    "10.0.0.7",
    "fd00::2",
  ]);
});

Deno.test("reachableAddresses names only the address given with --host", () => {
  assert.deepEqual(reachableAddresses("192.168.1.104", INTERFACES), [
    "192.168.1.104",
  ]);
  assert.deepEqual(reachableAddresses("127.0.0.1", INTERFACES), [
    "127.0.0.1",
  ]);
});

Deno.test("reachableAddresses finds none on a machine with only loopback", () => {
  assert.deepEqual(reachableAddresses("0.0.0.0", INTERFACES.slice(0, 2)), []);
});

Deno.test("connectTarget brackets IPv6 and adds a port that is not the default", () => {
  assert.equal(connectTarget("192.168.1.104", 8767), "192.168.1.104");
  assert.equal(connectTarget("192.168.1.104", 9000), "192.168.1.104:9000");
  assert.equal(connectTarget("fd00::2", 8767), "[fd00::2]");
  assert.equal(connectTarget("[fd00::2]", 9000), "[fd00::2]:9000");
});

Deno.test("connectHint shows the executable's command with each address", () => {
  assert.deepEqual(
    connectHint({
      host: "::",
      port: 8767,
      interfaces: INTERFACES,
      publicKey: { kind: "found", path: "keys/public.pem" },
      privateKeyPath: "keys/private.pem",
      launcher: "executable",
    }),
    [
      "Give people a copy of keys/public.pem (never the private key).",
      "They connect with one of:",
      "    chat connect 192.168.1.104 --pub public.pem",
      "    chat connect 10.0.0.7 --pub public.pem",
      "    chat connect [fd00::2] --pub public.pem",
    ],
  );
});

Deno.test("connectHint shows the task from the sources, and the port", () => {
  assert.deepEqual(
    connectHint({
      host: "0.0.0.0",
      port: 9000,
      interfaces: INTERFACES.slice(0, 5),
      publicKey: { kind: "found", path: "/srv/chat/public.pem" },
      privateKeyPath: "/srv/chat/private.pem",
      launcher: "sources",
    }),
    [
      "Give people a copy of /srv/chat/public.pem (never the private key).",
      "They connect with:",
      "    deno task connect 192.168.1.104:9000 --pub public.pem",
    ],
  );
});

Deno.test("connectHint says what to do without an address", () => {
  assert.deepEqual(
    connectHint({
      host: "0.0.0.0",
      port: 8767,
      interfaces: [],
      publicKey: { kind: "found", path: "public.pem" },
      privateKeyPath: "server.pem",
      launcher: "executable",
    }),
    [
      "Give people a copy of public.pem (never the private key).",
      "They connect with:",
      "    chat connect <this machine's IP address> --pub public.pem",
    ],
  );
});

/** The hint of a server on 192.168.1.104 whose private key is keys/a.pem. */
function hintFor(publicKey: PublicKeyBeside, launcher: Launcher): string[] {
  return connectHint({
    host: "192.168.1.104",
    port: 8767,
    interfaces: [],
    publicKey,
    privateKeyPath: "keys/a.pem",
    launcher,
  });
}

Deno.test("connectHint says serve wrote the public key beside the private one when there was none", () => {
  assert.deepEqual(
    hintFor({ kind: "written", path: "keys/public.pem" }, "executable"),
    [
      "Wrote the public key of keys/a.pem to keys/public.pem (there was none)",
      "Give people a copy of keys/public.pem (never the private key).",
      "They connect with:",
      "    chat connect 192.168.1.104 --pub public.pem",
    ],
  );
});

// Without a usable public key, the exact command that writes it, as the
// operator runs the program: else one who has only a private key is stuck.
Deno.test("connectHint names the keygen command that replaces a public.pem holding another key", () => {
  assert.deepEqual(
    hintFor(
      {
        kind: "other",
        path: "keys/public.pem",
        holds: "another key (SHA256:abc)",
      },
      "sources",
    ),
    [
      "keys/public.pem holds another key (SHA256:abc), not the public key of keys/a.pem; to replace it with this key's, run:",
      "    deno task chat keygen --public-from keys/a.pem --force",
      "Then give people a copy of keys/public.pem (never the private key).",
      "They connect with:",
      "    deno task connect 192.168.1.104 --pub public.pem",
    ],
  );
});

Deno.test("connectHint writes the public key elsewhere when public.pem beside it is a private key", () => {
  assert.deepEqual(
    hintFor({ kind: "private", path: "keys/public.pem" }, "executable"),
    [
      "keys/public.pem holds a private key; write the public key of keys/a.pem with:",
      "    chat keygen --public-from keys/a.pem --public public.pem",
      "Then give people a copy of public.pem (never the private key).",
      "They connect with:",
      "    chat connect 192.168.1.104 --pub public.pem",
    ],
  );
});

Deno.test("connectHint says why serve could not write the public key, and the command that does", () => {
  assert.deepEqual(
    hintFor(
      {
        kind: "unwritable",
        path: "keys/public.pem",
        reason: "permission denied",
      },
      "executable",
    ),
    [
      "Cannot write the public key of keys/a.pem to keys/public.pem: permission denied; as a user who can, run:",
      "    chat keygen --public-from keys/a.pem",
      "Then give people a copy of keys/public.pem (never the private key).",
      "They connect with:",
      "    chat connect 192.168.1.104 --pub public.pem",
    ],
  );
});

const CERT = "AB:".repeat(31) + "CD";

Deno.test("webHint gives the page's https:// address on each LAN address, with the port, and the certificate's fingerprint", () => {
  assert.deepEqual(
    webHint({
      host: "::",
      port: 8767,
      interfaces: [
        { family: "IPv4", address: "127.0.0.1" },
        { family: "IPv4", address: "192.168.1.20" },
        { family: "IPv6", address: "fd00::20" },
      ],
      certificateFingerprint: CERT,
    }),
    [
      "Or, with nothing to install, they open in a browser (and check the key above):",
      "    https://192.168.1.20:8767/",
      "    https://[fd00::20]:8767/",
      "The browser warns once: the certificate is self-signed (Advanced, Proceed).",
      "Its SHA-256 fingerprint is:",
      `    ${CERT}`,
    ],
  );
  assert.deepEqual(
    webHint({
      host: "10.0.0.5",
      port: 9000,
      interfaces: [],
      certificateFingerprint: CERT,
    }),
    [
      "Or, with nothing to install, they open in a browser (and check the key above):",
      "    https://10.0.0.5:9000/",
      "The browser warns once: the certificate is self-signed (Advanced, Proceed).",
      "Its SHA-256 fingerprint is:",
      `    ${CERT}`,
    ],
  );
});

Deno.test("connectHint quotes a key path with spaces in the commands it prints", () => {
  const lines = connectHint({
    host: "192.168.1.104",
    port: 8767,
    interfaces: [],
    publicKey: { kind: "unwritable", path: "my keys/public.pem", reason: "x" },
    privateKeyPath: "my keys/it's.pem",
    launcher: "executable",
  });
  assert.equal(
    lines[1],
    `    chat keygen --public-from 'my keys/it'\\''s.pem'`,
  );
  assert.equal(lines[4], "    chat connect 192.168.1.104 --pub public.pem");
});

// Seen on an 80x24 terminal: "...; they connect with" and then ":" alone on
// the next row, and two more sentences wrapped mid-word.
Deno.test("the start-up hint's sentences fit an 80-column terminal (deno task start, keys/public.pem)", () => {
  const lines = [
    ...connectHint({
      host: "0.0.0.0",
      port: 8767,
      interfaces: INTERFACES,
      publicKey: { kind: "found", path: "keys/public.pem" },
      privateKeyPath: "keys/private.pem",
      launcher: "sources",
    }),
    ...webHint({
      host: "0.0.0.0",
      port: 8767,
      interfaces: INTERFACES,
      certificateFingerprint: CERT,
    }),
  ];
  // The fingerprint itself (95 characters) is one word to compare or copy.
  for (const line of lines.filter((l) => l !== `    ${CERT}`)) {
    assert.ok(line.length <= 80, `${line.length}: ${line}`);
  }
});
