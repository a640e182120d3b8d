/**
 * DNS rebinding: a site whose name comes to point at the chat server's
 * address serves its visitors a page of its own, which then talks to the
 * chat server as its own origin (so the Origin check lets it in). The name
 * the browser sends as `Host` gives it away: the server answers only IP
 * addresses, `localhost` and the names it was given.
 */

import assert from "node:assert/strict";
import {
  hostAllowed,
  hostName,
  hostRefusal,
  machineNames,
} from "../../src/server/allowed_host.ts";
import { startTestServer } from "../_helpers/chat.ts";

Deno.test("hostAllowed takes IPv4 and bracketed IPv6 addresses, with or without a port, and localhost", () => {
  for (
    const host of [
      "127.0.0.1",
      "192.168.1.104:8767",
      "[::1]",
      "[::1]:8767",
      "[fd12:3456:789a::104]:8767",
      "[::ffff:192.168.1.104]",
      "localhost",
      "localhost:8767",
      "LocalHost.:8767",
    ]
  ) assert.equal(hostAllowed(host, []), true, host);
});

Deno.test("hostAllowed refuses a name it was not given, whatever its port, and a name that only looks like an address", () => {
  for (
    const host of [
      "evil.example",
      "evil.example:8767",
      "127.0.0.1.evil.example",
      "localhost.evil.example",
      "evillocalhost",
      "192.168.1.104.nip.io:8767",
    ]
  ) assert.equal(hostAllowed(host, ["chat.lan"]), false, host);
});

Deno.test("hostAllowed refuses a missing, empty or malformed Host, and a port past 65535", () => {
  for (
    const host of [
      undefined,
      "",
      " ",
      ":8767",
      "chat.lan:",
      "chat.lan:99999",
      "chat.lan:8767:1",
      "http://chat.lan",
      "chat.lan/x",
      "user@chat.lan",
      "chat.lan?x",
      "chat.lan#x",
      "chat.lan\\x",
      "::1",
      "[::1",
      "[fe80::1%25eth0]",
      "999.1.1.1",
    ]
  ) assert.equal(hostAllowed(host, ["chat.lan"]), false, String(host));
});

Deno.test("hostAllowed takes a given name in any case, with a port and with a trailing dot, on either side", () => {
  const allowed = ["Chat.LAN", "box.example.org."];
  for (
    const host of [
      "chat.lan",
      "CHAT.lan:8767",
      "chat.lan.",
      "chat.lan.:443",
      "box.example.org",
      "BOX.example.org.:8767",
    ]
  ) assert.equal(hostAllowed(host, allowed), true, host);
  assert.equal(hostAllowed("chat.lan..", allowed), false);
  assert.equal(hostAllowed("sub.chat.lan", allowed), false);
});

Deno.test("hostAllowed matches an international name given in Unicode to the punycode a browser sends, and the other way round", () => {
  assert.equal(hostName("bücher.example"), "xn--bcher-kva.example");
  assert.equal(
    hostAllowed("xn--bcher-kva.example:8767", ["bücher.example"]),
    true,
  );
  assert.equal(hostAllowed("bücher.example", ["xn--bcher-kva.example"]), true);
  assert.equal(hostAllowed("xn--bcher-kva.example", ["bucher.example"]), false);
});

Deno.test("hostName writes an address as the browser does, without the port", () => {
  assert.equal(hostName("0x7f.1:8767"), "127.0.0.1");
  assert.equal(hostName("[::FFFF:127.0.0.1]"), "[::ffff:7f00:1]");
  assert.equal(hostName("[::1]:8767"), "[::1]");
  assert.equal(hostName("Chat.Lan."), "chat.lan");
  assert.equal(hostName("chat.lan:65536"), null);
});

Deno.test("machineNames gives the host name, its first label and that label under .local", () => {
  assert.deepEqual(machineNames("Laptop"), ["laptop", "laptop.local"]);
  assert.deepEqual(machineNames("box.example.org"), [
    "box.example.org",
    "box",
    "box.local",
  ]);
  assert.deepEqual(machineNames("laptop.local"), ["laptop.local", "laptop"]);
  assert.deepEqual(machineNames(""), []);
});

