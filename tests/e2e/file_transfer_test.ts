/**
 * File transfer over a real server and real WebSockets, with real files in
 * temporary folders: what arrives, what is refused, and what is left on disk
 * when things go wrong.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { fileAead } from "../../src/crypto/native_aead.ts";
import { renderSentFile } from "../../src/client/render.ts";
import { FILE_CHUNK_BYTES } from "../../src/protocol/limits.ts";
import {
  settle,
  startTestServer,
  TestClient,
  type TestServer,
} from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

interface FileUser {
  client: TestClient;
  sender: FileSender;
  downloads: string;
  lines: string[];
}

/** `native`: chunks sealed and opened through OpenSSL (as chat connect). */
async function fileUser(
  server: TestServer,
  name: string,
  root: string,
  native = false,
): Promise<FileUser> {
  const client = await TestClient.connect(server, name);
  const downloads = `${root}/${name}-downloads`;
  const lines: string[] = [];
  new FileReceiver(client.client, {
    downloadsDir: downloads,
    maxFileBytes: 1024 ** 3,
    open: false,
    openWith: null,
    // These tests are about the transfer: everyone says yes.
    consent: () => Promise.resolve("accept"),
    print: (line) => lines.push(line),
    fileAead: native ? fileAead : null,
  });
  const sender = new FileSender(client.client, null, native ? fileAead : null);
  return { client, sender, downloads, lines };
}

async function waitForLine(
  user: FileUser,
  pattern: RegExp,
  timeoutMs = WAIT_MS,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = user.lines.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(
    `no line matching ${pattern}; got ${JSON.stringify(user.lines)}`,
  );
}

/** The receiver removes a .part just after it reports the failure. */
async function emptied(dir: string, timeoutMs = WAIT_MS): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let names = await listDir(dir);
  while (names.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    names = await listDir(dir);
  }
  return names;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(
      bytes.subarray(offset, Math.min(size, offset + 65536)),
    );
  }
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-files-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sends bytes under any name, as a hostile or broken client could. */
async function sendRaw(
  user: FileUser,
  target: { to: string } | { group: string },
  name: string,
  bytes: Uint8Array,
  options: { sha256?: string; stopAfter?: number } = {},
): Promise<number> {
  const key = newFileKey();
  const reply = await user.client.client.request({
    t: "file_offer",
    name,
    size: bytes.byteLength,
    ...target,
    ...fileKeyForOffer(key),
  });
  assert.equal(reply.t, "file_ready", JSON.stringify(reply));
  if (reply.t !== "file_ready") return -1;
  const cipher = await FileCipher.create(key, reply.xfer, bytes.byteLength);
  const stop = options.stopAfter ?? bytes.byteLength;
  let index = 0;
  for (let offset = 0; offset < stop; offset += FILE_CHUNK_BYTES) {
    const chunk = bytes.subarray(
      offset,
      Math.min(stop, offset + FILE_CHUNK_BYTES),
    );
    user.client.client.post(
      { t: "file_chunk", xfer: reply.xfer, offset },
      await cipher.seal({ index: index++, offset }, chunk),
      true,
    );
  }
  if (options.stopAfter === undefined) {
    user.client.client.post(
      {
        t: "file_end",
        xfer: reply.xfer,
        // As a sender puts it on the wire: keyed with the file key.
        sha256: options.sha256 ?? await cipher.keyedDigest(sha256(bytes)),
      },
      undefined,
      true,
    );
  }
  return reply.xfer;
}

Deno.test("FileSender sends a text file to one user: saved byte for byte, both sides told in the seed's words", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    const text = "Hello jojo!\nThis is example.txt, with ünïcödé.\n";
    await Deno.writeTextFile(`${root}/example.txt`, text);

    const outcome = await sophia.sender.send(
      { to: "jojo" },
      `${root}/example.txt`,
    );
    assert.deepEqual(renderSentFile(outcome, { to: "jojo" }), [
      "File example.txt sent to jojo successfully.",
    ]);
    await waitForLine(jojo, /^You received file example\.txt from sophia\.$/);
    const saved = await waitForLine(jojo, /^Saved to /);
    assert.equal(saved, `Saved to ${jojo.downloads}/example.txt`);
    assert.equal(
      await Deno.readTextFile(`${jojo.downloads}/example.txt`),
      text,
    );
    assert.equal(
      (await Deno.stat(`${jojo.downloads}/example.txt`)).mode! & 0o111,
      0,
      "never executable",
    );
    await Promise.all([sophia.client.quit(), jojo.client.quit()]);
  });
});

