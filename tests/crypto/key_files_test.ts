import assert from "node:assert/strict";
import { join } from "node:path";
import {
  inspectPublicKeyFile,
  KeyFileError,
  keyPairExists,
  keyPairRefusal,
  readPrivateKeyFile,
  readPublicKeyFile,
  writeKeyPair,
  writePublicKeyFile,
} from "../../src/crypto/key_files.ts";
import {
  generateRsaKeyPair,
  importPrivateKeyPem,
} from "../../src/crypto/keys.ts";

const KEY = await generateRsaKeyPair(2048);
const OTHER_KEY = await generateRsaKeyPair(2048);
const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_key_files_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function paths(dir: string) {
  return {
    privatePath: join(dir, "keys", "nested", "private.pem"),
    publicPath: join(dir, "keys", "nested", "public.pem"),
  };
}

async function rejectsWithMessage(
  promise: Promise<unknown>,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KeyFileError, `got ${error}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

Deno.test("writeKeyPair creates parent directories and a private key readable only by its owner", async () => {
  await withTempDir(async (dir) => {
    const { privatePath, publicPath } = paths(dir);
    await writeKeyPair({
      privatePath,
      publicPath,
      privatePem: KEY.privatePem,
      publicPem: KEY.publicPem,
      force: false,
    });
    assert.equal(await Deno.readTextFile(privatePath), KEY.privatePem);
    assert.equal(await Deno.readTextFile(publicPath), KEY.publicPem);
    if (POSIX) {
      assert.equal((await Deno.stat(privatePath)).mode! & 0o777, 0o600);
    }
    const privateKey = await readPrivateKeyFile(privatePath);
    const publicKey = await readPublicKeyFile(publicPath);
    assert.equal(privateKey.fingerprint, KEY.fingerprint);
    assert.equal(publicKey.fingerprint, KEY.fingerprint);
    assert.deepEqual(privateKey.publicSpki, publicKey.spki);
  });
});

Deno.test("writeKeyPair refuses to overwrite existing files without force", async () => {
  await withTempDir(async (dir) => {
    const { privatePath, publicPath } = paths(dir);
    const pair = { privatePath, publicPath, force: false };
    await writeKeyPair({
      ...pair,
      privatePem: KEY.privatePem,
      publicPem: KEY.publicPem,
    });
    await rejectsWithMessage(
      writeKeyPair({
        ...pair,
        privatePem: OTHER_KEY.privatePem,
        publicPem: OTHER_KEY.publicPem,
      }),
      `Refusing to overwrite existing '${privatePath}' (use --force)`,
    );
    assert.equal(await Deno.readTextFile(privatePath), KEY.privatePem);
    assert.equal(await Deno.readTextFile(publicPath), KEY.publicPem);
  });
});

Deno.test("writeKeyPair leaves no private key behind when only the public key exists", async () => {
  await withTempDir(async (dir) => {
    const { privatePath, publicPath } = paths(dir);
    await Deno.mkdir(join(dir, "keys", "nested"), { recursive: true });
    await Deno.writeTextFile(publicPath, "someone else's key\n");
    await rejectsWithMessage(
      writeKeyPair({
        privatePath,
        publicPath,
        privatePem: KEY.privatePem,
        publicPem: KEY.publicPem,
        force: false,
      }),
      `Refusing to overwrite existing '${publicPath}' (use --force)`,
    );
    assert.equal(
      await keyPairExists(privatePath, join(dir, "none.pem")),
      false,
    );
    assert.equal(await Deno.readTextFile(publicPath), "someone else's key\n");
  });
});

Deno.test("writeKeyPair with force replaces both files and tightens the private key's mode", async () => {
  await withTempDir(async (dir) => {
    const { privatePath, publicPath } = paths(dir);
    await writeKeyPair({
      privatePath,
      publicPath,
      privatePem: KEY.privatePem,
      publicPem: KEY.publicPem,
      force: false,
    });
    if (POSIX) await Deno.chmod(privatePath, 0o644);
    await writeKeyPair({
      privatePath,
      publicPath,
      privatePem: OTHER_KEY.privatePem,
      publicPem: OTHER_KEY.publicPem,
      force: true,
    });
    assert.equal(
      (await readPrivateKeyFile(privatePath)).fingerprint,
      OTHER_KEY.fingerprint,
    );
    assert.equal(
      (await readPublicKeyFile(publicPath)).fingerprint,
      OTHER_KEY.fingerprint,
    );
    if (POSIX) {
      assert.equal((await Deno.stat(privatePath)).mode! & 0o777, 0o600);
    }
    const leftovers = [];
    for await (const entry of Deno.readDir(join(dir, "keys", "nested"))) {
      leftovers.push(entry.name);
    }
    assert.deepEqual(leftovers.sort(), ["private.pem", "public.pem"]);
  });
});

Deno.test("readPrivateKeyFile explains a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "private.pem");
    await rejectsWithMessage(
      readPrivateKeyFile(path),
      `Cannot read private key '${path}': file not found. Run 'chat keygen --private ${path}' to create one`,
    );
    // Seen: 'chat serve --key /srv/chat/server.pem' said "Run 'chat keygen'",
    // which makes keys/private.pem instead.
    const spaced = join(dir, "my keys", "server.pem");
    await rejectsWithMessage(
      readPrivateKeyFile(spaced),
      `Cannot read private key '${spaced}': file not found. Run 'chat keygen --private "${spaced}"' to create one`,
    );
    await rejectsWithMessage(
      readPublicKeyFile(path),
      new RegExp(`^Cannot read public key '.*': file not found\\. .*--pub$`),
    );
  });
});

Deno.test("readPrivateKeyFile explains unusable contents", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "key.pem");
    await Deno.writeTextFile(path, "not a key\n");
    await rejectsWithMessage(
      readPrivateKeyFile(path),
      `Cannot use private key '${path}': not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')`,
    );
    await Deno.writeTextFile(path, KEY.privatePem);
    await rejectsWithMessage(
      readPublicKeyFile(path),
      `Cannot use public key '${path}': this is a private key; give the public key instead (expected '-----BEGIN PUBLIC KEY-----')`,
    );
    await rejectsWithMessage(
      readPrivateKeyFile(dir),
      `Cannot read private key '${dir}': not a file`,
    );
  });
});

