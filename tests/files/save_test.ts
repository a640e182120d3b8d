import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createSha256 } from "../../src/files/digest.ts";
import { partialPaths } from "../../src/files/partials.ts";
import {
  defaultDownloadsDir,
  downloadMark,
  IncomingFile,
  SaveError,
  sharedFolderWarning,
  sizeRefusal,
} from "../../src/files/save.ts";
import { beforeOpening } from "../_helpers/before_opening.ts";

const POSIX = Deno.build.os !== "windows";
const LIMIT = { maxBytes: 1024 * 1024 };
const CONTENT = new TextEncoder().encode("hello, file transfer\n".repeat(50));
const CONTENT_SHA256 = sha256Hex(CONTENT);

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_save_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Writes `bytes` in chunks of `size`. */
async function writeChunks(
  file: IncomingFile,
  bytes: Uint8Array,
  size = 100,
): Promise<void> {
  for (let i = 0; i < bytes.length; i += size) {
    await file.write(bytes.subarray(i, i + size));
  }
}

async function receive(
  dir: string,
  name: string,
  bytes = CONTENT,
): Promise<{ path: string; name: string }> {
  const file = await IncomingFile.create(dir, name, bytes.length, LIMIT);
  await writeChunks(file, bytes);
  return await file.finish(sha256Hex(bytes));
}

