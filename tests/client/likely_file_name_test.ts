import assert from "node:assert/strict";
import {
  likelyFileName,
  MAX_ENTRIES_SEARCHED,
} from "../../src/client/likely_file_name.ts";

Deno.test("likelyFileName names the one file a slip away, and none when several are, none are, or the folder is gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-likely-file-" });
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "n");
    await Deno.writeTextFile(`${dir}/secret-plans.txt`, "s");
    await Deno.mkdir(`${dir}/notas.txt`);
    assert.equal(await likelyFileName(`${dir}/notse.txt`), "notes.txt");
    assert.equal(await likelyFileName(`${dir}/zzzzzzzz.txt`), null);
    assert.equal(await likelyFileName(`${dir}/nope/notse.txt`), null);
    await Deno.writeTextFile(`${dir}/notez.txt`, "z");
    assert.equal(await likelyFileName(`${dir}/noted.txt`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("likelyFileName does not search a folder larger than MAX_ENTRIES_SEARCHED", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-likely-file-" });
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "n");
    for (let i = 0; i < MAX_ENTRIES_SEARCHED; i++) {
      await Deno.writeTextFile(`${dir}/f${i}`, "");
    }
    assert.equal(await likelyFileName(`${dir}/notse.txt`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("likelyFileName never names a hidden file unless the name typed starts with a dot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-likely-file-" });
  try {
    // A dotfile is often a secret (.env, .netrc): a typo must not make the
    // client say that one is there, nor send it at the next /file.
    await Deno.writeTextFile(`${dir}/.notes.txt`, "n");
    await Deno.writeTextFile(`${dir}/.env`, "SECRET=1");
    assert.equal(await likelyFileName(`${dir}/notes.txt`), null);
    assert.equal(await likelyFileName(`${dir}/env`), null);
    assert.equal(await likelyFileName(`${dir}/nev`), null);
    // Typed with its dot, the hidden file is what was meant.
    assert.equal(await likelyFileName(`${dir}/.notse.txt`), ".notes.txt");
    assert.equal(await likelyFileName(`${dir}/.nev`), ".env");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("likelyFileName names a link only when it leads to a file, not to a folder or nowhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-likely-file-" });
  try {
    await Deno.mkdir(`${dir}/photos`);
    await Deno.symlink(`${dir}/photos`, `${dir}/pictures`);
    await Deno.symlink(`${dir}/gone.txt`, `${dir}/report.txt`);
    await Deno.writeTextFile(`${dir}/real.txt`, "r");
    await Deno.symlink(`${dir}/real.txt`, `${dir}/budget.txt`);
    // Before: "Did you mean pictures?" and "report.txt?", which /file refused.
    assert.equal(await likelyFileName(`${dir}/pictrues`), null);
    assert.equal(await likelyFileName(`${dir}/reprot.txt`), null);
    assert.equal(await likelyFileName(`${dir}/budegt.txt`), "budget.txt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
