import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createPrivateDir,
  describeModeChange,
  formatMode,
  looseMode,
  restrictMode,
  unprotectedKeyWarning,
  writePrivateFileAtomically,
} from "../../src/fs/private_paths.ts";

const unix = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "chat_private_paths_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const MODULE = new URL("../../src/fs/private_paths.ts", import.meta.url).href;

/**
 * Runs `code` (which may use `createPrivateDir`) in a new Deno process
 * under `umask`, set by a shell, as a careless login might set it. A child,
 * since changing this process's umask needs --allow-sys=umask.
 */
async function underUmask(umask: string, code: string): Promise<void> {
  const output = await new Deno.Command("sh", {
    args: [
      "-c",
      `umask ${umask} && exec "$0" eval "$1"`,
      Deno.execPath(),
      `import { createPrivateDir, writePrivateFileAtomically } from ${
        JSON.stringify(MODULE)
      };\n${code}`,
    ],
  }).output();
  if (!output.success) {
    throw new Error(new TextDecoder().decode(output.stderr));
  }
}

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

Deno.test({
  name: "createPrivateDir makes a new folder exactly 0700 under umask 000",
  ignore: !unix,
  fn: () =>
    withTempDir(async (dir) => {
      const path = join(dir, "a", "b");
      await underUmask("000", `createPrivateDir(${JSON.stringify(path)});`);
      assert.equal(modeOf(path), 0o700);
    }),
});

Deno.test({
  name:
    "writePrivateFileAtomically writes 0600 in a new 0700 folder under umask 000, and replaces what was there",
  ignore: !unix,
  fn: () =>
    withTempDir(async (dir) => {
      const path = join(dir, "config", "chat", "trusted_senders");
      const write = (text: string) =>
        `await writePrivateFileAtomically(${JSON.stringify(path)}, ${
          JSON.stringify(text)
        });`;
      await underUmask("000", write("first\n"));
      assert.equal(modeOf(join(dir, "config", "chat")), 0o700);
      assert.equal(modeOf(join(dir, "config")), 0o700);
      assert.equal(modeOf(path), 0o600);
      await writePrivateFileAtomically(path, "second\n");
      assert.equal(await Deno.readTextFile(path), "second\n");
      assert.deepEqual(
        [...Deno.readDirSync(join(dir, "config", "chat"))].map((e) => e.name),
        ["trusted_senders"],
      );
    }),
});

Deno.test({
  name: "createPrivateDir makes a new folder exactly 0700 under umask 277",
  ignore: !unix,
  fn: () =>
    withTempDir(async (dir) => {
      const path = join(dir, "data");
      await underUmask("277", `createPrivateDir(${JSON.stringify(path)});`);
      assert.equal(modeOf(path), 0o700);
    }),
});

Deno.test({
  name: "createPrivateDir leaves an existing folder's mode alone",
  ignore: !unix,
  fn: () =>
    withTempDir((dir) => {
      Deno.chmodSync(dir, 0o755);
      createPrivateDir(dir);
      assert.equal(modeOf(dir), 0o755);
    }),
});

Deno.test({
  name:
    "restrictMode narrows a folder to 0700 and a file to 0600 and says from what",
  ignore: !unix,
  fn: () =>
    withTempDir((dir) => {
      const folder = join(dir, "data");
      Deno.mkdirSync(folder);
      Deno.chmodSync(folder, 0o755);
      const file = join(folder, "chat.db");
      Deno.writeTextFileSync(file, "", { mode: 0o644 });
      Deno.chmodSync(file, 0o664);

      assert.deepEqual(restrictMode(folder), {
        path: folder,
        from: 0o755,
        to: 0o700,
      });
      assert.deepEqual(restrictMode(file), {
        path: file,
        from: 0o664,
        to: 0o600,
      });
      assert.equal(modeOf(folder), 0o700);
      assert.equal(modeOf(file), 0o600);
      // Nothing left to do, and nothing there.
      assert.equal(restrictMode(folder), null);
      assert.equal(restrictMode(file), null);
      assert.equal(restrictMode(join(dir, "missing")), null);
    }),
});

Deno.test({
  name:
    "restrictMode leaves an owner-only mode that is narrower than 0600 alone",
  ignore: !unix,
  fn: () =>
    withTempDir((dir) => {
      const file = join(dir, "key.pem");
      Deno.writeTextFileSync(file, "", { mode: 0o400 });
      assert.equal(restrictMode(file), null);
      assert.equal(modeOf(file), 0o400);
    }),
});

Deno.test({
  name: "looseMode reports any access by group or others",
  ignore: !unix,
  fn: () =>
    withTempDir((dir) => {
      const file = join(dir, "private.pem");
      Deno.writeTextFileSync(file, "", { mode: 0o600 });
      assert.equal(looseMode(file), null);
      for (const mode of [0o640, 0o604, 0o610, 0o601, 0o644, 0o666]) {
        Deno.chmodSync(file, mode);
        assert.equal(looseMode(file), mode, formatMode(mode));
      }
      assert.equal(looseMode(join(dir, "missing")), null);
    }),
});

Deno.test("formatMode writes permission bits as chmod takes them", () => {
  assert.equal(formatMode(0o644), "0644");
  assert.equal(formatMode(0o100600), "0600");
  assert.equal(formatMode(0o4755), "4755");
});

Deno.test("describeModeChange names the path and both modes", () => {
  assert.equal(
    describeModeChange(
      { path: "keys/chat-data", from: 0o755, to: 0o700 },
      "the data folder",
    ),
    "Made the data folder 'keys/chat-data' private: its mode was 0755, now 0700",
  );
});

Deno.test("unprotectedKeyWarning says what is wrong, what it risks and how to fix it", () => {
  const warning = unprotectedKeyWarning(
    "keys/private.pem",
    0o644,
    "can pose as this server to every client",
  );
  const lines = warning.split("\n");
  assert.equal(
    lines[1],
    "@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @",
  );
  assert.equal(lines[0]!.length, lines[1]!.length);
  assert.ok(
    lines.includes("Permissions 0644 for 'keys/private.pem' are too open."),
  );
  assert.ok(
    lines.includes(
      "Anyone who can read it can pose as this server to every client. Fix it with:",
    ),
  );
  assert.equal(lines.at(-1), "    chmod 600 'keys/private.pem'");
  // A quote in the path cannot break out of the suggested command.
  assert.equal(
    unprotectedKeyWarning("it's.pem", 0o644, "x").split("\n").at(-1),
    `    chmod 600 'it'\\''s.pem'`,
  );
});

Deno.test({
  name:
    "writePrivateFileAtomically with durable replaces the text, 0600, and leaves no temporary file",
  ignore: !unix,
  fn: () =>
    withTempDir(async (dir) => {
      const path = join(dir, "config", "e2e_state");
      const long = "é".repeat(100_000); // several writes' worth of bytes
      await writePrivateFileAtomically(path, "first", { durable: true });
      await writePrivateFileAtomically(path, long, { durable: true });
      assert.equal(await Deno.readTextFile(path), long);
      assert.equal(modeOf(path), 0o600);
      assert.equal(modeOf(join(dir, "config")), 0o700);
      const names = [...Deno.readDirSync(join(dir, "config"))].map((e) =>
        e.name
      );
      assert.deepEqual(names, ["e2e_state"]);
    }),
});
