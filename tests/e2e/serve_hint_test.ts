/**
 * `chat serve` ends its start-up with the command people paste to connect:
 * one per LAN address, with the public key to hand out (issue 15, item 6).
 * Each printed command is run, and must connect.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { ChatProcess, makeKeys } from "../_helpers/process.ts";

const HINT = /They connect with(?: one of)?:\n/;

/** `chat serve` of `keyPath` on 127.0.0.1, keeping nothing, with no web page. */
function serveAlone(keyPath: string): ChatProcess {
  return new ChatProcess([
    "serve",
    "--key",
    keyPath,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data",
    ":memory:",
    "--no-web",
  ]);
}

async function stop(server: ChatProcess): Promise<void> {
  server.kill("SIGTERM");
  await server.finish();
}

Deno.test("chat serve prints a connect command per LAN address that connects", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-hint-" });
  await makeKeys(`${dir}/keys`);
  const server = new ChatProcess([
    "serve",
    "--key",
    `${dir}/keys/private.pem`,
    "--host",
    "0.0.0.0",
    "--port",
    "0",
    "--data",
    ":memory:",
  ]);
  try {
    const [, port] = await server.waitFor(
      /listening on ws:\/\/0\.0\.0\.0:(\d+)/,
    );
    await server.waitFor(HINT);
    assert.match(
      server.stdout,
      new RegExp(
        `Give people a copy of ${dir}/keys/public\\.pem \\(never the private key\\)\\.\\nThey connect with`,
      ),
    );
    const [, first] = await server.waitFor(/ {4}(deno task connect .*)\n/);
    if (first!.includes("<this machine's IP address>")) {
      // A machine with no network but loopback: nothing to connect to.
      console.warn(
        "No LAN address on this machine; only the placeholder checked",
      );
      return;
    }
    // Every line of the hint is out once the first client is logged.
    const connectAs = async (command: string, user: string) => {
      // Run as the printed command says, in the folder holding public.pem.
      const args = command.replace(/^deno task connect /, "").split(" ");
      assert.equal(args.length, 3, command);
      assert.equal(args[1], "--pub");
      assert.equal(args[2], "public.pem");
      const [, address, printedPort] = /^([\d.]+):(\d+)$/.exec(args[0]!) ??
        [];
      assert.ok(address, `an IPv4 address and port: ${command}`);
      assert.ok(!address.startsWith("127."), "not a loopback address");
      assert.equal(printedPort, port);
      const client = new ChatProcess(
        ["connect", ...args, "--user", user],
        { cwd: `${dir}/keys` },
      );
      await client.waitFor(/SUCCESS: Username registered\./);
      await client.write("/quit\n");
      assert.equal((await client.finish()).code, 0, client.stdout);
    };
    await connectAs(first!, "first");
    await server.waitFor(/first registered from/);
    const after = server.stdout.slice(server.stdout.search(HINT));
    const printed = [...after.matchAll(/^ {4}(deno task connect .*)$/gm)]
      .map((m) => m[1]!);
    assert.equal(printed[0], first);
    for (const [i, command] of printed.slice(1).entries()) {
      await connectAs(command, `user${i}`);
    }
  } finally {
    await stop(server);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve with a private key alone writes public.pem beside it, says so, and the command it prints connects with it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-hint-" });
  await makeKeys(`${dir}/keys`);
  await Deno.mkdir(`${dir}/elsewhere`);
  await Deno.copyFile(`${dir}/keys/private.pem`, `${dir}/elsewhere/server.pem`);
  await Deno.chmod(`${dir}/elsewhere/server.pem`, 0o600);
  const server = serveAlone(`${dir}/elsewhere/server.pem`);
  try {
    const [, port] = await server.waitFor(
      /listening on ws:\/\/127\.0\.0\.1:(\d+)/,
    );
    await server.waitFor(/ {4}deno task connect .*\n/);
    assert.ok(
      server.stdout.includes(
        `Wrote the public key of ${dir}/elsewhere/server.pem to ${dir}/elsewhere/public.pem (there was none)\n` +
          `Give people a copy of ${dir}/elsewhere/public.pem (never the private key).\n` +
          `They connect with:\n` +
          `    deno task connect 127.0.0.1:${port} --pub public.pem\n`,
      ),
      server.stdout,
    );
    assert.equal(
      await Deno.readTextFile(`${dir}/elsewhere/public.pem`),
      await Deno.readTextFile(`${dir}/keys/public.pem`),
    );
    const client = new ChatProcess(
      ["connect", `127.0.0.1:${port}`, "--pub", "public.pem", "--user", "jo"],
      { cwd: `${dir}/elsewhere` },
    );
    await client.waitFor(/SUCCESS: Username registered\./);
    await client.write("/quit\n");
    assert.equal((await client.finish()).code, 0, client.stdout);
  } finally {
    await stop(server);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve leaves another key's public.pem beside its key alone and prints the keygen command that replaces it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-hint-" });
  await makeKeys(`${dir}/keys`);
  await makeKeys(`${dir}/other`);
  const right = await Deno.readTextFile(`${dir}/keys/public.pem`);
  const stale = await Deno.readTextFile(`${dir}/other/public.pem`);
  await Deno.writeTextFile(`${dir}/keys/public.pem`, stale);
  const server = serveAlone(`${dir}/keys/private.pem`);
  let command: string;
  try {
    [, command] = await server.waitFor(
      /\/keys\/public\.pem holds another key \(SHA256:\S+\), not the public key of .*\/keys\/private\.pem; to replace it with this key's, run:\n {4}deno task chat (.*)\n/,
    ) as [string, string];
    assert.equal(await Deno.readTextFile(`${dir}/keys/public.pem`), stale);
  } finally {
    await stop(server);
  }
  try {
    // Run as printed (`deno task chat` is main.ts), it writes the right one.
    assert.equal(
      command,
      `keygen --public-from ${dir}/keys/private.pem --force`,
    );
    const fixed = new ChatProcess(command.split(" "));
    assert.equal((await fixed.finish()).code, 0, fixed.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/keys/public.pem`), right);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve prints an https:// address per LAN address and its certificate's fingerprint, keeps the certificate and serves the page with it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-https-" });
  await makeKeys(`${dir}/keys`);
  const start = () =>
    new ChatProcess([
      "serve",
      "--key",
      `${dir}/keys/private.pem`,
      "--port",
      "0",
      "--data",
      `${dir}/data`,
    ]);
  let server = start();
  try {
    await server.waitFor(
      /Made a TLS certificate for the web page \(there was none\), valid until \d{4}-\d\d-\d\d\n/,
    );
    const [, port] = await server.waitFor(
      /listening on ws:\/\/0\.0\.0\.0:(\d+)/,
    );
    const [, address] = await server.waitFor(/ {4}https:\/\/(\S+)\/\n/);
    const [, printed] = await server.waitFor(
      /self-signed \(Advanced, Proceed\)\.\nIts SHA-256 fingerprint is:\n {4}([0-9A-F:]{95})\n/,
    );
    assert.match(address!, new RegExp(`:${port}$`));
    const cert = await Deno.readTextFile(`${dir}/data/tls-cert.pem`);
    assert.equal(new X509Certificate(cert).fingerprint256, printed);
    for (const file of ["tls-cert.pem", "tls-key.pem"]) {
      assert.equal(
        (await Deno.stat(`${dir}/data/${file}`)).mode! & 0o777,
        0o600,
      );
    }
    // The page over https with that certificate (on this machine's name in it).
    const client = Deno.createHttpClient({ caCerts: [cert] });
    try {
      const page = await fetch(`https://localhost:${port}/`, { client });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
    } finally {
      client.close();
    }
    await stop(server);
    // Started again: the same certificate, not a new warning in every browser.
    server = start();
    const [, again] = await server.waitFor(
      /Its SHA-256 fingerprint is:\n {4}([0-9A-F:]{95})\n/,
    );
    assert.equal(again, printed);
    assert.doesNotMatch(server.stdout, /Made a TLS certificate/);
  } finally {
    await stop(server);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat serve --no-web makes no certificate and prints no https:// address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-noweb-" });
  await makeKeys(`${dir}/keys`);
  const server = new ChatProcess([
    "serve",
    "--key",
    `${dir}/keys/private.pem`,
    "--port",
    "0",
    "--data",
    `${dir}/data`,
    "--no-web",
  ]);
  try {
    const [, port] = await server.waitFor(/listening on ws:\/\/\S+:(\d+)/);
    await server.waitFor(HINT);
    // Nothing speaks TLS there: a handshake gets no certificate.
    const conn = await Deno.connectTls({ hostname: "localhost", port: +port! });
    await assert.rejects(() => conn.handshake());
    conn.close();
    assert.doesNotMatch(server.stdout, /https:\/\/|TLS certificate/);
    await assert.rejects(() => Deno.stat(`${dir}/data/tls-cert.pem`));
  } finally {
    await stop(server);
    await Deno.remove(dir, { recursive: true });
  }
});
