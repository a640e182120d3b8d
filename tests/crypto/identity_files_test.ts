import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createIdentityFile,
  defaultConfigDir,
  defaultIdentityPath,
  IdentityFileError,
  loadOrCreateIdentity,
} from "../../src/crypto/identity_files.ts";
import { generateIdentity } from "../../src/crypto/identity.ts";

const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_identity_files_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsWithMessage(
  promise: Promise<unknown>,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof IdentityFileError, `got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

function env(values: Record<string, string>) {
  return (name: string) => values[name];
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("loadOrCreateIdentity creates the key on first use, readable only by its owner", async () => {
  await withTempDir(async (dir) => {
    const configDir = join(dir, "config", "chat");
    const path = join(configDir, "identity.pem");
    const first = await loadOrCreateIdentity(path);
    assert.equal(first.created, true);
    assert.match(first.identity.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(
      await Deno.readTextFile(path),
      /^-----BEGIN PRIVATE KEY-----\n/,
    );
    if (POSIX) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(configDir)).mode! & 0o777, 0o700);
      assert.equal((await Deno.stat(join(dir, "config"))).mode! & 0o777, 0o700);
    }
    // No temporary file is left behind next to the key.
    assert.deepEqual(await listDir(configDir), ["identity.pem"]);
  });
});

Deno.test("loadOrCreateIdentity returns the same identity on later loads", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    const first = await loadOrCreateIdentity(path);
    const text = await Deno.readTextFile(path);
    const second = await loadOrCreateIdentity(path);
    assert.equal(second.created, false);
    assert.equal(second.identity.fingerprint, first.identity.fingerprint);
    assert.deepEqual(second.identity.publicRaw, first.identity.publicRaw);
    assert.equal(await Deno.readTextFile(path), text);
  });
});

Deno.test("loadOrCreateIdentity run concurrently settles on one identity", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    const results = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateIdentity(path)),
    );
    assert.equal(results.filter((result) => result.created).length, 1);
    const fingerprints = new Set(
      results.map((result) => result.identity.fingerprint),
    );
    assert.equal(fingerprints.size, 1);
    assert.deepEqual(await listDir(dir), ["identity.pem"]);
  });
});

Deno.test("loadOrCreateIdentity refuses a malformed file and leaves it alone", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    await Deno.writeTextFile(path, "not a key\n");
    await rejectsWithMessage(
      loadOrCreateIdentity(path),
      new RegExp(
        `^Cannot use identity '${
          RegExp.escape(path)
        }': not a PEM identity key .*move it away to create a new identity`,
      ),
    );
    assert.equal(await Deno.readTextFile(path), "not a key\n");

    await Deno.writeTextFile(path, "");
    await rejectsWithMessage(
      loadOrCreateIdentity(path),
      /^Cannot use identity/,
    );
  });
});

Deno.test("loadOrCreateIdentity refuses a directory where the key should be", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    await Deno.mkdir(path);
    await rejectsWithMessage(
      loadOrCreateIdentity(path),
      /^Cannot read identity '.*': not a file/,
    );
  });
});

Deno.test({
  name:
    "loadOrCreateIdentity reports an unreadable file instead of replacing it",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "identity.pem");
      const { identity } = await loadOrCreateIdentity(path);
      await Deno.chmod(path, 0o000);
      try {
        // Root reads anything; there is nothing to test then.
        const readable = await Deno.readTextFile(path).then(() => true)
          .catch(() => false);
        if (readable) return;
        await rejectsWithMessage(
          loadOrCreateIdentity(path),
          /^Cannot read identity '.*': permission denied$/,
        );
      } finally {
        await Deno.chmod(path, 0o600);
      }
      const again = await loadOrCreateIdentity(path);
      assert.equal(again.identity.fingerprint, identity.fingerprint);
    });
  },
});

Deno.test("createIdentityFile writes a new identity with mode 0600", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nested", "id.pem");
    const identity = await createIdentityFile(path, { force: false });
    if (POSIX) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(dir, "nested"))).mode! & 0o777, 0o700);
    }
    const loaded = await loadOrCreateIdentity(path);
    assert.equal(loaded.created, false);
    assert.equal(loaded.identity.fingerprint, identity.fingerprint);
  });
});

Deno.test("createIdentityFile refuses to overwrite without force", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    const existing = await generateIdentity();
    await Deno.writeTextFile(path, existing.privatePem);
    await rejectsWithMessage(
      createIdentityFile(path, { force: false }),
      /^Refusing to overwrite existing identity '.*' \(use --force; /,
    );
    assert.equal(await Deno.readTextFile(path), existing.privatePem);
    assert.deepEqual(await listDir(dir), ["identity.pem"]);
  });
});

Deno.test("createIdentityFile with force replaces the identity", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.pem");
    const { identity: old } = await loadOrCreateIdentity(path);
    const replaced = await createIdentityFile(path, { force: true });
    assert.notEqual(replaced.fingerprint, old.fingerprint);
    const loaded = await loadOrCreateIdentity(path);
    assert.equal(loaded.identity.fingerprint, replaced.fingerprint);
    if (POSIX) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    assert.deepEqual(await listDir(dir), ["identity.pem"]);
  });
});

Deno.test("defaultConfigDir follows each platform's convention", () => {
  assert.equal(
    defaultConfigDir("linux", env({ HOME: "/home/ann" })),
    "/home/ann/.config/chat",
  );
  assert.equal(
    defaultConfigDir(
      "linux",
      env({ HOME: "/home/ann", XDG_CONFIG_HOME: "/xdg" }),
    ),
    "/xdg/chat",
  );
  // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
  assert.equal(
    defaultConfigDir(
      "linux",
      env({ HOME: "/home/ann", XDG_CONFIG_HOME: "relative" }),
    ),
    "/home/ann/.config/chat",
  );
  assert.equal(
    defaultConfigDir(
      "darwin",
      env({ HOME: "/Users/ann", XDG_CONFIG_HOME: "/xdg" }),
    ),
    "/Users/ann/Library/Application Support/chat",
  );
  assert.equal(
    defaultConfigDir(
      "windows",
      env({ APPDATA: "C:\\Users\\ann\\AppData\\Roaming" }),
    ),
    "C:\\Users\\ann\\AppData\\Roaming\\chat",
  );
});

Deno.test("defaultConfigDir says what to do when the environment has no home", () => {
  assert.throws(
    () => defaultConfigDir("linux", env({})),
    (error: unknown) => {
      assert.ok(error instanceof IdentityFileError);
      assert.match(error.message, /\$HOME is not set; .*--identity PATH$/);
      return true;
    },
  );
  assert.throws(
    () => defaultConfigDir("windows", env({})),
    /%APPDATA% is not set/,
  );
});

Deno.test("defaultIdentityPath is identity.pem in the config folder", () => {
  assert.equal(defaultIdentityPath(), join(defaultConfigDir(), "identity.pem"));
});
