/** File transfer between real `main.ts connect` processes: saving, and opening only safe files. */

import assert from "node:assert/strict";
import {
  ChatProcess,
  listeningPort,
  serveProcess,
} from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

Deno.test("chat connect --open-with opens received documents, and never scripts or executables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-cli-files-" });
  let server: ChatProcess | null = null;
  try {
    const keygen = new ChatProcess([
      "keygen",
      "--bits",
      "2048",
      "--out",
      `${dir}/keys`,
    ]);
    assert.equal((await keygen.finish()).code, 0);
    server = serveProcess(`${dir}/keys`);
    const port = await listeningPort(server);

    const opener = `${dir}/opener.sh`;
    await Deno.writeTextFile(
      opener,
      `#!/bin/sh\nprintf '%s\\n' "$1" >> "${dir}/opened.log"\n`,
    );
    await Deno.chmod(opener, 0o755);
    const downloads = `${dir}/jojo downloads`;
    const jojo = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "jojo",
      "--downloads",
      downloads,
      "--open-with",
      opener,
      "--accept-files",
      "all",
    ]);
    await jojo.waitFor(/SUCCESS: Username registered\./);

    await Deno.writeTextFile(`${dir}/notes.txt`, "meeting notes\n");
    await Deno.writeTextFile(`${dir}/run.sh`, "#!/bin/sh\necho pwned\n");
    // No extension: Windows would search PATHEXT, xdg-open would sniff HTML.
    await Deno.writeTextFile(
      `${dir}/readme`,
      "<html><script>alert(1)</script></html>",
    );
    // An executable in disguise: the content decides, not just the name.
    await Deno.writeFile(
      `${dir}/photo.jpg`,
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
    );
    const sophia = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "sophia",
    ]);
    await sophia.write(
      `/file jojo ${dir}/notes.txt\n/file jojo ${dir}/run.sh\n/file jojo ${dir}/photo.jpg\n/file jojo ${dir}/readme\n/file jojo ${dir}/nope.txt\n`,
    );
    const status = await sophia.finish();
    // The last command failed: a script hears it from the exit status.
    assert.equal(status.code, 1, sophia.stdout + sophia.stderr);
    for (const name of ["notes.txt", "run.sh", "photo.jpg", "readme"]) {
      assert.ok(
        sophia.stdout.includes(`File ${name} sent to jojo successfully.`),
        sophia.stdout,
      );
    }
    assert.match(sophia.stderr, /ERROR: File ".*nope\.txt" not found/);

    for (const name of ["notes.txt", "run.sh", "photo.jpg"]) {
      await jojo.waitFor(
        new RegExp(
          `You received file ${name.replace(".", "\\.")} from sophia\\.`,
        ),
      );
    }
    await jojo.waitFor(/Not opening photo\.jpg automatically/);
    await jojo.waitFor(/Not opening run\.sh automatically/);
    // Right after "Saved to <path>": the path is not said again.
    await jojo.waitFor(
      /Saved to [^\n]*\/readme\nNot opening readme automatically: its name has no extension\.\n/,
    );
    assert.ok(
      jojo.stdout.includes(`Saved to ${downloads}/notes.txt`),
      jojo.stdout,
    );
    // The opener runs detached: give it a moment to write.
    const deadline = Date.now() + WAIT_MS;
    let opened = "";
    while (Date.now() < deadline) {
      opened = await Deno.readTextFile(`${dir}/opened.log`).catch(() => "");
      if (opened) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(
      opened,
      `${downloads}/notes.txt\n`,
      "only the document was opened, as one argument",
    );
    assert.equal(
      await Deno.readTextFile(`${downloads}/run.sh`),
      "#!/bin/sh\necho pwned\n",
    );
    assert.equal((await Deno.stat(`${downloads}/run.sh`)).mode! & 0o111, 0);
    assert.equal((await jojo.finish()).code, 0);
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat connect that quits while a file is arriving keeps only a resumable 0600 partial, and the sender hears it left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-cli-quit-" });
  let server: ChatProcess | null = null;
  try {
    const keygen = new ChatProcess([
      "keygen",
      "--bits",
      "2048",
      "--out",
      `${dir}/keys`,
    ]);
    assert.equal((await keygen.finish()).code, 0);
    server = serveProcess(`${dir}/keys`);
    const port = await listeningPort(server);
    const downloads = `${dir}/downloads`;
    const jojo = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "jojo",
      "--downloads",
      downloads,
      "--no-open",
      "--accept-files",
      "all",
    ]);
    await jojo.waitFor(/SUCCESS: Username registered\./);
    const big = new Uint8Array(200 * 1024 * 1024);
    await Deno.writeFile(`${dir}/big.bin`, big);
    const sophia = new ChatProcess([
      "connect",
      `127.0.0.1:${port}`,
      "--pub",
      `${dir}/keys/public.pem`,
      "--user",
      "sophia",
    ]);
    await sophia.write(`/file jojo ${dir}/big.bin\n`);
    // Quit as soon as the file starts arriving.
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const names = await Array.fromAsync(Deno.readDir(downloads)).catch(
        () => [],
      );
      const parts = await Array.fromAsync(
        Deno.readDir(`${downloads}/.chat-partial`),
      ).catch(() => []);
      const part = parts.find((e) => e.name.endsWith(".part"));
      const size = part === undefined ? 0 : await Deno.stat(
        `${downloads}/.chat-partial/${part.name}`,
      ).then((info) => info.size, () => 0);
      if (names.length > 0 && size > 0) break;
      assert.ok(Date.now() < deadline, "the transfer started");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await jojo.write("/quit\n");
    assert.equal((await jojo.finish()).code, 0, jojo.stderr);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(downloads))).map((e) => e.name),
      [".chat-partial"],
    );
    const kept = await Array.fromAsync(
      Deno.readDir(`${downloads}/.chat-partial`),
    );
    assert.deepEqual(
      kept.map((e) => e.name.replace(/^[0-9a-f]{32}/, "KEY")).sort(),
      ["KEY.json", "KEY.part"],
    );
    for (const entry of kept) {
      const { mode } = await Deno.stat(
        `${downloads}/.chat-partial/${entry.name}`,
      );
      assert.equal(mode! & 0o777, 0o600, entry.name);
    }
    await sophia.finish();
    assert.match(
      sophia.stderr,
      /ERROR: File big\.bin was not received by jojo: they left the chat/,
    );
  } finally {
    server?.kill("SIGKILL");
    await server?.finish();
    await Deno.remove(dir, { recursive: true });
  }
});
