import assert from "node:assert/strict";
import {
  connectHint,
  connectTarget,
  type InterfaceAddress,
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
      publicKeyPath: "keys/public.pem",
      privateKeyPath: "keys/private.pem",
      launcher: "executable",
    }),
    [
      "Give people a copy of keys/public.pem (never the private key); they connect with one of:",
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
      publicKeyPath: "/srv/chat/public.pem",
      privateKeyPath: "/srv/chat/private.pem",
      launcher: "sources",
    }),
    [
      "Give people a copy of /srv/chat/public.pem (never the private key); they connect with:",
      "    deno task connect 192.168.1.104:9000 --pub public.pem",
    ],
  );
});

Deno.test("connectHint says what to do without an address or a public key file", () => {
  assert.deepEqual(
    connectHint({
      host: "0.0.0.0",
      port: 8767,
      interfaces: [],
      publicKeyPath: null,
      privateKeyPath: "server.pem",
      launcher: "executable",
    }),
    [
      "Give people a copy of the public key of server.pem (never the private key); they connect with:",
      "    chat connect <this machine's IP address> --pub <a copy of the public key>",
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
      "Or, with nothing to install, they open in a browser (and compare the server key fingerprint above):",
      "    https://192.168.1.20:8767/",
      "    https://[fd00::20]:8767/",
      "The browser warns once that the certificate is self-signed (Advanced, then Proceed); its SHA-256 fingerprint is:",
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
      "Or, with nothing to install, they open in a browser (and compare the server key fingerprint above):",
      "    https://10.0.0.5:9000/",
      "The browser warns once that the certificate is self-signed (Advanced, then Proceed); its SHA-256 fingerprint is:",
      `    ${CERT}`,
    ],
  );
});