Deno.test("hostRefusal names the option that allows the name, and repeats only a plain name", () => {
  assert.match(
    hostRefusal("Evil.Example:8767", "executable"),
    /does not answer to the name 'evil\.example'.*restart it with: chat serve --allowed-host evil\.example\n$/,
  );
  for (const host of [undefined, "", "a/b", "x'<y>.example"]) {
    const text = hostRefusal(host, "executable");
    assert.match(text, /^Blocked request: it names no host/, String(host));
    assert.doesNotMatch(text, /<y>|a\/b/);
  }
});

Deno.test("hostRefusal names the command as the server was started: its task when run from the sources", () => {
  assert.match(
    hostRefusal("chat.lan", "sources"),
    /restart it with: deno task chat serve --allowed-host chat\.lan\n$/,
  );
});

// --- A real server ----------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends `request` on a new connection; resolves with what comes back until
 * the server closes (a refusal, or any answer to a plain request: each is
 * `connection: close`) or, for a 101, until the end of its head.
 */
async function exchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(request));
    let text = "";
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return text;
      text += decoder.decode(buffer.subarray(0, n));
      if (/^HTTP\/1\.1 101 /.test(text) && text.includes("\r\n\r\n")) {
        return text;
      }
    }
  } finally {
    conn.close();
  }
}

function pageRequest(host: string): string {
  return `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
}

function upgradeRequest(host: string, origin: string | null): string {
  return [
    "GET / HTTP/1.1",
    `Host: ${host}`,
    ...(origin === null ? [] : [`Origin: ${origin}`]),
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}`,
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
}

Deno.test("startServer refuses the page and a browser's WebSocket to a Host it was not given (403, saying how to allow it), and answers an address, localhost and an allowed name", async () => {
  await using server = await startTestServer({ allowedHosts: ["chat.lan"] });
  const port = server.port;

  // The rebinding site's page: its name, now pointing here.
  const page = await exchange(port, pageRequest(`evil.example:${port}`));
  assert.match(page, /^HTTP\/1\.1 403 /);
  assert.match(page, /\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
  assert.match(
    page,
    /restart it with: chat serve --allowed-host evil\.example\n$/,
  );
  assert.doesNotMatch(page, /<html/i);
  const ws = await exchange(
    port,
    upgradeRequest(`evil.example:${port}`, `http://evil.example:${port}`),
  );
  assert.match(ws, /^HTTP\/1\.1 403 /);
  assert.match(ws, /chat serve --allowed-host evil\.example\n$/);
  // Any other request from it too: its page reads what its origin answers.
  assert.match(
    await exchange(port, `GET /chat HTTP/1.1\r\nHost: evil.example\r\n\r\n`),
    /^HTTP\/1\.1 403 /,
  );
  assert.match(
    await exchange(port, "GET / HTTP/1.0\r\n\r\n"),
    /^HTTP\/1\.1 403 [\s\S]*names no host/,
  );

  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "chat.lan"]) {
    assert.match(
      await exchange(port, pageRequest(host)),
      /^HTTP\/1\.1 200 [\s\S]*<html/i,
      host,
    );
    assert.match(
      await exchange(port, upgradeRequest(host, `http://${host}`)),
      /^HTTP\/1\.1 101 /,
      host,
    );
  }
});

Deno.test("startServer run from the sources refuses a Host with the command that restarts it from the sources", async () => {
  await using server = await startTestServer({ launcher: "sources" });
  const refusals = [
    await exchange(server.port, pageRequest("evil.example")),
    await exchange(
      server.port,
      upgradeRequest("evil.example", "http://evil.example"),
    ),
  ];
  for (const refusal of refusals) {
    assert.match(refusal, /^HTTP\/1\.1 403 /);
    assert.match(
      refusal,
      /restart it with: deno task chat serve --allowed-host evil\.example\n$/,
    );
  }
});

Deno.test("startServer takes a WebSocket without an Origin (not a browser) whatever name its Host gives: a terminal client may connect by any DNS name", async () => {
  await using server = await startTestServer();
  assert.match(
    await exchange(
      server.port,
      upgradeRequest(`chat.example.org:${server.port}`, null),
    ),
    /^HTTP\/1\.1 101 /,
  );
});