Deno.test("FileSender sends a 50 MiB random binary file to one user and to a group of three, byte for byte", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const others = await Promise.all(
      ["jojo", "nana", "momo"].map((n) => fileUser(server, n, root)),
    );
    const [jojo, nana, momo] = others as [FileUser, FileUser, FileUser];
    const bytes = randomBytes(50 * 1024 * 1024);
    const digest = sha256(bytes);
    await Deno.writeFile(`${root}/big.bin`, bytes);

    const single = await sophia.sender.send({ to: "jojo" }, `${root}/big.bin`);
    assert.equal(single.kind, "finished");
    await waitForLine(jojo, /^You received file big\.bin from sophia\.$/);
    assert.equal(
      sha256(await Deno.readFile(`${jojo.downloads}/big.bin`)),
      digest,
    );

    await sophia.client.client.request({ t: "create", group: "haha" });
    for (const user of others) {
      await user.client.client.request({ t: "join", group: "haha" });
    }
    const group = await sophia.sender.send(
      { group: "haha" },
      `${root}/big.bin`,
    );
    assert.deepEqual(renderSentFile(group, { group: "haha" }), [
      "File big.bin sent to group haha: received by jojo, nana, momo.",
    ]);
    for (const user of [nana, momo]) {
      await waitForLine(
        user,
        /^\[Receive big\.bin from Group haha sophia\]\.$/,
      );
      assert.equal(
        sha256(await Deno.readFile(`${user.downloads}/big.bin`)),
        digest,
      );
    }
    // jojo already had big.bin: the second copy gets a new name, the first is untouched.
    await waitForLine(
      jojo,
      /^\[Receive big \(1\)\.bin from Group haha sophia\]\.$/,
    );
    assert.deepEqual(await listDir(jojo.downloads), ["big (1).bin", "big.bin"]);
    assert.equal(
      sha256(await Deno.readFile(`${jojo.downloads}/big (1).bin`)),
      digest,
    );
    await Promise.all([sophia, ...others].map((u) => u.client.quit()));
  });
});

Deno.test("files sealed through OpenSSL open through WebCrypto and back: byte for byte, one to one and to a group", async () => {
  assert.ok(fileAead, "the tests run with --allow-ffi, where OpenSSL loads");
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const fast = await fileUser(server, "fast", root, true);
    const web = await fileUser(server, "web", root, false);
    const fast2 = await fileUser(server, "fast2", root, true);
    // Several chunks and a short last one.
    const bytes = randomBytes(5 * FILE_CHUNK_BYTES + 1234);
    const digest = sha256(bytes);
    await Deno.writeFile(`${root}/mixed.bin`, bytes);
    const paths = [
      [fast, web, "web"],
      [web, fast, "fast"],
      [fast, fast2, "fast2"],
    ] as const;
    for (const [from, to, name] of paths) {
      const outcome = await from.sender.send(
        { to: name },
        `${root}/mixed.bin`,
      );
      assert.equal(outcome.kind, "finished", JSON.stringify(outcome));
      await waitForLine(to, /^Saved to /);
      to.lines.length = 0;
      const saved = `${to.downloads}/mixed.bin`;
      assert.equal(sha256(await Deno.readFile(saved)), digest);
      await Deno.remove(saved);
    }
    await fast.client.client.request({ t: "create", group: "mix" });
    for (const user of [web, fast2]) {
      await user.client.client.request({ t: "join", group: "mix" });
    }
    const group = await fast.sender.send({ group: "mix" }, `${root}/mixed.bin`);
    assert.equal(group.kind, "finished", JSON.stringify(group));
    for (const user of [web, fast2]) {
      await waitForLine(user, /^Saved to /);
      assert.equal(
        sha256(await Deno.readFile(`${user.downloads}/mixed.bin`)),
        digest,
      );
    }
    await Promise.all([fast, web, fast2].map((u) => u.client.quit()));
  });
});

