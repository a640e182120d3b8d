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
