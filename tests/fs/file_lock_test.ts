import assert from "node:assert/strict";
import { join } from "node:path";
import { holderPid, lockFile } from "../../src/fs/file_lock.ts";
import { beforeOpening } from "../_helpers/before_opening.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

Deno.test("lockFile gives up after waitMs naming the holder, and takes the lock once it is let go", async () => {
  await using dir = await tempDir("chat-file-lock-");
  const path = join(dir.path, "chat", "a.lock");
  const first = await lockFile(path);
  assert.equal(first.kind, "held");
  if (first.kind !== "held") return;
  assert.deepEqual(await lockFile(path, { waitMs: 30, retryMs: 10 }), {
    kind: "elsewhere",
    pid: Deno.pid,
  });
  first.release();
  const second = await lockFile(path);
  assert.equal(second.kind, "held");
  if (second.kind === "held") second.release();
});

// Waited on the monotonic clock: by Date.now, a clock set forward while
// waiting gave up at once, naming a holder about to let go.
Deno.test("lockFile waits its waitMs for a holder to let go while Date.now jumps an hour forward", async () => {
  await using dir = await tempDir("chat-file-lock-");
  const path = join(dir.path, "chat", "a.lock");
  const first = await lockFile(path);
  assert.equal(first.kind, "held");
  if (first.kind !== "held") return;
  const realNow = Date.now;
  let held = true;
  const release = () => {
    if (held) first.release();
    held = false;
  };
  try {
    const waiting = lockFile(path, { waitMs: 10_000, retryMs: 10 });
    Date.now = () => realNow() + 3_600_000;
    // The holder lets go a while later (many tries of the waiter's).
    const letGo = setTimeout(release, 250);
    const second = await waiting.finally(() => clearTimeout(letGo));
    assert.equal(second.kind, "held");
    if (second.kind === "held") second.release();
  } finally {
    Date.now = realNow;
    release();
  }
});

Deno.test("holderPid reads a pid, and nothing else", () => {
  assert.equal(holderPid("123\n"), 123);
  assert.equal(holderPid(""), null);
  assert.equal(holderPid("12x\n"), null);
});

Deno.test(
  "lockFile refuses a lock file that is a symbolic link, and writes nothing through it",
  { ignore: Deno.build.os === "windows" },
  async () => {
    await using dir = await tempDir("chat-file-lock-");
    // Planted where a lock file is made in a folder others can write (a
    // downloads folder's partials): a link to a file of the user's.
    const victim = join(dir.path, "victim.txt");
    await Deno.writeTextFile(victim, "precious");
    const path = join(dir.path, "a.lock");
    await Deno.symlink(victim, path);
    await assert.rejects(lockFile(path), /not a plain file/);
    assert.equal(await Deno.readTextFile(victim), "precious");
  },
);

const PLANTED_LINK = new URL("./_lock_planted_link.ts", import.meta.url)
  .pathname;

Deno.test(
  "lockFile makes no file through a symbolic link planted between its look at the lock file and its open",
  { ignore: Deno.build.os === "windows" },
  async () => {
    await using dir = await tempDir("chat-file-lock-");
    // Planted by someone who can write the folder, after lockFile found
    // nothing there: a link to where they want an empty file of the user's.
    // In a process with every permission (the child says why).
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-check", "-A", PLANTED_LINK, dir.path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const { said, made } = JSON.parse(text);
    assert.match(said, /not a plain file/);
    assert.equal(made, false, "an empty file was made through the link");
  },
);

Deno.test("lockFile taken after its holder removed the lock file holds the new one, which the next one finds held", async () => {
  await using dir = await tempDir("chat-file-lock-");
  const path = join(dir.path, "a.lock");
  const first = await lockFile(path);
  assert.equal(first.kind, "held");
  if (first.kind !== "held") return;
  await Deno.remove(path);
  first.release();
  const second = await lockFile(path);
  assert.equal(second.kind, "held");
  if (second.kind !== "held") return;
  assert.deepEqual(await lockFile(path), { kind: "elsewhere", pid: Deno.pid });
  second.release();
});

Deno.test("lockFile makes its folder anew when another removes it just before the lock file is opened", async () => {
  await using dir = await tempDir("chat-file-lock-");
  const folder = join(dir.path, "partials");
  const path = join(folder, "a.lock");
  // The emptied folder of a holder that just let go (files/save.ts removes
  // it), removed between lockFile making it and opening the file in it.
  const removal = beforeOpening(path, () => Deno.remove(folder));
  let lock;
  try {
    lock = await lockFile(path);
  } finally {
    removal[Symbol.dispose]();
  }
  assert.equal(lock.kind, "held");
  if (lock.kind === "held") lock.release();
  assert.equal(removal.ran, true);
});