Deno.test("FileSender seals its chunks through OpenSSL into a few buffers the channel hands back, and the file arrives byte for byte", async () => {
  assert.ok(fileAead, "the tests run with --allow-ffi, where OpenSSL loads");
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sender = await fileUser(server, "sender", root, true);
    const receiver = await fileUser(server, "receiver", root, true);
    // Many chunks, so that the sender outruns the socket now and then and
    // a reused buffer overwritten too early would show in the hash.
    const chunks = 128;
    const bytes = randomBytes((chunks - 1) * FILE_CHUNK_BYTES + 4321);
    const digest = sha256(bytes);
    await Deno.writeFile(`${root}/reused.bin`, bytes);
    const client = sender.client.client;
    const post = client.post.bind(client);
    const buffers = new Set<ArrayBufferLike>();
    let posted = 0;
    client.post = (message, body, bulk, bodyWritten) => {
      if (message.t === "file_chunk" && body !== undefined) {
        buffers.add(body.buffer);
        posted++;
      }
      post(message, body, bulk, bodyWritten);
    };
    const outcome = await sender.sender.send(
      { to: "receiver" },
      `${root}/reused.bin`,
    );
    assert.equal(outcome.kind, "finished", JSON.stringify(outcome));
    await waitForLine(receiver, /^Saved to /);
    assert.equal(
      sha256(await Deno.readFile(`${receiver.downloads}/reused.bin`)),
      digest,
    );
    assert.equal(posted, chunks);
    // At most what the channel may hold at once (4 MiB of chunks) and a
    // few: a fresh buffer per chunk without reuse.
    assert.ok(
      buffers.size <= chunks / 2,
      `${buffers.size} buffers for ${chunks} chunks: not reused`,
    );
    await Promise.all([sender, receiver].map((u) => u.client.quit()));
  });
});

Deno.test("FileReceiver keeps hostile file names inside the downloads folder and harmless", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const mallory = await fileUser(server, "mallory", root);
    const jojo = await fileUser(server, "jojo", root);
    const hostile: [string, string][] = [
      ["../../x", "x"],
      ["/etc/passwd", "passwd"],
      ["C:\\x", "x (1)"],
      ["..\\x", "x (2)"],
      ["\u001b[31mred\u001b[0m.txt", "[31mred[0m.txt"],
      [".bashrc", "bashrc"],
      ["-rf", "rf"],
      ["NUL.txt", "_NUL.txt"],
      ["..", "received-file"],
    ];
    for (const [name] of hostile) {
      await sendRaw(
        mallory,
        { to: "jojo" },
        name,
        new TextEncoder().encode(`payload of ${JSON.stringify(name)}`),
      );
    }
    const long = "a".repeat(300) + ".txt";
    await sendRaw(
      mallory,
      { to: "jojo" },
      long,
      new TextEncoder().encode("long"),
    );
    await settle(mallory.client, jojo.client);
    const deadline = Date.now() + WAIT_MS;
    while (
      jojo.lines.filter((l) => l.startsWith("Saved to ")).length <
        hostile.length + 1
    ) {
      assert.ok(Date.now() < deadline, JSON.stringify(jojo.lines));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const saved = await listDir(jojo.downloads);
    // Transfers finish in any order, so which one became "x (1)" is not fixed.
    assert.deepEqual(
      saved.filter((n) => !n.startsWith("aaaa")),
      hostile.map(([, expected]) => expected).sort(),
    );
    const longSaved = saved.find((n) => n.startsWith("aaaa"));
    assert.ok(
      longSaved !== undefined && longSaved.endsWith(".txt") &&
        new TextEncoder().encode(longSaved).byteLength <= 255,
    );
    // Nothing escaped the folder, and no printed line carries a raw escape.
    assert.deepEqual(await listDir(root), ["jojo-downloads"]);
    assert.ok(
      jojo.lines.every((l) => !l.includes("\u001b")),
      JSON.stringify(jojo.lines),
    );
    await Promise.all([mallory.client.quit(), jojo.client.quit()]);
  });
});

Deno.test("a transfer cut off mid-way leaves no file and no .part, and both sides hear why", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    const bytes = randomBytes(2 * 1024 * 1024);
    await sendRaw(sophia, { to: "jojo" }, "cut.bin", bytes, {
      stopAfter: 1024 * 1024,
    });
    await settle(sophia.client, jojo.client);
    sophia.client.client.abort();
    const line = await waitForLine(
      jojo,
      /^ERROR: File cut\.bin from sophia was not received: sophia disconnected$/,
    );
    assert.ok(line);
    assert.deepEqual(await emptied(jojo.downloads), []);
    await jojo.client.quit();
  });
});

Deno.test("a checksum mismatch is reported to both sides and leaves no file under the final name", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    const bytes = randomBytes(300_000);
    const xfer = await sendRaw(sophia, { to: "jojo" }, "report.pdf", bytes, {
      sha256: "0".repeat(64),
    });
    const result = await sophia.client.waitFor((m) =>
      m.message.t === "file_result" && m.message.xfer === xfer
    );
    assert.ok(result.message.t === "file_result" && !result.message.ok);
    assert.match(
      result.message.t === "file_result" ? result.message.reason : "",
      /checksum/i,
    );
    await waitForLine(
      jojo,
      /^ERROR: File report\.pdf from sophia was not received: .*checksum/i,
    );
    assert.deepEqual(await emptied(jojo.downloads), []);
    await Promise.all([sophia.client.quit(), jojo.client.quit()]);
  });
});