async function rejectsWithSaveError(
  promise: Promise<unknown>,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SaveError, `got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("IncomingFile saves the file under its name and checks its hash", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(
      dir,
      "example.txt",
      CONTENT.length,
      LIMIT,
    );
    assert.equal(file.declaredSize, CONTENT.length);
    assert.equal(file.partPath, join(dir, "example.txt.part"));
    await writeChunks(file, CONTENT, 333);
    assert.equal(file.received, CONTENT.length);
    const saved = await file.finish(CONTENT_SHA256.toUpperCase());
    assert.deepEqual(saved, {
      path: join(dir, "example.txt"),
      name: "example.txt",
      sha256: CONTENT_SHA256.toLowerCase(),
    });
    assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
    assert.deepEqual(await listDir(dir), ["example.txt"]);
  });
});

Deno.test("IncomingFile never makes the file executable", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const { path } = await receive(dir, "script.sh");
    const mode = (await Deno.stat(path)).mode ?? 0;
    assert.equal(mode & 0o111, 0, mode.toString(8));
    assert.equal(mode & 0o600, 0o600);
  });
});

Deno.test("IncomingFile returns an absolute path for a relative folder", async () => {
  await withTempDir(async (dir) => {
    const previous = Deno.cwd();
    Deno.chdir(dir);
    try {
      const { path } = await receive("downloads", "a.txt");
      assert.equal(path, join(Deno.realPathSync(dir), "downloads", "a.txt"));
    } finally {
      Deno.chdir(previous);
    }
  });
});

Deno.test("IncomingFile saves a hostile name inside the folder", async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    const saved = await receive(downloads, "../../.bashrc");
    assert.equal(saved.path, join(downloads, "bashrc"));
    assert.deepEqual(await listDir(dir), ["downloads"]);
    const escaped = await receive(downloads, "\x1b[2J/etc/NUL.txt");
    assert.equal(escaped.name, "_NUL.txt");
  });
});

Deno.test("IncomingFile saves an empty file", async () => {
  await withTempDir(async (dir) => {
    const saved = await receive(dir, "empty", new Uint8Array());
    assert.equal((await Deno.stat(saved.path)).size, 0);
  });
});

Deno.test("IncomingFile creates a missing downloads folder", async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "a", "b");
    const { path } = await receive(downloads, "x.bin");
    assert.equal(path, join(downloads, "x.bin"));
    assert.ok((await Deno.lstat(downloads)).isDirectory);
  });
});

Deno.test("IncomingFile picks a numbered name instead of replacing a file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(join(dir, "example.txt"), "mine");
    await Deno.writeTextFile(join(dir, "example (1).txt"), "mine too");
    const saved = await receive(dir, "example.txt");
    assert.equal(saved.name, "example (2).txt");
    assert.equal(saved.path, join(dir, "example (2).txt"));
    assert.equal(await Deno.readTextFile(join(dir, "example.txt")), "mine");
    assert.equal(
      await Deno.readTextFile(join(dir, "example (1).txt")),
      "mine too",
    );
    const again = await receive(dir, "archive.tar.gz");
    const third = await receive(dir, "archive.tar.gz");
    assert.equal(again.name, "archive.tar.gz");
    assert.equal(third.name, "archive (1).tar.gz");
  });
});

Deno.test("IncomingFile does not follow a symlink planted as the part file", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    await Deno.mkdir(downloads);
    const target = join(dir, "victim.txt");
    await Deno.writeTextFile(target, "original");
    await Deno.symlink(target, join(downloads, "example.txt.part"));
    const file = await IncomingFile.create(
      downloads,
      "example.txt",
      CONTENT.length,
      LIMIT,
    );
    assert.equal(file.partPath, join(downloads, "example (1).txt.part"));
    await writeChunks(file, CONTENT);
    const saved = await file.finish(CONTENT_SHA256);
    assert.equal(saved.name, "example.txt");
    assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
    assert.equal(await Deno.readTextFile(target), "original");
    assert.ok(
      (await Deno.lstat(join(downloads, "example.txt.part"))).isSymlink,
    );
  });
});

Deno.test("IncomingFile does not follow a symlink planted as the final file", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    await Deno.mkdir(downloads);
    const target = join(dir, "victim.txt");
    const missing = join(dir, "created-through-link.txt");
    await Deno.writeTextFile(target, "original");
    await Deno.symlink(target, join(downloads, "example.txt"));
    // A dangling link must not get its target created either.
    await Deno.symlink(missing, join(downloads, "example (1).txt"));
    const saved = await receive(downloads, "example.txt");
    assert.equal(saved.name, "example (2).txt");
    assert.equal(await Deno.readTextFile(target), "original");
    await assert.rejects(Deno.lstat(missing), Deno.errors.NotFound);
    assert.ok((await Deno.lstat(join(downloads, "example.txt"))).isSymlink);
    assert.ok((await Deno.lstat(saved.path)).isFile);
  });
});

Deno.test("IncomingFile refuses a downloads folder that is a symlink", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const real = join(dir, "real");
    const link = join(dir, "link");
    await Deno.mkdir(real);
    await Deno.symlink(real, link);
    await rejectsWithSaveError(
      IncomingFile.create(link, "a.txt", 1, LIMIT),
      new RegExp(`^Downloads folder '${link}' is a symbolic link: `),
    );
    assert.deepEqual(await listDir(real), []);
  });
});

Deno.test("IncomingFile refuses a downloads folder that is a file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "file");
    await Deno.writeTextFile(path, "x");
    await rejectsWithSaveError(
      IncomingFile.create(path, "a.txt", 1, LIMIT),
      /is not a folder/,
    );
  });
});

Deno.test("IncomingFile.finish leaves nothing behind on a checksum mismatch", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(
      dir,
      "example.txt",
      CONTENT.length,
      LIMIT,
    );
    await writeChunks(file, CONTENT);
    await rejectsWithSaveError(
      file.finish(sha256Hex(new Uint8Array([1]))),
      /^Cannot save 'example\.txt': checksum mismatch/,
    );
    assert.deepEqual(await listDir(dir), []);
    // The transfer is over; nothing more is accepted.
    await rejectsWithSaveError(file.write(new Uint8Array(1)), /checksum/);
    await rejectsWithSaveError(file.finish(CONTENT_SHA256), /checksum/);
  });
});

Deno.test("IncomingFile.write refuses more bytes than declared", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(dir, "example.txt", 10, LIMIT);
    await file.write(new Uint8Array(6));
    await rejectsWithSaveError(
      file.write(new Uint8Array(5)),
      /sent more than the 10 bytes it announced/,
    );
    assert.equal(file.received, 6);
    assert.deepEqual(await listDir(dir), []);
    await rejectsWithSaveError(file.write(new Uint8Array(1)), /sent more/);
  });
});

Deno.test("IncomingFile.finish refuses a truncated file", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(
      dir,
      "example.txt",
      CONTENT.length,
      LIMIT,
    );
    const half = CONTENT.subarray(0, 100);
    await file.write(half);
    await rejectsWithSaveError(
      file.finish(CONTENT_SHA256),
      new RegExp(`truncated: got 100 of ${CONTENT.length} bytes`),
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("IncomingFile.create refuses a file over maxBytes before creating anything", async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    await rejectsWithSaveError(
      IncomingFile.create(downloads, "big.iso", 2048, { maxBytes: 2047 }),
      /^Cannot accept the file: it is 2048 bytes, over the limit of 2047 bytes$/,
    );
    await rejectsWithSaveError(
      IncomingFile.create(downloads, "big.iso", 3 * 2 ** 30, {
        maxBytes: 2 ** 30,
      }),
      /^Cannot accept the file: it is 3\.0 GiB, over the limit of 1\.0 GiB$/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("IncomingFile.create refuses an invalid declared size", async () => {
  await withTempDir(async (dir) => {
    for (const size of [-1, 1.5, NaN, Infinity]) {
      await rejectsWithSaveError(
        IncomingFile.create(dir, "a", size, LIMIT),
        /invalid size/,
      );
    }
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("IncomingFile.create refuses a file larger than the free space", {
  // statfs needs --allow-sys=statfs; without it the check is skipped.
  ignore: Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !==
    "granted",
}, async () => {
  await withTempDir(async (dir) => {
    const huge = Number.MAX_SAFE_INTEGER;
    await rejectsWithSaveError(
      IncomingFile.create(dir, "huge.bin", huge, { maxBytes: huge }),
      /can be used in .*free some space$/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test(
  "IncomingFile.create counts what the files being received in the folder will still take",
  {
    // statfs needs --allow-sys=statfs; without it the check is skipped.
    ignore:
      Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !==
        "granted",
  },
  async () => {
    // Found in review: two files that each fitted were both accepted, and
    // together filled the disk.
    await withTempDir(async (dir) => {
      const { statfs } = await import("node:fs/promises");
      const stats = await statfs(dir);
      const MIB = 1024 * 1024;
      // All the free space but the 16 MiB margin and 256 MiB: announced, not
      // written (a .part of 0 bytes).
      const first = stats.bavail * stats.bsize - 16 * MIB - 256 * MIB;
      assert.ok(first > 0, "this test needs 272 MiB free in the temp folder");
      const limit = { maxBytes: Number.MAX_SAFE_INTEGER };
      const a = await IncomingFile.create(dir, "a.bin", first, limit);
      // 512 MiB would fit alone, not beside a.bin's promise.
      await rejectsWithSaveError(
        IncomingFile.create(dir, "b.bin", 512 * MIB, limit),
        /beside the files being received there, free some space$/,
      );
      await a.abort("cancelled by you");
      const b = await IncomingFile.create(dir, "b.bin", 512 * MIB, limit);
      await b.abort("cancelled by you");
    });
  },
);

Deno.test("IncomingFile.abort removes the part file and is idempotent", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(dir, "a.txt", 10, LIMIT);
    await file.write(new Uint8Array(4));
    assert.deepEqual(await listDir(dir), ["a.txt.part"]);
    await file.abort("cancelled by you");
    await file.abort("again");
    assert.deepEqual(await listDir(dir), []);
    await rejectsWithSaveError(
      file.write(new Uint8Array(1)),
      /^cancelled by you$/,
    );
    await rejectsWithSaveError(file.finish(""), /^cancelled by you$/);
  });
});

Deno.test("IncomingFile.abort after finish keeps the saved file", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(dir, "a.txt", CONTENT.length, LIMIT);
    await file.write(CONTENT);
    const { path } = await file.finish(CONTENT_SHA256);
    await file.abort("too late");
    assert.deepEqual(await Deno.readFile(path), CONTENT);
  });
});

Deno.test("IncomingFile.write keeps order when writes are not awaited", async () => {
  await withTempDir(async (dir) => {
    const file = await IncomingFile.create(dir, "a.txt", CONTENT.length, LIMIT);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < CONTENT.length; i += 7) {
      writes.push(file.write(CONTENT.subarray(i, i + 7)));
    }
    const { path } = await file.finish(CONTENT_SHA256);
    await Promise.all(writes);
    assert.deepEqual(await Deno.readFile(path), CONTENT);
  });
});

Deno.test("defaultDownloadsDir prefers ~/Downloads/chat-downloads", {
  ignore: !POSIX,
}, async () => {
  const previous = Deno.env.get("HOME");
  await withTempDir(async (home) => {
    try {
      Deno.env.set("HOME", home);
      assert.equal(defaultDownloadsDir(), join(home, "chat-downloads"));
      await Deno.mkdir(join(home, "Downloads"));
      assert.equal(
        defaultDownloadsDir(),
        join(home, "Downloads", "chat-downloads"),
      );
      Deno.env.delete("HOME");
      assert.throws(() => defaultDownloadsDir(), SaveError);
    } finally {
      if (previous === undefined) Deno.env.delete("HOME");
      else Deno.env.set("HOME", previous);
    }
  });
});

Deno.test("createSha256 digests incrementally", () => {
  const hash = createSha256();
  hash.update(new TextEncoder().encode("a"));
  hash.update(new TextEncoder().encode("bc"));
  const abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert.equal(hash.digestHex(), abc);
  assert.equal(hash.digestHex(), abc);
  assert.throws(() => hash.update(new Uint8Array(1)), TypeError);
});

Deno.test("createSha256 digests nothing", () => {
  assert.equal(
    createSha256().digestHex(),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

const UNDER_UMASK = new URL("./_save_under_umask.ts", import.meta.url).pathname;

for (const umask of ["000", "022", "277"]) {
  Deno.test(
    `IncomingFile makes the folder 0700 and the .part and saved file 0600 under umask ${umask}`,
    {
      ignore: !POSIX,
    },
    async () => {
      await withTempDir(async (root) => {
        // A real process with that umask: the test runner's own cannot change
        // without --allow-sys=umask.
        const output = await new Deno.Command("sh", {
          args: [
            "-c",
            `umask ${umask} && exec "$0" run --quiet --allow-read --allow-write "$1" "$2"`,
            Deno.execPath(),
            UNDER_UMASK,
            join(root, "downloads"),
          ],
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 0, stderr);
        assert.deepEqual(
          JSON.parse(new TextDecoder().decode(output.stdout)),
          { folder: 0o700, part: 0o600, saved: 0o600 },
        );
      });
    },
  );
}

Deno.test(
  "IncomingFile leaves the mode of a downloads folder that already existed",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      await Deno.chmod(dir, 0o750);
      await receive(dir, "a.txt");
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o750);
      assert.equal((await Deno.stat(join(dir, "a.txt"))).mode! & 0o777, 0o600);
    });
  },
);

Deno.test("downloadMark writes a Zone.Identifier stream on Windows and a quarantine attribute on macOS", () => {
  assert.deepEqual(downloadMark("C:\\dl\\a.pdf", "windows"), {
    kind: "stream",
    path: "C:\\dl\\a.pdf:Zone.Identifier",
    content: "[ZoneTransfer]\r\nZoneId=3\r\n",
  });
  assert.deepEqual(downloadMark("/dl/a.pdf", "darwin", 0x5e8b9c1a * 1000), {
    kind: "command",
    command: [
      "/usr/bin/xattr",
      "-w",
      "com.apple.quarantine",
      "0083;5e8b9c1a;chat;",
      "/dl/a.pdf",
    ],
  });
  assert.equal(downloadMark("/dl/a.pdf", "linux"), null);
});

Deno.test("sizeRefusal refuses only what is over the limit", () => {
  assert.equal(sizeRefusal(10, 10), null);
  assert.equal(
    sizeRefusal(3 * 1024 ** 3, 2 * 1024 ** 3),
    "Cannot accept the file: it is 3.0 GiB, over the limit of 2.0 GiB",
  );
});

Deno.test(
  "IncomingFile makes chat's own downloads folder 0700 even if it existed",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      await Deno.chmod(dir, 0o755);
      const file = await IncomingFile.create(dir, "a.txt", 0, {
        ...LIMIT,
        ownFolder: true,
      });
      await file.abort("test");
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    });
  },
);

Deno.test(
  "IncomingFile.finish refuses a part file swapped for another one, and links nothing",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      const file = await IncomingFile.create(
        dir,
        "photo.jpg",
        CONTENT.length,
        LIMIT,
      );
      await file.write(CONTENT);
      // Someone who can write to the folder puts their own file, with the
      // very bytes announced (so size and hash agree), under the .part name.
      await Deno.remove(file.partPath);
      await Deno.writeFile(file.partPath, CONTENT);
      await assert.rejects(
        () => file.finish(CONTENT_SHA256),
        (error: unknown) =>
          error instanceof SaveError &&
          /was replaced by another one/.test(error.message),
      );
      assert.ok(!(await listDir(dir)).includes("photo.jpg"));
    });
  },
);

Deno.test(
  "sharedFolderWarning warns about a folder others can write to, and only then",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      const shared = join(dir, "shared");
      const mine = join(dir, "mine");
      await Deno.mkdir(shared);
      await Deno.chmod(shared, 0o777);
      await Deno.mkdir(mine);
      await Deno.chmod(mine, 0o755);
      assert.match(
        (await sharedFolderWarning(shared))!,
        /^WARNING: others can write to the downloads folder '.*shared' \(mode 0777\)/,
      );
      await Deno.chmod(shared, 0o770);
      assert.match((await sharedFolderWarning(shared))!, /mode 0770/);
      assert.equal(await sharedFolderWarning(mine), null);
      assert.equal(await sharedFolderWarning(join(dir, "missing")), null);
    });
  },
);

/** The partial of `CONTENT` from sophia, as file_receiver.ts asks for it. */
function resumeOption(key: string) {
  return {
    ...LIMIT,
    resume: {
      key,
      meta: {
        v: 1 as const,
        from: "sophia",
        fingerprint: "SHA256:x",
        name: "example.txt",
        size: CONTENT.length,
      },
    },
  };
}

Deno.test(
  "IncomingFile resuming writes the partial's description anew, never through a symlink planted under its name",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      const downloads = join(dir, "downloads");
      const key = "a".repeat(32);
      const paths = partialPaths(downloads, key);
      await Deno.mkdir(paths.dir, { recursive: true, mode: 0o700 });
      await Deno.chmod(paths.dir, 0o700);
      // What someone who can write to a shared downloads folder leaves once
      // they swapped the partials folder for theirs: the description's name
      // pointing at a file of the user's.
      const victim = join(dir, "victim.txt");
      await Deno.writeTextFile(victim, "original");
      await Deno.symlink(victim, paths.meta);
      const file = await IncomingFile.create(
        downloads,
        "example.txt",
        CONTENT.length,
        resumeOption(key),
      );
      assert.equal(await Deno.readTextFile(victim), "original");
      const meta = await Deno.lstat(paths.meta);
      assert.ok(meta.isFile && !meta.isSymlink);
      assert.equal((meta.mode ?? 0) & 0o777, 0o600);
      assert.equal(
        JSON.parse(await Deno.readTextFile(paths.meta)).from,
        "sophia",
      );
      await writeChunks(file, CONTENT);
      const saved = await file.finish(CONTENT_SHA256);
      assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
      assert.equal(await Deno.readTextFile(victim), "original");
    });
  },
);

Deno.test(
  "IncomingFile resuming neither follows nor reuses a symlink planted as the partial's part",
  {
    ignore: !POSIX,
  },
  async () => {
    await withTempDir(async (dir) => {
      const downloads = join(dir, "downloads");
      const key = "b".repeat(32);
      const paths = partialPaths(downloads, key);
      await Deno.mkdir(paths.dir, { recursive: true, mode: 0o700 });
      await Deno.chmod(paths.dir, 0o700);
      const victim = join(dir, "victim.txt");
      await Deno.writeTextFile(victim, "original");
      await Deno.symlink(victim, paths.part);
      const file = await IncomingFile.create(
        downloads,
        "example.txt",
        CONTENT.length,
        resumeOption(key),
      );
      // Nothing held: the link was not taken for a partial.
      assert.equal(file.resumeClaim(), null);
      assert.ok((await Deno.lstat(paths.part)).isFile);
      await writeChunks(file, CONTENT);
      await file.finish(CONTENT_SHA256);
      assert.equal(await Deno.readTextFile(victim), "original");
    });
  },
);

/**
 * Counts the files opened at `path` from now on that are still open: the
 * test sanitizer does not see an `FsFile` left open.
 */
function openFilesAt(path: string): Disposable & { count(): number } {
  const deno = Deno as { open: typeof Deno.open };
  const open = deno.open;
  const prototype = Deno.FsFile.prototype;
  const close = prototype.close;
  const opened: Deno.FsFile[] = [];
  const closed = new WeakSet<Deno.FsFile>();
  deno.open = async (target, options) => {
    const file = await open(target, options);
    if (String(target) === path) opened.push(file);
    return file;
  };
  prototype.close = function (this: Deno.FsFile) {
    closed.add(this);
    close.call(this);
  };
  return {
    count: () => opened.filter((file) => !closed.has(file)).length,
    [Symbol.dispose]: () => {
      deno.open = open;
      prototype.close = close;
    },
  };
}

/** Every read of an open file fails, as on a failing disk. */
function failingReads(): Disposable {
  const prototype = Deno.FsFile.prototype;
  const read = prototype.read;
  prototype.read = () =>
    Promise.reject(
      Object.assign(new Error("Input/output error (os error 5)"), {
        code: "EIO",
      }),
    );
  return { [Symbol.dispose]: () => (prototype.read = read) };
}

Deno.test("IncomingFile resuming takes its partial's lock though another transfer removed the emptied partials folder as it came to open it", async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    const first = await IncomingFile.create(
      downloads,
      "example.txt",
      CONTENT.length,
      resumeOption("a".repeat(32)),
    );
    await writeChunks(first, CONTENT);
    const paths = partialPaths(downloads, "d".repeat(32));
    let second: IncomingFile;
    {
      using _ = beforeOpening(paths.lock, async () => {
        // The first ends between the second making the folder and opening
        // its lock file there: it leaves the folder empty, and removes it.
        await first.finish(CONTENT_SHA256);
        await assert.rejects(Deno.lstat(paths.dir), Deno.errors.NotFound);
      });
      second = await IncomingFile.create(
        downloads,
        "example.txt",
        CONTENT.length,
        resumeOption("d".repeat(32)),
      );
    }
    assert.equal(second.resumable, true);
    assert.equal(second.partPath, paths.part);
    await writeChunks(second, CONTENT);
    const saved = await second.finish(CONTENT_SHA256);
    assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
    await assert.rejects(Deno.lstat(paths.dir), Deno.errors.NotFound);
  });
});

Deno.test("IncomingFile resuming a partial it cannot read fails with a SaveError, closes it, lets its lock go and keeps it for a later offer", async () => {
  await withTempDir(async (dir) => {
    const downloads = join(dir, "downloads");
    const key = "e".repeat(32);
    const first = await IncomingFile.create(
      downloads,
      "example.txt",
      CONTENT.length,
      resumeOption(key),
    );
    await first.write(CONTENT.subarray(0, 500));
    await first.suspend("the connection was lost");
    {
      using parts = openFilesAt(partialPaths(downloads, key).part);
      using _ = failingReads();
      await rejectsWithSaveError(
        IncomingFile.create(
          downloads,
          "example.txt",
          CONTENT.length,
          resumeOption(key),
        ),
        /^Cannot resume 'example\.txt': Input\/output error/,
      );
      assert.equal(parts.count(), 0);
    }
    const again = await IncomingFile.create(
      downloads,
      "example.txt",
      CONTENT.length,
      resumeOption(key),
    );
    assert.equal(again.resumeClaim()?.offset, 500);
    await again.write(CONTENT.subarray(500));
    const saved = await again.finish(CONTENT_SHA256);
    assert.deepEqual(await Deno.readFile(saved.path), CONTENT);
  });
});

Deno.test(
  "IncomingFile.create does not count a partial it failed to resume among the files being received",
  {
    // statfs needs --allow-sys=statfs; without it nothing is counted.
    ignore:
      Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !==
        "granted",
  },
  async () => {
    await withTempDir(async (downloads) => {
      const { statfs } = await import("node:fs/promises");
      const stats = await statfs(downloads);
      const MIB = 1024 * 1024;
      // As in the test above of what files being received will take: all
      // the free space but the 16 MiB margin and 256 MiB.
      const size = stats.bavail * stats.bsize - 16 * MIB - 256 * MIB;
      assert.ok(size > 0, "this test needs 272 MiB free in the temp folder");
      const limit = { maxBytes: Number.MAX_SAFE_INTEGER };
      const meta = {
        v: 1 as const,
        from: "sophia",
        fingerprint: "SHA256:x",
        name: "big.bin",
        size,
      };
      const resume = { ...limit, resume: { key: "f".repeat(32), meta } };
      const first = await IncomingFile.create(
        downloads,
        "big.bin",
        size,
        resume,
      );
      await first.write(CONTENT);
      await first.suspend("the connection was lost");
      {
        using _ = failingReads();
        // Any error: what is checked here is what it leaves behind.
        await assert.rejects(
          IncomingFile.create(downloads, "big.bin", size, resume),
        );
      }
      // 512 MiB would not fit beside the failed one's bytes to come.
      const other = await IncomingFile.create(
        downloads,
        "b.bin",
        512 * MIB,
        limit,
      );
      await other.abort("cancelled by you");
    });
  },
);

/**
 * Once `path` is opened (the first time from now on), moves the file away
 * and puts a link to `target` in its place: what someone who can write the
 * folder does between the open and the chmod that follows it.
 */
function swappedForLinkAfterOpening(path: string, target: string): Disposable {
  const deno = Deno as { open: typeof Deno.open };
  const open = deno.open;
  let pending = true;
  deno.open = async (at, options) => {
    const file = await open(at, options);
    if (pending && String(at) === path) {
      pending = false;
      await Deno.rename(path, `${path}.moved`);
      await Deno.symlink(target, path);
    }
    return file;
  };
  return { [Symbol.dispose]: () => (deno.open = open) };
}

for (const resumable of [false, true]) {
  Deno.test(
    `IncomingFile sets the mode of the ${
      resumable ? "partial" : ".part"
    } file it opened, never of a file a link swapped in for it leads to`,
    { ignore: !POSIX },
    async () => {
      await withTempDir(async (dir) => {
        const downloads = join(dir, "downloads");
        await Deno.mkdir(downloads, { mode: 0o700 });
        const victim = join(dir, "victim.txt");
        await Deno.writeTextFile(victim, "original");
        await Deno.chmod(victim, 0o644);
        const key = "c".repeat(32);
        const part = resumable
          ? partialPaths(downloads, key).part
          : join(downloads, "example.txt.part");
        {
          using _ = swappedForLinkAfterOpening(part, victim);
          await assert.rejects(
            IncomingFile.create(
              downloads,
              "example.txt",
              CONTENT.length,
              resumable ? resumeOption(key) : LIMIT,
            ),
            /was replaced by (a link|another file) as it was made/,
          );
        }
        assert.equal((await Deno.stat(victim)).mode! & 0o777, 0o644);
        assert.equal(await Deno.readTextFile(victim), "original");
      });
    },
  );
}