Deno.test({
  name: "readPrivateKeyFile explains a permission problem",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "private.pem");
      await Deno.writeTextFile(path, KEY.privatePem, { mode: 0o000 });
      // Root reads anything, and asking for the uid would need --allow-sys.
      const readable = await Deno.readTextFile(path).then(
        () => true,
        () => false,
      );
      if (readable) return;
      await rejectsWithMessage(
        readPrivateKeyFile(path),
        `Cannot read private key '${path}': permission denied`,
      );
    });
  },
});

Deno.test("keyPairExists is true when either file exists", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a.pem");
    const b = join(dir, "b.pem");
    assert.equal(await keyPairExists(a, b), false);
    await Deno.writeTextFile(b, "");
    assert.equal(await keyPairExists(a, b), true);
    assert.equal(await keyPairExists(b, a), true);
  });
});

// Seen following the README: after `deno task start` made the keys, `chat
// keygen` said only "keys/private.pem or keys/public.pem already exists".
Deno.test("keyPairRefusal names the key files already there and what to do", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "private.pem");
    const b = join(dir, "public.pem");
    assert.equal(await keyPairRefusal(a, b), null);
    await Deno.writeTextFile(b, "");
    assert.equal(
      await keyPairRefusal(a, b),
      `${b} already exists; use --force to replace it`,
    );
    await Deno.writeTextFile(a, "");
    assert.equal(
      await keyPairRefusal(a, b),
      `${a} and ${b} already exist (chat serve uses them as they are); use --force to replace them`,
    );
    await Deno.remove(b);
    assert.equal(
      await keyPairRefusal(a, b),
      `${a} already exists (chat keygen --public-from ${a} writes its public key); use --force to replace it`,
    );
  });
});

