/**
 * What `chat` keeps on disk is its user's alone, whatever the umask: real
 * `keygen` and `serve` processes started under umask 000.
 */

import assert from "node:assert/strict";
import { ChatProcess, listeningPort, makeKeys } from "../_helpers/process.ts";

const unix = Deno.build.os !== "windows";

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-at-rest-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

function serve(dir: string, umask = "000"): ChatProcess {
  return new ChatProcess([
    "serve",
    "--key",
    `${dir}/keys/private.pem`,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--data",
    `${dir}/data`,
  ], { umask });
}

async function stop(server: ChatProcess): Promise<void> {
  // How it exits is not what these tests are about (a SIGTERM that arrives
  // just before the server installs its handler ends it with status 143).
  server.kill("SIGTERM");
  await server.finish();
}

Deno.test({
  name:
    "chat keygen and serve under umask 000 keep the key folder and data folder 0700 and the key and database files 0600",
  ignore: !unix,
  fn: () =>
    withDir(async (dir) => {
      const keygen = new ChatProcess(
        ["keygen", "--bits", "2048", "--out", `${dir}/keys`],
        { umask: "000" },
      );
      assert.equal((await keygen.finish()).code, 0, keygen.stderr);
      assert.equal(modeOf(`${dir}/keys`), 0o700);
      assert.equal(modeOf(`${dir}/keys/private.pem`), 0o600);
      assert.equal(modeOf(`${dir}/keys/public.pem`), 0o644);

      const server = serve(dir);
      try {
        await listeningPort(server);
        await server.waitFor(/Data is kept in/);
        assert.equal(modeOf(`${dir}/data`), 0o700);
        // The log and shared memory exist while the server runs.
        for (const file of ["chat.db", "chat.db-wal", "chat.db-shm"]) {
          assert.equal(modeOf(`${dir}/data/${file}`), 0o600, file);
        }
        assert.doesNotMatch(server.stderr, /UNPROTECTED/);
        assert.doesNotMatch(server.stdout, /Made .* private/);
      } finally {
        await stop(server);
      }
    }),
});

Deno.test({
  name:
    "chat serve narrows an existing data folder and database that others can read, and says so",
  ignore: !unix,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/keys`);
      let server = serve(dir, "022");
      await listeningPort(server);
      await stop(server);
      // As chat before issue 14 left them.
      Deno.chmodSync(`${dir}/data`, 0o755);
      Deno.chmodSync(`${dir}/data/chat.db`, 0o644);

      server = serve(dir, "022");
      try {
        await listeningPort(server);
        await server.waitFor(/Data is kept in/);
        assert.match(
          server.stdout,
          new RegExp(
            `Made the data folder '${dir}/data' private: its mode was 0755, now 0700`,
          ),
        );
        assert.match(
          server.stdout,
          new RegExp(
            `Made the database file '${dir}/data/chat.db' private: its mode was 0644, now 0600`,
          ),
        );
        assert.equal(modeOf(`${dir}/data`), 0o700);
        for (const file of ["chat.db", "chat.db-wal", "chat.db-shm"]) {
          assert.equal(modeOf(`${dir}/data/${file}`), 0o600, file);
        }
      } finally {
        await stop(server);
      }
    }),
});

Deno.test({
  name:
    "chat serve warns, as ssh does, when its private key is readable by others, and still starts",
  ignore: !unix,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/keys`);
      const key = `${dir}/keys/private.pem`;
      Deno.chmodSync(key, 0o644);
      const server = serve(dir);
      try {
        await listeningPort(server);
        assert.match(server.stderr, /WARNING: UNPROTECTED PRIVATE KEY FILE!/);
        assert.ok(
          server.stderr.includes(
            `Permissions 0644 for '${key}' are too open.`,
          ),
          server.stderr,
        );
        assert.ok(
          server.stderr.includes(
            "Anyone who can read it can pose as this server to every client.",
          ),
          server.stderr,
        );
        assert.ok(
          server.stderr.includes(`    chmod 600 '${key}'`),
          server.stderr,
        );
      } finally {
        await stop(server);
      }
      // The warning is a warning: the mode is the operator's to change.
      assert.equal(modeOf(key), 0o644);
    }),
});

Deno.test({
  name:
    "chat connect under umask 000 keeps its config folder 0700 and its identity key and known hosts 0600",
  ignore: !unix,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/keys`);
      const server = serve(dir, "022");
      try {
        const port = await listeningPort(server);
        Deno.mkdirSync(`${dir}/client`);
        const client = new ChatProcess([
          "connect",
          `127.0.0.1:${port}`,
          "--user",
          "sophia",
          "--trust-first-use",
        ], {
          cwd: `${dir}/client`, // no keys/public.pem here: known hosts are used
          env: { XDG_CONFIG_HOME: `${dir}/config` },
          umask: "000",
        });
        await client.waitFor(/SUCCESS: Username registered\./);
        await client.write("/quit\n");
        assert.equal((await client.finish()).code, 0, client.stderr);
        assert.equal(modeOf(`${dir}/config`), 0o700);
        assert.equal(modeOf(`${dir}/config/chat`), 0o700);
        assert.equal(modeOf(`${dir}/config/chat/identity.pem`), 0o600);
        assert.equal(modeOf(`${dir}/config/chat/known_hosts`), 0o600);
      } finally {
        await stop(server);
      }
    }),
});

Deno.test({
  name:
    "chat connect narrows a config folder others can read and warns about an identity key others can read",
  ignore: !unix,
  fn: () =>
    withDir(async (dir) => {
      await makeKeys(`${dir}/keys`);
      const server = serve(dir, "022");
      const run = () =>
        new ChatProcess([
          "connect",
          `127.0.0.1:${port}`,
          "--user",
          "sophia",
          "--pub",
          `${dir}/keys/public.pem`,
        ], { env: { XDG_CONFIG_HOME: `${dir}/config` } });
      let port = "";
      try {
        port = await listeningPort(server);
        const first = run();
        await first.waitFor(/SUCCESS: Username registered\./);
        await first.write("/quit\n");
        assert.equal((await first.finish()).code, 0, first.stderr);
        assert.doesNotMatch(first.stderr, /UNPROTECTED/);

        const config = `${dir}/config/chat`;
        Deno.chmodSync(config, 0o755);
        Deno.chmodSync(`${config}/identity.pem`, 0o644);
        const second = run();
        await second.waitFor(/SUCCESS: Username registered\./);
        await second.write("/quit\n");
        assert.equal((await second.finish()).code, 0, second.stderr);
        assert.ok(
          second.stdout.includes(
            `Made your configuration folder '${config}' private: its mode was 0755, now 0700`,
          ),
          second.stdout,
        );
        assert.match(second.stderr, /WARNING: UNPROTECTED PRIVATE KEY FILE!/);
        assert.ok(
          second.stderr.includes(
            `Permissions 0644 for '${config}/identity.pem' are too open.`,
          ),
        );
        assert.ok(
          second.stderr.includes(
            "Anyone who can read it can sign in with your names.",
          ),
        );
        assert.equal(modeOf(config), 0o700);
      } finally {
        await stop(server);
      }
    }),
});