Deno.test("the server refuses a file over its size limit, and cuts off a sender that sends more than it declared", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer({
      limits: { maxFileBytes: 100_000 },
    });
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    await Deno.writeFile(`${root}/big.bin`, randomBytes(200_000));
    const refused = await sophia.sender.send({ to: "jojo" }, `${root}/big.bin`);
    assert.equal(refused.kind, "refused");
    assert.match(
      refused.kind === "refused" ? refused.text : "",
      /^ERROR: The file is too large \(200000 bytes; this server accepts at most 100000\)$/,
    );

    // Declares 1,000 bytes, sends 70,000.
    const reply = await sophia.client.client.request({
      t: "file_offer",
      name: "liar.bin",
      size: 1000,
      to: "jojo",
      ...fileKeyForOffer(newFileKey()),
    });
    assert.equal(reply.t, "file_ready");
    if (reply.t !== "file_ready") return;
    sophia.client.client.post(
      { t: "file_chunk", xfer: reply.xfer, offset: 0 },
      randomBytes(70_000),
      true,
    );
    const cancel = await sophia.client.waitFor((m) =>
      m.message.t === "file_cancel"
    );
    assert.match(
      cancel.message.t === "file_cancel" ? cancel.message.reason : "",
      /more bytes than the declared size/,
    );
    await waitForLine(
      jojo,
      /liar\.bin from sophia was not received: more bytes than the declared size/,
    );
    assert.deepEqual(await emptied(jojo.downloads), []);
    await Promise.all([sophia.client.quit(), jojo.client.quit()]);
  });
});

Deno.test("FileSender refuses missing files, folders, unknown users and groups it is not a member of", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    await Deno.writeTextFile(`${root}/a.txt`, "a");
    await jojo.client.client.request({ t: "create", group: "secret" });
    const cases: [{ to: string } | { group: string }, string, RegExp][] = [
      [
        { to: "jojo" },
        `${root}/missing.txt`,
        /^ERROR: File ".*missing\.txt" not found$/,
      ],
      [{ to: "jojo" }, root, /^ERROR: ".*" is a folder; send a file$/],
      [
        { to: "nobody" },
        `${root}/a.txt`,
        /^ERROR: User 'nobody' is not online\.$/,
      ],
      [
        { group: "secret" },
        `${root}/a.txt`,
        /^ERROR: You are not a member of group 'secret'\./,
      ],
      [
        { group: "nogroup" },
        `${root}/a.txt`,
        /^ERROR: Group 'nogroup' does not exist\.$/,
      ],
    ];
    for (const [target, path, expected] of cases) {
      const outcome = await sophia.sender.send(target, path);
      assert.equal(outcome.kind, "refused");
      assert.match(outcome.kind === "refused" ? outcome.text : "", expected);
    }
    assert.deepEqual(await listDir(jojo.downloads), []);
    await Promise.all([sophia.client.quit(), jojo.client.quit()]);
  });
});

Deno.test("chat keeps flowing to and from everyone while a large file is in transit", async () => {
  await withTempDir(async (root) => {
    await using server = await startTestServer();
    const sophia = await fileUser(server, "sophia", root);
    const jojo = await fileUser(server, "jojo", root);
    const nana = await fileUser(server, "nana", root);
    await Deno.writeFile(`${root}/big.bin`, randomBytes(40 * 1024 * 1024));
    let finished = false;
    const sending = sophia.sender.send({ to: "jojo" }, `${root}/big.bin`).then(
      (outcome) => {
        finished = true;
        return outcome;
      },
    );
    // Wait until the file is flowing, then chat in every direction.
    while (!(await listDir(jojo.downloads)).some((n) => n.endsWith(".part"))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await nana.client.client.msg("jojo", "to jojo during the transfer");
    await jojo.client.client.msg("sophia", "to sophia during the transfer");
    await sophia.client.client.say("broadcast during the transfer");
    await jojo.client.waitFor((m) => m.text === "to jojo during the transfer");
    await sophia.client.waitFor((m) =>
      m.text === "to sophia during the transfer"
    );
    await jojo.client.waitFor((m) =>
      m.text === "broadcast during the transfer"
    );
    await nana.client.waitFor((m) =>
      m.text === "broadcast during the transfer"
    );
    assert.equal(finished, false, "the messages overtook the file");
    assert.equal((await sending).kind, "finished");
    await Promise.all([sophia, jojo, nana].map((u) => u.client.quit()));
  });
});