/** The public key of KEY as chat keygen --public-from derives it. */
const KEY_SPKI = (await importPrivateKeyPem(KEY.privatePem)).publicSpki;

Deno.test("writePublicKeyFile writes a 0644 public key chat can read back as the private key's own, making folders", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "new", "folder", "public.pem");
    assert.equal(
      await writePublicKeyFile(path, KEY_SPKI, { force: false }),
      "created",
    );
    assert.equal(await Deno.readTextFile(path), KEY.publicPem);
    if (POSIX) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    const read = await readPublicKeyFile(path);
    assert.equal(read.fingerprint, KEY.fingerprint);
  });
});

Deno.test("writePublicKeyFile leaves a file that already holds the key as it is, even with force", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "public.pem");
    // The same key in another form (a trailing comment line) is the same key.
    const kept = KEY.publicPem + "kept as it was\n";
    await Deno.writeTextFile(path, kept);
    for (const force of [false, true]) {
      assert.equal(
        await writePublicKeyFile(path, KEY_SPKI, { force }),
        "unchanged",
      );
      assert.equal(await Deno.readTextFile(path), kept);
    }
  });
});

Deno.test("writePublicKeyFile refuses to replace another key or other text without force, and replaces it with force", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "public.pem");
    for (
      const [before, holds] of [
        [OTHER_KEY.publicPem, `another key (${OTHER_KEY.fingerprint})`],
        ["not a key\n", "no RSA public key"],
      ] as const
    ) {
      await Deno.writeTextFile(path, before);
      await rejectsWithMessage(
        writePublicKeyFile(path, KEY_SPKI, { force: false }),
        `Refusing to overwrite '${path}': it holds ${holds} (use --force to replace it)`,
      );
      assert.equal(await Deno.readTextFile(path), before);
      assert.equal(
        await writePublicKeyFile(path, KEY_SPKI, { force: true }),
        "replaced",
      );
      assert.equal(await Deno.readTextFile(path), KEY.publicPem);
    }
  });
});

Deno.test("writePublicKeyFile never replaces a private key, even with force", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "private.pem");
    for (const pem of [KEY.privatePem, OTHER_KEY.privatePem]) {
      await Deno.writeTextFile(path, pem);
      for (const force of [false, true]) {
        await rejectsWithMessage(
          writePublicKeyFile(path, KEY_SPKI, { force }),
          `Refusing to overwrite '${path}': it holds a private key (give the public key another path with --public)`,
        );
        assert.equal(await Deno.readTextFile(path), pem);
      }
    }
  });
});

Deno.test("inspectPublicKeyFile tells nothing, this key, another key, a private key and a folder apart", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "public.pem");
    assert.deepEqual(await inspectPublicKeyFile(path, KEY_SPKI), {
      kind: "none",
    });
    await Deno.writeTextFile(path, KEY.publicPem);
    assert.deepEqual(await inspectPublicKeyFile(path, KEY_SPKI), {
      kind: "same",
    });
    await Deno.writeTextFile(path, OTHER_KEY.publicPem);
    assert.deepEqual(await inspectPublicKeyFile(path, KEY_SPKI), {
      kind: "other",
      holds: `another key (${OTHER_KEY.fingerprint})`,
    });
    await Deno.writeTextFile(path, KEY.privatePem);
    assert.deepEqual(await inspectPublicKeyFile(path, KEY_SPKI), {
      kind: "private",
    });
    const folder = join(dir, "folder.pem");
    await Deno.mkdir(folder);
    assert.deepEqual(await inspectPublicKeyFile(folder, KEY_SPKI), {
      kind: "other",
      holds: "no key file we can read",
    });
  });
});
