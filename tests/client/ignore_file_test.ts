import assert from "node:assert/strict";
import { IgnoreFile } from "../../src/client/ignore_file.ts";

const SERVER = "SHA256:" + "s".repeat(43);
const JOJO = "SHA256:" + "j".repeat(43);

Deno.test("IgnoreFile persists entries 0600 and reads them back for the same server", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/conf/ignored`;
    const first = await IgnoreFile.load(path, SERVER);
    await first.add({ fingerprint: JOJO, name: "jojo" });
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/conf`)).mode! & 0o777, 0o700);
    }
    const again = await IgnoreFile.load(path, SERVER);
    assert.equal(again.list.isIgnored("jojo", JOJO), true);
    assert.equal(await again.remove("jojo", JOJO), 1);
    const last = await IgnoreFile.load(path, SERVER);
    assert.equal(last.list.isIgnored("jojo", JOJO), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IgnoreFile: /ignore lines given at once (a pasted list) all reach the file, and a removal among them too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ignored`;
    const ignore = await IgnoreFile.load(path, SERVER);
    await ignore.add({ fingerprint: null, name: "spam0" });
    await Promise.all([
      ...[1, 2, 3, 4].map((i) =>
        ignore.add({ fingerprint: null, name: `spam${i}` })
      ),
      ignore.remove("spam0", null),
    ]);
    const again = await IgnoreFile.load(path, SERVER);
    for (const i of [1, 2, 3, 4]) {
      assert.ok(again.list.isIgnored(`spam${i}`, null), `spam${i} lost`);
    }
    assert.equal(again.list.isIgnored("spam0", null), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
