import assert from "node:assert/strict";
import { HistoryFile, historyPath } from "../../src/client/history_file.ts";

Deno.test("historyPath names one file per server key, safe as a file name", () => {
  assert.equal(
    historyPath("/c", "SHA256:ab+/cd"),
    "/c/history/ab-_cd",
  );
});

Deno.test("HistoryFile keeps lines across loads, 0600, capped, without secrets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/history/server`;
    const first = await HistoryFile.load(path, 3);
    for (const line of ["a", "b", "password=x", "c", "d", "b"]) {
      await first.add(line);
    }
    assert.deepEqual(first.lines, ["c", "d", "b"]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    assert.equal(await Deno.readTextFile(path), "c\nd\nb\n");
    const again = await HistoryFile.load(path, 3);
    assert.deepEqual(again.lines, ["c", "d", "b"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
