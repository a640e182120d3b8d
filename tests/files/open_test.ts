import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cmdArguments,
  OPEN_PATH_VARIABLE,
  openFile,
  parseOpenWith,
  platformOpener,
} from "../../src/files/open.ts";

const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_open_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * An opener that records its arguments, one per line, in `record`: sh's `$0`
 * is `record`, the opened path arrives as `$1` and any more as `$2`...
 */
function recorder(record: string): string[] {
  return [
    "sh",
    "-c",
    'printf "%s\\n" "$#" "$@" > "$0.tmp" && mv "$0.tmp" "$0"',
    record,
  ];
}

/** Waits for the opener, which openFile does not wait for, to write `path`. */
async function readWhenWritten(path: string): Promise<string> {
  for (let attempt = 0; attempt < 250; attempt++) {
    try {
      // The shell creates the file before printf writes to it: an empty
      // file, or one without its last newline, is still being written.
      const text = await Deno.readTextFile(path);
      if (text.endsWith("\n")) return text;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`The opener never wrote ${path}`);
}

Deno.test("platformOpener picks each desktop's opener", () => {
  assert.deepEqual(platformOpener("linux"), {
    command: ["xdg-open"],
    pathIn: "argument",
  });
  assert.deepEqual(platformOpener("freebsd").command, ["xdg-open"]);
  assert.deepEqual(platformOpener("darwin").command, ["open"]);
});

Deno.test("platformOpener on Windows uses Start-Process -LiteralPath with the path outside the command line, never cmd", () => {
  const opener = platformOpener("windows");
  assert.equal(opener.pathIn, "environment");
  assert.equal(opener.command[0], "powershell.exe");
  assert.ok(!opener.command.some((word) => /^cmd|start$/i.test(word)));
  assert.equal(
    opener.command.at(-1),
    `Start-Process -LiteralPath $env:${OPEN_PATH_VARIABLE}`,
  );
});

Deno.test(
  "openFile hands an environment opener the path outside its command line",
  {
    ignore: !POSIX,
  },
  async () => {
    // The Windows opener's mechanism, run with sh.
    await withTempDir(async (dir) => {
      const record = join(dir, "env");
      const path = join(dir, "a b;$(touch pwned).txt");
      await Deno.writeTextFile(path, "x");
      const opened = openFile(path, {
        opener: {
          command: [
            "sh",
            "-c",
            `printf "%s\\n" "$#" "$${OPEN_PATH_VARIABLE}" > "$0"`,
            record,
          ],
          pathIn: "environment",
        },
      });
      assert.deepEqual(opened, { ok: true });
      assert.equal(await readWhenWritten(record), `0\n${path}\n`);
      assert.ok(!(await Deno.stat(join(dir, "pwned")).catch(() => null)));
    });
  },
);

Deno.test("openFile passes a hostile path as one argument", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const record = join(dir, "args");
    const name = "my file; touch pwned $(touch pwned2) `id` & \"q\" 's'.txt";
    const path = join(dir, name);
    await Deno.writeTextFile(path, "content");
    // The opener starts in `dir`, so an injected `touch` would land there.
    const previous = Deno.cwd();
    Deno.chdir(dir);
    try {
      assert.deepEqual(openFile(path, { command: recorder(record) }), {
        ok: true,
      });
    } finally {
      Deno.chdir(previous);
    }
    assert.equal(await readWhenWritten(record), `1\n${path}\n`);
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assert.deepEqual(names.sort(), ["args", name]);
  });
});

Deno.test("openFile appends the absolute path after the command's arguments", {
  ignore: !POSIX,
}, async () => {
  await withTempDir(async (dir) => {
    const record = join(dir, "args");
    const command = [...recorder(record), "--new-window"];
    const previous = Deno.cwd();
    Deno.chdir(dir);
    try {
      assert.deepEqual(openFile("-rf", { command }), { ok: true });
    } finally {
      Deno.chdir(previous);
    }
    const realDir = await Deno.realPath(dir);
    assert.equal(
      await readWhenWritten(record),
      `2\n--new-window\n${join(realDir, "-rf")}\n`,
    );
  });
});

Deno.test("openFile warns instead of throwing when the opener is missing", () => {
  const result = openFile("/tmp/x.txt", {
    command: ["chat-no-such-opener-xyz"],
  });
  assert.deepEqual(result, {
    ok: false,
    warning:
      "Could not open the file: chat-no-such-opener-xyz is not installed",
  });
});

Deno.test("openFile does not keep the process waiting for the opener", {
  ignore: !POSIX,
}, () => {
  // The test ends while the opener still sleeps; the sanitizers would fail
  // it if the child were still holding a resource or an op.
  const command = ["sh", "-c", "sleep 2"];
  assert.deepEqual(openFile("ignored", { command }), { ok: true });
});

Deno.test("parseOpenWith splits on whitespace", () => {
  assert.deepEqual(parseOpenWith("feh"), ["feh"]);
  assert.deepEqual(parseOpenWith("  code  --new-window\t-w "), [
    "code",
    "--new-window",
    "-w",
  ]);
  assert.deepEqual(parseOpenWith(""), []);
  assert.deepEqual(parseOpenWith("   "), []);
});

Deno.test("parseOpenWith honours single and double quotes", () => {
  assert.deepEqual(parseOpenWith("'/opt/My Viewer/view' --flag"), [
    "/opt/My Viewer/view",
    "--flag",
  ]);
  assert.deepEqual(
    parseOpenWith('"C:\\Program Files\\App\\app.exe" /open'),
    ["C:\\Program Files\\App\\app.exe", "/open"],
  );
  assert.deepEqual(parseOpenWith(`a"b c"d 'it"s'`), ["ab cd", 'it"s']);
  assert.deepEqual(parseOpenWith(`cmd /c start ""`), [
    "cmd",
    "/c",
    "start",
    "",
  ]);
});

Deno.test("parseOpenWith rejects an unclosed quote", () => {
  assert.throws(() => parseOpenWith("'viewer"), SyntaxError);
  assert.throws(
    () => parseOpenWith('a "b c'),
    /^SyntaxError: Unclosed " quote/,
  );
});

Deno.test("cmdArguments quotes what cmd.exe would interpret", () => {
  assert.deepEqual(
    cmdArguments(["/c", "start", "", "C:\\dl\\a&calc.txt"]),
    ["/c", "start", '""', '"C:\\dl\\a&calc.txt"'],
  );
  assert.deepEqual(cmdArguments(["C:\\dl\\My photo (1).jpg"]), [
    '"C:\\dl\\My photo (1).jpg"',
  ]);
  assert.deepEqual(cmdArguments(["C:\\dl\\plain.txt"]), ["C:\\dl\\plain.txt"]);
});

Deno.test("cmdArguments refuses % and double quotes", () => {
  assert.equal(cmdArguments(["C:\\dl\\%PATH%.txt"]), undefined);
  assert.equal(cmdArguments(['C:\\dl\\a".txt']), undefined);
});
